/** push.v1.PusherService/Push: labelled series of raw pprof samples, as Grafana Alloy sends them. */
import type { ServiceImpl } from '@connectrpc/connect'
import type { Context } from '../context.ts'
import type { PusherService } from './gen/push/v1/push_pb.ts'
import { tenantOf } from './tenant.ts'

export function pushService(ctx: Context): Partial<ServiceImpl<typeof PusherService>> {
  return {
    async push(m, call) {
      const tenant = tenantOf(call)
      // Annotations sent by clients are dropped, as Pyroscope does (it sets its own).
      const series = m.series.map((s) => ({
        labels: s.labels.map((l) => [l.name, l.value] as [string, string]),
        samples: s.samples.map((x) => x.rawProfile),
      }))
      const written = await ctx.ingest.push(tenant, series)
      ctx.metrics.ingested(tenant, written, 0)
      return {}
    },
  }
}
