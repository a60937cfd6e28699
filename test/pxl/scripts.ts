/** PxL scripts the tests run: the seed document's examples (as written there) and a script in the style of Pixie's px/http_request_stats. */
import { pxlExamples, seedDashboard, seedScript } from '../../src/model/pxl-examples.ts'

const example = (name: string) => pxlExamples.find((e) => e.name === name)!

export const httpSummary = seedScript(example('examples/http_summary'))

export const slowQueries = seedScript(example('examples/slow_queries'))

export const serviceGraph = seedScript(example('examples/service_graph'))

export const podTraffic = seedScript(example('examples/network_traffic'))

export const dashboard = seedDashboard

/**
 * A script written for these tests in the style of Pixie's px/http_request_stats (not a copy of
 * it): the same language features — px.quantiles plucked and floored into px.DurationNanos,
 * px.Percent, a windowed request rate through px.bin, a merge with suffixes, column names that need
 * df['…'] — and the same output columns.
 */
export const httpRequestStats = `import px

# Every HTTP request of the last half hour, with its service and whether it failed.
reqs = px.DataFrame(table='http_events', start_time='-30m')
reqs.service = reqs.ctx['service']
reqs.failed = reqs.resp_status >= 400
bucket = px.DurationNanos(px.seconds(5))
reqs.bucket = px.bin(reqs.time_, bucket)

# Latency percentiles, error share and count per service.
per_svc = reqs.groupby('service').agg(
    lat=('latency', px.quantiles),
    errors=('failed', px.mean),
    total=('resp_status', px.count),
)
per_svc.errors = px.Percent(per_svc.errors)
per_svc.p50 = px.DurationNanos(px.floor(px.pluck_float64(per_svc.lat, 'p50')))
per_svc.p90 = px.DurationNanos(px.floor(px.pluck_float64(per_svc.lat, 'p90')))
per_svc.p99 = px.DurationNanos(px.floor(px.pluck_float64(per_svc.lat, 'p99')))

# Requests per 5 s bucket, averaged per service.
per_bucket = reqs.groupby(['service', 'bucket']).agg(n=('resp_status', px.count))
rate = per_bucket.groupby('service').agg(mean_per_bucket=('n', px.mean))

out = per_svc.merge(rate, how='inner', left_on=['service'], right_on=['service'], suffixes=['', '_r'])
out['latency(p50)'] = out.p50
out['latency(p90)'] = out.p90
out['latency(p99)'] = out.p99
out['throughput'] = out.mean_per_bucket / bucket
out['throughput total'] = out.total
out = out[['service', 'latency(p50)', 'latency(p90)', 'latency(p99)', 'errors', 'throughput', 'throughput total']]
out = out[out.service != '']
px.display(out)
`
