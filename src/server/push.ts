/** push.v1.PusherService/Push: labelled series of raw pprof samples, as Grafana Alloy sends them. */
import { KilnError } from '../model/errors.ts'
import type { Msg } from '../formats/protomsg.ts'
import { decodePprof } from '../formats/pprof.ts'
import type { SeriesWrite } from '../store/index.ts'
import * as M from './messages.ts'
import type { Method } from './connect.ts'
import type { Context } from './context.ts'
import { pprofWrites } from './convert.ts'
import { writeSeries } from './ingest.ts'

export function pushMethods(ctx: Context): Method[] {
  return [
    {
      path: '/push.v1.PusherService/Push',
      input: M.PushRequest,
      output: M.PushResponse,
      async run(req, m) {
        const writes: SeriesWrite[] = []
        const now = Date.now()
        for (const [i, s] of (m.series as Msg[]).entries()) {
          const pairs = (s.labels as Msg[]).map((l) => [String(l.name), String(l.value)] as [string, string])
          const metric = pairs.find(([k]) => k === '__name__')?.[1]
          const service = pairs.find(([k]) => k === 'service_name')?.[1] ?? 'unknown_service'
          // Private labels (__name__, __delta__, …) are the server's to set.
          const labels = pairs.filter(([k]) => !k.startsWith('__'))
          for (const [j, sample] of (s.samples as Msg[]).entries()) {
            const raw = sample.rawProfile as Uint8Array
            if (!raw.length) throw new KilnError('KILN_BAD_PROFILE', `series ${i}, sample ${j}: raw_profile is empty`)
            let profile
            try {
              profile = decodePprof(raw, { maxBytes: ctx.config.maxDecompressedBytes, limits: ctx.limits })
            } catch (e) {
              if (e instanceof KilnError) throw new KilnError(e.code, `series ${i}, sample ${j}: ${e.message}`)
              throw e
            }
            const meta = { app: service, labels, fromMs: now - 15_000, untilMs: now, sampleRate: 100, labelLimits: ctx.labelLimits }
            writes.push(...pprofWrites(profile, meta, metric ? { metricName: metric } : {}))
          }
        }
        await writeSeries(ctx, req.tenant, writes)
        ctx.metrics.ingested(writes.length, 0)
        return {}
      },
    },
  ]
}
