/**
 * The seed document's four PxL examples (HTTP p99 and error rate, slow MySQL queries, the service
 * graph, pod traffic) and its dashboard one-liner: one copy, for the Live view (English titles) and
 * for the tests that run them as the seed wrote them (its own title comments). Pure data.
 */
export interface PxlExample {
  name: string
  description: string
  /** The first comment line in English, as the Live view shows it. */
  title: string
  /** The first comment line as the seed wrote it. */
  seedTitle: string
  /** The script after its title line. */
  body: string
}

export const pxlExamples: readonly PxlExample[] = [
  {
    name: 'examples/http_summary',
    description: 'HTTP p99 latency, error rate and requests per service and endpoint',
    title: 'HTTP request latency p99',
    seedTitle: 'HTTP请求延迟P99',
    body: `import px

df = px.DataFrame('http_events')
df = df[df.ctx['namespace'] == 'production']
df = df.groupby(['service', 'endpoint']).agg(
    latency_p99=('latency_ms', px.quantiles(0.99)),
    error_rate=('resp_status', lambda x: (x >= 400).mean()),
    rps=('time_', px.count)
)
px.display(df, 'http_summary')
`,
  },
  {
    name: 'examples/slow_queries',
    description: 'MySQL queries slower than 100 ms',
    title: 'Slow MySQL queries, > 100 ms',
    seedTitle: 'MySQL慢查询(>100ms)',
    body: `import px

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
`,
  },
  {
    name: 'examples/service_graph',
    description: 'Which service calls which: requests, errors and latency per edge',
    title: 'Service call graph',
    seedTitle: '服务调用拓扑图',
    body: `import px

df = px.DataFrame('http_events')
df = df[df.ctx['namespace'] == 'production']
df = df.groupby(['source_service', 'dest_service']).agg(
    request_count=('time_', px.count),
    error_count=('resp_status', lambda x: (x >= 400).sum()),
    avg_latency=('latency_ms', px.mean)
)
px.display(df, 'service_graph')
`,
  },
  {
    name: 'examples/network_traffic',
    description: 'Bytes sent and received per pod and remote address',
    title: 'Pod traffic in and out',
    seedTitle: 'Pod流入/流出流量',
    body: `import px

df = px.DataFrame('conn_stats')
df = df[df.ctx['namespace'] == 'production']
df = df.groupby(['pod', 'remote_addr']).agg(
    bytes_sent=('bytes_sent', px.sum),
    bytes_recv=('bytes_recv', px.sum),
    conn_count=('conn_open', px.count)
)
px.display(df, 'network_traffic')
`,
  },
]

/** An example as the Live view offers it. */
export const exampleScript = (e: PxlExample): string => `# ${e.title}\n${e.body}`
/** An example exactly as the seed wrote it. */
export const seedScript = (e: PxlExample): string => `# ${e.seedTitle}\n${e.body}`

/** The seed's dashboard panel: a `pxl_script` on one line. */
export const seedDashboard = "import px; df = px.DataFrame('http_events'); px.display(df.groupby('time_').agg(rps=('time_', px.count)))"
