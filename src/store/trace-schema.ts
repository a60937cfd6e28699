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
const lowCardinality = new Set(['remote_addr', 'local_addr', 'req_method', 'resp_message', 'req_cmd', 'cmdline', 'container_id', 'namespace', 'pod', 'container', 'service', 'node', 'pod_id', 'op'])

/** The ClickHouse type of a tracing column. */
export function traceColumnType(name: string, type: PxType): string {
  const t = chType[type]
  return type === 'STRING' && lowCardinality.has(name) ? `LowCardinality(${t})` : t
}

export function traceStatements(db: string, retentionHours: number): string[] {
  const durable = 'fsync_after_insert = 1, fsync_part_directory = 1, ttl_only_drop_parts = 1'
  return traceTables.flatMap((t) => {
    const cols = ['tenant LowCardinality(String)', ...t.columns.map((c) => `\`${c.name}\` ${traceColumnType(c.name, c.type)}${c.name === 'time_' ? ' CODEC(DoubleDelta, ZSTD(1))' : ''}`)]
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
  return traceTables.map((t) =>
    retentionHours > 0
      ? `ALTER TABLE ${db}.${t.name} MODIFY TTL toDateTime(time_) + INTERVAL ${retentionHours} HOUR SETTINGS materialize_ttl_after_modify = 0`
      : `ALTER TABLE ${db}.${t.name} REMOVE TTL`,
  )
}
