/** PxL scripts the tests run: the seed document's examples (as written there) and Pixie's px/http_request_stats. */

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

/** Pixie's px/http_request_stats, unchanged but for a start time that covers the recording. */
export const httpRequestStats = `import px

t1 = px.DataFrame(table='http_events', start_time='-30m')

t1.service = t1.ctx['service']
t1.failure = t1.resp_status >= 400
window = px.DurationNanos(px.seconds(5))
t1.range_group = px.bin(t1.time_, window)

quantiles_agg = t1.groupby('service').agg(
    latency_quantiles=('latency', px.quantiles),
    errors=('failure', px.mean),
    throughput_total=('resp_status', px.count),
)
quantiles_agg.errors = px.Percent(quantiles_agg.errors)

quantiles_agg.latency_p50 = px.DurationNanos(px.floor(
    px.pluck_float64(quantiles_agg.latency_quantiles, 'p50')))
quantiles_agg.latency_p90 = px.DurationNanos(px.floor(
    px.pluck_float64(quantiles_agg.latency_quantiles, 'p90')))
quantiles_agg.latency_p99 = px.DurationNanos(px.floor(
    px.pluck_float64(quantiles_agg.latency_quantiles, 'p99')))
quantiles_table = quantiles_agg[['service', 'latency_p50',
                                 'latency_p90', 'latency_p99', 'errors', 'throughput_total']]

# The Range aggregate to calcualte the requests per second.
range_agg = t1.groupby(['service', 'range_group']).agg(
    requests_per_window=('resp_status', px.count),
)

rps_table = range_agg.groupby('service').agg(
    request_throughput=('requests_per_window', px.mean))

joined_table = quantiles_table.merge(rps_table,
                                     how='inner',
                                     left_on=['service'],
                                     right_on=['service'],
                                     suffixes=['', '_x'])

joined_table['latency(p50)'] = joined_table.latency_p50
joined_table['latency(p90)'] = joined_table.latency_p90
joined_table['latency(p99)'] = joined_table.latency_p99
joined_table['throughput'] = joined_table.request_throughput / window
joined_table['throughput total'] = joined_table.throughput_total

joined_table = joined_table[[
    'service',
    'latency(p50)',
    'latency(p90)',
    'latency(p99)',
    'errors',
    'throughput',
    'throughput total']]
joined_table = joined_table[joined_table.service != '']
px.display(joined_table)
`
