/** push.v1.PusherService/Push: labelled series of raw pprof samples, as Grafana Alloy sends them. */
import type { Msg } from '../formats/protomsg.ts'
import * as M from './messages.ts'
import type { Method } from './connect.ts'
import type { Context } from './context.ts'

export function pushMethods(ctx: Context): Method[] {
  return [
    {
      path: '/push.v1.PusherService/Push',
      input: M.PushRequest,
      output: M.PushResponse,
      async run(req, m) {
        const series = (m.series as Msg[]).map((s) => ({
          labels: (s.labels as Msg[]).map((l) => [String(l.name), String(l.value)] as [string, string]),
          samples: (s.samples as Msg[]).map((x) => x.rawProfile as Uint8Array),
        }))
        const written = await ctx.ingest.push(req.tenant, series)
        ctx.metrics.ingested(req.tenant, written, 0)
        return {}
      },
    },
  ]
}
