/**
 * DDL of the request-tracing tables, from the one declaration in `model/trace-tables.ts`.
 * Retention is in hours (Pixie keeps "on the order of hours"; Kiln's default is 24 h):
 * hourly partitions let the TTL drop whole parts instead of rewriting them.
 */
import { traceTables, type PxType } from '../model/trace-tables.ts'

const chType: Record<PxType, string> = {
  TIME64NS: "DateTime64(9, 'UTC')",
  UINT128: 'UInt128',
  INT64: 'Int64',
  FLOAT64: 'Float64',
  STRING: 'String',
  BOOLEAN: 'Bool',
}

// Strings with few distinct values: dictionary-encoded (LowCardinality) for size and GROUP BY speed.
const lowCardinality = new Set([
  'remote_addr',
  'local_addr',
  'req_method',
  'resp_message',
  'req_cmd',
  'cmdline',
  'container_id',
  'namespace',
  'pod',
  'container',
  'service',
  'node',
  'pod_id',
  'op',
])

/** The ClickHouse type of a tracing column. */
export function traceColumnType(name: string, type: PxType): string {
  const t = chType[type]
  return type === 'STRING' && lowCardinality.has(name) ? `LowCardinality(${t})` : t
}

export function traceStatements(db: string, retentionHours: number): string[] {
  const durable = 'fsync_after_insert = 1, fsync_part_directory = 1, ttl_only_drop_parts = 1'
  return traceTables.flatMap((t) => {
    if (t.view) return [profileView(db, t.name)]
    const cols = [
      'tenant LowCardinality(String)',
      ...t.columns.map(
        (c) => `\`${c.name}\` ${traceColumnType(c.name, c.type)}${c.name === 'time_' ? ' CODEC(DoubleDelta, ZSTD(1))' : ''}`,
      ),
    ]
    return [
      `CREATE TABLE IF NOT EXISTS ${db}.${t.name} (${cols.join(', ')})
       ENGINE = MergeTree PARTITION BY toStartOfHour(time_) ORDER BY (tenant, time_)
       ${retentionHours > 0 ? `TTL toDateTime(time_) + INTERVAL ${retentionHours} HOUR` : ''}
       SETTINGS ${durable}`,
      // Columns added after a data directory was made (new metadata or Pixie columns).
      ...t.columns.map((c) => `ALTER TABLE ${db}.${t.name} ADD COLUMN IF NOT EXISTS \`${c.name}\` ${traceColumnType(c.name, c.type)}`),
    ]
  })
}

/** Statements that bring existing tracing tables to the configured retention. */
export function traceRetentionStatements(db: string, retentionHours: number): string[] {
  return traceTables
    .filter((t) => !t.view)
    .map((t) =>
      retentionHours > 0
        ? `ALTER TABLE ${db}.${t.name} MODIFY TTL toDateTime(time_) + INTERVAL ${retentionHours} HOUR SETTINGS materialize_ttl_after_modify = 0`
        : `ALTER TABLE ${db}.${t.name} REMOVE TTL`,
    )
}

/**
 * `stack_traces.beta`: the CPU profiles as rows of folded stacks, so PxL reads profiles as Pixie's
 * scripts do. Stacks are named by joining their function ids to `functions` — over every stored
 * stack, so its cost grows with the number of distinct stacks, not with the time range asked for.
 */
function profileView(db: string, name: string): string {
  const label = (k: string) => `se.labels['${k}']`
  return `CREATE OR REPLACE VIEW ${db}.\`${name}\` AS
    SELECT s.tenant AS tenant, toDateTime64(s.time, 9, 'UTC') AS time_,
      bitShiftLeft(toUInt128(toUInt32OrZero(${label('pid')})), 64) AS upid,
      reinterpretAsInt64(s.stack_id) AS stack_trace_id, n.stack_trace AS stack_trace, s.value AS count,
      toString(s.profile_type) AS profile_type, toInt64OrZero(${label('pid')}) AS pid, ${label('exe')} AS cmdline,
      ${label('container_id')} AS container_id, ${label('namespace')} AS namespace, ${label('pod')} AS pod,
      ${label('container')} AS container, toString(se.service_name) AS service, ${label('node')} AS node
    FROM ${db}.samples AS s
    INNER JOIN (
      SELECT tenant, profile_type, series_id, any(service_name) AS service_name, any(labels) AS labels FROM ${db}.series GROUP BY tenant, profile_type, series_id
    ) AS se ON se.tenant = s.tenant AND se.profile_type = s.profile_type AND se.series_id = s.series_id
    INNER JOIN (
      SELECT tenant, stack_id, arrayStringConcat(arrayMap(x -> x.2, arraySort(x -> x.1, groupArray((idx, name)))), ';') AS stack_trace
      FROM (SELECT st.tenant AS tenant, st.stack_id AS stack_id, fid, idx FROM ${db}.stacks AS st FINAL ARRAY JOIN st.function_ids AS fid, arrayEnumerate(st.function_ids) AS idx) AS a
      INNER JOIN (SELECT tenant, function_id, any(name) AS name FROM ${db}.functions GROUP BY tenant, function_id) AS f ON f.tenant = a.tenant AND f.function_id = a.fid
      GROUP BY tenant, stack_id
    ) AS n ON n.tenant = s.tenant AND n.stack_id = s.stack_id
    WHERE s.profile_type LIKE 'process_cpu:%'`
}
