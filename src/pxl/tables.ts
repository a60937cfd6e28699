/**
 * What a `px.DataFrame(table)` reads: the stored columns of a tracing table (model/trace-tables.ts)
 * as PxL sees them, the documented derived columns, and the process metadata behind `df.ctx[...]`.
 * Each column is a SQL expression over the stored row.
 */
import { traceTable, traceTableNames } from '../model/trace-tables.ts'
import type { ColDef, ColType, SemType } from './types.ts'

export interface SourceCol extends ColDef {
  sql: string
  doc?: string
}

export interface SourceSchema {
  cols: SourceCol[]
  hidden: SourceCol[]
}

const q = (name: string) => `\`${name}\``
// Pixie's ctx['pod'] and ctx['service'] are `namespace/name`; outside Kubernetes (no namespace), the name alone.
const nsName = (col: string) => `if(${q('namespace')} = '', ${q(col)}, concat(${q('namespace')}, '/', ${q(col)}))`
const latencyMs = {
  name: 'latency_ms',
  type: 'FLOAT64' as const,
  sem: 'ST_NONE' as const,
  sql: `divide(${q('latency')}, 1000000)`,
  doc: 'latency in milliseconds (latency / 1e6)',
}

/** `df.ctx[key]`: Pixie's keys (and their aliases) → the metadata column Kiln stores. */
export const ctxKeys: Record<string, string> = {
  namespace: 'namespace',
  service: 'service',
  service_name: 'service',
  pod: 'pod',
  pod_name: 'pod',
  node: 'node',
  node_name: 'node',
  hostname: 'node',
  container: 'container',
  container_name: 'container',
  container_id: 'container_id',
  pid: 'pid',
  cmdline: 'cmdline',
  cmd: 'cmdline',
  upid: 'upid',
}

const metaSem: Record<string, SemType> = {
  namespace: 'ST_NAMESPACE_NAME',
  service: 'ST_SERVICE_NAME',
  pod: 'ST_POD_NAME',
  node: 'ST_NODE_NAME',
  container: 'ST_CONTAINER_NAME',
  upid: 'ST_UPID',
}
const metaSql: Record<string, string> = { pod: nsName('pod'), service: nsName('service') }

/**
 * Address → service, from the server-side rows of http_events (a scalar subquery, computed once
 * per query and only when a script reads source_service or dest_service). `$db` is replaced by
 * the compiler; the tenant is the query's.
 */
const addrMap = `(SELECT tuple(groupArray(toString(a)), groupArray(s)) FROM (SELECT ${q('local_addr')} AS a, any(${nsName('service')}) AS s FROM $db.http_events WHERE tenant = {tenant:String} AND ${q('trace_role')} = 2 AND ${q('local_addr')} != '' GROUP BY a))`
const peer = `transform(toString(${q('remote_addr')}), tupleElement(${addrMap}, 1), tupleElement(${addrMap}, 2), toString(${q('remote_addr')}))`

/** Derived columns by table: friendlier names the seed's scripts use, documented in docs/pxl.md. */
const derived: Record<string, SourceCol[]> = {
  http_events: [
    {
      name: 'endpoint',
      type: 'STRING',
      sem: 'ST_NONE',
      sql: `if(position(${q('req_path')}, '?') > 0, substring(${q('req_path')}, 1, position(${q('req_path')}, '?') - 1), ${q('req_path')})`,
      doc: 'req_path without its query string',
    },
    latencyMs,
    // The process that saw the request is one end; the other is its remote address, named by the
    // service that answered requests on that address (server-side rows' local_addr), if any did.
    {
      name: 'source_service',
      type: 'STRING',
      sem: 'ST_SERVICE_NAME',
      sql: `if(${q('trace_role')} = 1, ${nsName('service')}, ${peer})`,
      doc: 'client side: the tracing process; server side: the service seen serving on the remote address, else the address',
    },
    {
      name: 'dest_service',
      type: 'STRING',
      sem: 'ST_SERVICE_NAME',
      sql: `if(${q('trace_role')} = 1, ${peer}, ${nsName('service')})`,
      doc: 'server side: the tracing process; client side: the service seen serving on the remote address, else the address',
    },
  ],
  mysql_events: [
    { name: 'query_text', type: 'STRING', sem: 'ST_NONE', sql: q('req_body'), doc: 'the statement text (req_body)' },
    latencyMs,
  ],
  pgsql_events: [{ name: 'query_text', type: 'STRING', sem: 'ST_NONE', sql: q('req'), doc: 'the statement text (req)' }, latencyMs],
  redis_events: [latencyMs],
  dns_events: [latencyMs],
  block_io_events: [latencyMs],
  fs_slow_events: [latencyMs],
}

const columnSem: Record<string, SemType> = {
  latency: 'ST_DURATION_NS',
  resp_status: 'ST_HTTP_RESP_STATUS',
  bytes_sent: 'ST_BYTES',
  bytes_recv: 'ST_BYTES',
  req_body_size: 'ST_BYTES',
  resp_body_size: 'ST_BYTES',
  rss_bytes: 'ST_BYTES',
  vsize_bytes: 'ST_BYTES',
  read_bytes: 'ST_BYTES',
  write_bytes: 'ST_BYTES',
  rx_bytes: 'ST_BYTES',
  tx_bytes: 'ST_BYTES',
  bytes: 'ST_BYTES',
}

/**
 * Cumulative counters and the columns that identify one series of readings. `px.sum` of such a
 * counter sums its increase within the window (the max − min Pixie's scripts compute by hand),
 * read from a hidden `$inc.<counter>` column: each reading minus the previous one of its series
 * (0 for the first in the window; a counter that went down restarted, so its value is the increase).
 */
const cumulative: Record<string, { series: string[]; counters: string[] }> = {
  conn_stats: {
    series: ['upid', 'remote_addr', 'remote_port', 'trace_role'],
    counters: ['conn_open', 'conn_close', 'bytes_sent', 'bytes_recv'],
  },
  process_stats: {
    series: ['upid'],
    counters: ['major_faults', 'minor_faults', 'cpu_utime_ns', 'cpu_ktime_ns', 'rchar_bytes', 'wchar_bytes', 'read_bytes', 'write_bytes'],
  },
  network_stats: {
    series: ['pod_id'],
    counters: ['rx_bytes', 'rx_packets', 'rx_errors', 'rx_drops', 'tx_bytes', 'tx_packets', 'tx_errors', 'tx_drops'],
  },
}

/** The hidden column holding the per-reading increase of a cumulative counter, if it is one. */
export const increaseColumn = (table: string, counter: string): string | undefined =>
  cumulative[table]?.counters.includes(counter) ? `$inc.${counter}` : undefined

/** The columns of a table as PxL reads them, or undefined for an unknown table. */
export function sourceSchema(table: string): SourceSchema | undefined {
  const t = traceTable(table)
  if (!t) return undefined
  const hasMeta = t.columns.some((c) => c.name === 'namespace')
  const cols: SourceCol[] = t.columns.map((c) => ({
    name: c.name,
    type: c.type as ColType,
    sem: metaSem[c.name] ?? columnSem[c.name] ?? 'ST_NONE',
    sql: c.name === 'time_' ? `toUnixTimestamp64Nano(${q('time_')})` : (metaSql[c.name] ?? q(c.name)),
    doc: c.desc,
  }))
  const hidden: SourceCol[] = [...(derived[table] ?? [])]
  const cum = cumulative[table]
  for (const name of cum?.counters ?? []) {
    const prev = `lagInFrame(${q(name)}, 1, ${q(name)}) OVER (PARTITION BY ${cum!.series.map(q).join(', ')} ORDER BY ${q('time_')} ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)`
    hidden.push({
      name: `$inc.${name}`,
      type: 'INT64',
      sem: columnSem[name] ?? 'ST_NONE',
      sql: `if(${q(name)} >= ${prev}, ${q(name)} - ${prev}, ${q(name)})`,
    })
  }
  if (hasMeta) {
    for (const key of new Set(Object.values(ctxKeys))) {
      const c = cols.find((x) => x.name === key)!
      hidden.push({ ...c, name: `$ctx.${key}` })
    }
  }
  return { cols, hidden }
}

export const tableNames = traceTableNames

/** The derived columns of each table, for docs and completion. */
export function derivedColumns(): Record<string, { name: string; type: ColType; doc: string }[]> {
  return Object.fromEntries(
    Object.entries(derived).map(([t, cs]) => [t, cs.map((c) => ({ name: c.name, type: c.type, doc: c.doc ?? '' }))]),
  )
}
