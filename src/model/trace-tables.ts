/**
 * The request-tracing tables: Pixie's names, columns and units (stirling's `*_table.h`), plus the
 * process metadata Kiln stores on every row and two tables of its own (`block_io_events`,
 * `fs_slow_events`). One declaration read by the store (DDL), the ingest API (validation), the
 * PxL compiler (names, types, errors that suggest the nearest column) and the UI (completion).
 */

/** Column types as PxL names them; `ch` is the ClickHouse type the store uses. */
export type PxType = 'TIME64NS' | 'UINT128' | 'INT64' | 'FLOAT64' | 'STRING' | 'BOOLEAN'

export interface TraceColumn {
  name: string
  type: PxType
  desc: string
}

export interface TraceTable {
  name: string
  desc: string
  columns: TraceColumn[]
  /** Read-only: a view over Kiln's profile tables, not written by the ingest API. */
  view?: true
}

const col = (name: string, type: PxType, desc: string): TraceColumn => ({ name, type, desc })

const head = [
  col('time_', 'TIME64NS', 'time of the event'),
  col('upid', 'UINT128', 'unique process id (agent id, pid, process start time)'),
]

const endpoints = [
  col('remote_addr', 'STRING', 'IP address of the remote endpoint'),
  col('remote_port', 'INT64', 'port of the remote endpoint'),
  col('local_addr', 'STRING', 'IP address of the local endpoint'),
  col('local_port', 'INT64', 'port of the local endpoint'),
  col('trace_role', 'INT64', 'role of the process that owns the connection: 1 client, 2 server'),
  col('encrypted', 'BOOLEAN', 'whether the traffic was seen through TLS (uprobes on SSL_read/SSL_write)'),
]

/**
 * Process metadata, on every row (Pixie finds it from `upid` at query time; Kiln stores it, since
 * LowCardinality columns cost next to nothing and queries need no join). `df.ctx[...]` reads these.
 */
export const metadataColumns: TraceColumn[] = [
  col('pid', 'INT64', 'process id on the host'),
  col('cmdline', 'STRING', 'command line of the process'),
  col('container_id', 'STRING', 'container id from the cgroup path (empty outside containers)'),
  col('namespace', 'STRING', 'Kubernetes namespace (empty outside Kubernetes)'),
  col('pod', 'STRING', 'Kubernetes pod name, without the namespace'),
  col('container', 'STRING', 'Kubernetes container name'),
  col('service', 'STRING', 'Kubernetes service name; outside Kubernetes, the process name (comm)'),
  col('node', 'STRING', 'host (node) name'),
]

const latency = col('latency', 'INT64', 'request-response latency in nanoseconds')

const tables: TraceTable[] = [
  {
    name: 'http_events',
    desc: 'HTTP/1.x and HTTP/2 (gRPC included) requests with their responses',
    columns: [
      ...head,
      ...endpoints,
      col('major_version', 'INT64', 'HTTP major version: 1 or 2'),
      col('minor_version', 'INT64', 'HTTP minor version: 0 or 1 for HTTP/1, 0 for HTTP/2'),
      col('content_type', 'INT64', 'payload type: 0 unknown, 1 JSON, 2 gRPC (protobuf)'),
      col('req_headers', 'STRING', 'request headers as a JSON object'),
      col('req_method', 'STRING', 'request method (GET, POST, …)'),
      col('req_path', 'STRING', 'request path, with the query string'),
      col('req_body', 'STRING', 'request body (truncated)'),
      col('req_body_size', 'INT64', 'request body size in bytes, before truncation'),
      col('resp_headers', 'STRING', 'response headers as a JSON object'),
      col('resp_status', 'INT64', 'response status code (gRPC: the HTTP status; grpc-status is in resp_headers)'),
      col('resp_message', 'STRING', 'response status text (OK, Not Found, …)'),
      col('resp_body', 'STRING', 'response body (truncated)'),
      col('resp_body_size', 'INT64', 'response body size in bytes, before truncation'),
      latency,
    ],
  },
  {
    name: 'dns_events',
    desc: 'DNS queries with their answers',
    columns: [
      ...head,
      ...endpoints,
      col('req_header', 'STRING', 'query header as JSON (txid, qr, opcode, flags, counts)'),
      col('req_body', 'STRING', 'queries as JSON ({"queries":[{"name","type"}]})'),
      col('resp_header', 'STRING', 'answer header as JSON (txid, rcode, flags, counts)'),
      col('resp_body', 'STRING', 'answers as JSON ({"answers":[{"name","type","addr"|"cname"…}]})'),
      latency,
    ],
  },
  {
    name: 'mysql_events',
    desc: 'MySQL / MariaDB commands with their responses',
    columns: [
      ...head,
      ...endpoints,
      col('req_cmd', 'INT64', 'command byte (3 COM_QUERY, 22 COM_STMT_PREPARE, 23 COM_STMT_EXECUTE, …)'),
      col('req_body', 'STRING', 'statement text (for EXECUTE: the prepared statement with its parameters)'),
      col('resp_status', 'INT64', 'response: 0 none, 1 OK (or rows), 2 error'),
      col('resp_body', 'STRING', 'response summary (rows, affected rows, error code and message)'),
      latency,
    ],
  },
  {
    name: 'pgsql_events',
    desc: 'PostgreSQL queries (simple and extended protocol) with their responses',
    columns: [
      ...head,
      ...endpoints,
      col('req_cmd', 'STRING', 'request message type (Query, Parse, Bind, Execute, …)'),
      col('req', 'STRING', 'request text (statement, parameters)'),
      col('resp', 'STRING', 'response summary (command tag, rows, error)'),
      latency,
    ],
  },
  {
    name: 'redis_events',
    desc: 'Redis commands with their replies',
    columns: [
      ...head,
      ...endpoints,
      col('req_cmd', 'STRING', 'command name (GET, SET, …)'),
      col('req_args', 'STRING', 'command arguments as a JSON array'),
      col('resp', 'STRING', 'reply in RESP notation'),
      latency,
    ],
  },
  {
    name: 'conn_stats',
    desc: 'per-process connection counters by remote endpoint (cumulative since the agent started)',
    columns: [
      ...head,
      col('remote_addr', 'STRING', 'IP address of the remote endpoint'),
      col('remote_port', 'INT64', 'port of the remote endpoint'),
      col('trace_role', 'INT64', 'role of the process: 1 client, 2 server'),
      col('addr_family', 'INT64', 'socket address family (2 AF_INET, 10 AF_INET6)'),
      col('protocol', 'INT64', 'protocol seen on the connections (1 HTTP, 2 HTTP2, 3 MySQL, 5 PGSQL, 6 DNS, 7 Redis, 0 unknown)'),
      col('ssl', 'BOOLEAN', 'whether TLS was seen on the connections'),
      col('conn_open', 'INT64', 'connections opened since tracing began'),
      col('conn_close', 'INT64', 'connections closed since tracing began'),
      col('conn_active', 'INT64', 'connections open now'),
      col('bytes_sent', 'INT64', 'bytes sent to the remote endpoint since tracing began'),
      col('bytes_recv', 'INT64', 'bytes received from the remote endpoint since tracing began'),
    ],
  },
  {
    name: 'process_stats',
    desc: 'per-process CPU, memory and I/O counters (cumulative, from /proc)',
    columns: [
      ...head,
      col('major_faults', 'INT64', 'major page faults'),
      col('minor_faults', 'INT64', 'minor page faults'),
      col('cpu_utime_ns', 'INT64', 'time in user space, ns'),
      col('cpu_ktime_ns', 'INT64', 'time in the kernel, ns'),
      col('num_threads', 'INT64', 'threads'),
      col('vsize_bytes', 'INT64', 'virtual memory size, bytes'),
      col('rss_bytes', 'INT64', 'resident memory, bytes'),
      col('rchar_bytes', 'INT64', 'bytes read (all reads)'),
      col('wchar_bytes', 'INT64', 'bytes written (all writes)'),
      col('read_bytes', 'INT64', 'bytes read from storage'),
      col('write_bytes', 'INT64', 'bytes written to storage'),
    ],
  },
  {
    name: 'network_stats',
    desc: 'per-pod (outside Kubernetes: per network interface) network counters, cumulative',
    columns: [
      col('time_', 'TIME64NS', 'time of the reading'),
      col('pod_id', 'STRING', 'pod id (outside Kubernetes: the interface name)'),
      col('rx_bytes', 'INT64', 'bytes received'),
      col('rx_packets', 'INT64', 'packets received'),
      col('rx_errors', 'INT64', 'receive errors'),
      col('rx_drops', 'INT64', 'received packets dropped'),
      col('tx_bytes', 'INT64', 'bytes sent'),
      col('tx_packets', 'INT64', 'packets sent'),
      col('tx_errors', 'INT64', 'send errors'),
      col('tx_drops', 'INT64', 'packets dropped on send'),
    ],
  },
  {
    name: 'block_io_events',
    desc: 'block device requests by process (Inspektor Gadget top block-io)',
    columns: [
      ...head,
      col('major', 'INT64', 'device major number'),
      col('minor', 'INT64', 'device minor number'),
      col('op', 'STRING', 'R (read) or W (write), from the request flags'),
      col('bytes', 'INT64', 'request size in bytes'),
      col('sector', 'INT64', 'first sector'),
      latency,
    ],
  },
  {
    name: 'fs_slow_events',
    desc: 'file-system operations slower than the agent threshold (Inspektor Gadget trace fsslower)',
    columns: [
      ...head,
      col('op', 'STRING', 'R read, W write, O open, F fsync'),
      col('bytes', 'INT64', 'bytes asked for (R/W)'),
      col('offset', 'INT64', 'file offset (R/W), -1 when unknown'),
      col('file', 'STRING', 'file name'),
      latency,
    ],
  },
  {
    name: 'stack_traces.beta',
    desc: "Kiln's CPU profiles as Pixie's profiler table: one row per stack per stored profile (read-only)",
    view: true,
    columns: [
      ...head,
      col('stack_trace_id', 'INT64', 'id of the stack (its hash)'),
      col('stack_trace', 'STRING', 'the stack, folded: root first, frames joined by ";"'),
      col('count', 'INT64', "the stack's value in the profile: CPU nanoseconds for process_cpu profiles"),
      col('profile_type', 'STRING', "the profile's type (Kiln: process_cpu:cpu:nanoseconds:cpu:nanoseconds, …)"),
    ],
  },
]

/** Every tracing table; process metadata columns are appended to all but `network_stats`. */
export const traceTables: readonly TraceTable[] = tables.map((t) =>
  t.name === 'network_stats' ? t : { ...t, columns: [...t.columns, ...metadataColumns] },
)

export const traceTableNames = traceTables.map((t) => t.name)

export function traceTable(name: string): TraceTable | undefined {
  return traceTables.find((t) => t.name === name)
}

/** Pixie's `trace_role` values. */
export const TraceRole = { unknown: 0, client: 1, server: 2 } as const

/** Pixie's `traffic_protocol_t` values, as `conn_stats.protocol` stores them. */
export const TrafficProtocol = { unknown: 0, http: 1, http2: 2, mysql: 3, cql: 4, pgsql: 5, dns: 6, redis: 7 } as const

/** A `upid` as Pixie builds it: high 64 bits asid << 32 | pid, low 64 bits the process start time (clock ticks). */
export function makeUpid(asid: number, pid: number, startTicks: bigint): bigint {
  return (((BigInt(asid >>> 0) << 32n) | BigInt(pid >>> 0)) << 64n) | (startTicks & 0xffffffffffffffffn)
}
