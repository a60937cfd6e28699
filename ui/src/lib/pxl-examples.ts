/**
 * Scripts the Live view offers before (and beside) the server's script library: the seed's four
 * Pixie examples as written, comments in English (Kiln runs their pandas forms and friendlier columns, issue 10 §1).
 */
export interface PxlScript {
  name: string
  description: string
  script: string
  /** vis.json, as text or parsed. */
  vis?: unknown
}

export const examples: readonly PxlScript[] = [
  {
    name: 'examples/http_summary',
    description: 'HTTP p99 latency, error rate and requests per service and endpoint',
    script: `# HTTP request latency p99
import px

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
    script: `# Slow MySQL queries, > 100 ms
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
`,
  },
  {
    name: 'examples/service_graph',
    description: 'Which service calls which: requests, errors and latency per edge',
    script: `# Service call graph
import px

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
    script: `# Pod traffic in and out
import px

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
