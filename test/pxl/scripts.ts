/** PxL scripts the tests run: the seed document's examples (as written there) and a script in the style of Pixie's px/http_request_stats. */

export const httpSummary = `# HTTP请求延迟P99
import px

df = px.DataFrame('http_events')
df = df[df.ctx['namespace'] == 'production']
df = df.groupby(['service', 'endpoint']).agg(
    latency_p99=('latency_ms', px.quantiles(0.99)),
    error_rate=('resp_status', lambda x: (x >= 400).mean()),
    rps=('time_', px.count)
)
px.display(df, 'http_summary')
`

export const slowQueries = `# MySQL慢查询(>100ms)
import px

df = px.DataFrame('mysql_events')
df = df[df.latency_ms > 100]
df = df[df.ctx['namespace'] == 'production']
df = df.groupby('query_text').agg(
    count=('query_text', px.count),
    avg_latency=('latency_ms', px.mean),
    max_latency=('latency_ms', px.max)
)
df = df.sort_values('max_latency', ascending=False)
px.display(df.head(10), 'slow_queries')
`

export const serviceGraph = `# 服务调用拓扑图
import px

df = px.DataFrame('http_events')
df = df[df.ctx['namespace'] == 'production']
df = df.groupby(['source_service', 'dest_service']).agg(
    request_count=('time_', px.count),
    error_count=('resp_status', lambda x: (x >= 400).sum()),
    avg_latency=('latency_ms', px.mean)
)
px.display(df, 'service_graph')
`

export const podTraffic = `# Pod流入/流出流量
import px

df = px.DataFrame('conn_stats')
df = df[df.ctx['namespace'] == 'production']
df = df.groupby(['pod', 'remote_addr']).agg(
    bytes_sent=('bytes_sent', px.sum),
    bytes_recv=('bytes_recv', px.sum),
    conn_count=('conn_open', px.count)
)
px.display(df, 'network_traffic')
`

export const dashboard = "import px; df = px.DataFrame('http_events'); px.display(df.groupby('time_').agg(rps=('time_', px.count)))"

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
