/**
 * Kiln's tables. One schema for the embedded engine and a ClickHouse server.
 *
 * - `series`: one row per label set (profile type + labels), deduplicated by hash.
 * - `profiles`: one row per ingested profile per series: time, duration and total — the timeline,
 *   filled by the `profiles_mv` view from each samples insert.
 * - `samples`: (series, time, stack, span) → value — merged flame graphs are `GROUP BY stack_id`.
 *   `span_id` is the sample's OpenTelemetry span (pprof label `span_id`, 0 for none): a column, not
 *   a series label, since span ids are unbounded (Pyroscope keeps them out of series labels too).
 * - `stacks`, `functions`: deduplicated by hash; a stack is its function ids, root first.
 *
 * Stacks and functions carry `last_seen` so retention can drop the ones no longer referenced:
 * the writer rewrites a stack at most once an hour while it is in use (see Writer's cache).
 */
import { DEDUP_WINDOW } from './wal.ts'

/**
 * The profile tables' settings under the write-ahead log (wal-store.ts): no fsync of their parts,
 * and insert tokens remembered for as many blocks as the log may replay.
 */
export const loggedSettings = `fsync_after_insert = 0, fsync_part_directory = 0, non_replicated_deduplication_window = ${DEDUP_WINDOW}`

export function schemaStatements(db: string, retentionDays: number, opts: { logged?: boolean } = {}): string[] {
  const ttl = (col: string, extraDays = 0) =>
    retentionDays > 0 ? `TTL toDateTime(${col}) + INTERVAL ${retentionDays + extraDays} DAY` : ''
  // fsync before an insert returns: an acknowledged ingest survives kill -9 and power loss. With
  // Kiln's write-ahead log (the embedded engine, `logged`) the log is fsynced instead.
  const durable = opts.logged ? loggedSettings : 'fsync_after_insert = 1, fsync_part_directory = 1'
  return [
    `CREATE DATABASE IF NOT EXISTS ${db}`,
    `CREATE TABLE IF NOT EXISTS ${db}.series (
      tenant LowCardinality(String),
      profile_type LowCardinality(String),
      series_id UInt64,
      service_name LowCardinality(String),
      labels Map(LowCardinality(String), String),
      last_seen DateTime
    ) ENGINE = ReplacingMergeTree(last_seen)
    ORDER BY (tenant, profile_type, series_id)
    ${ttl('last_seen')}
    SETTINGS ${durable}`,
    `CREATE TABLE IF NOT EXISTS ${db}.profiles (
      tenant LowCardinality(String),
      profile_type LowCardinality(String),
      series_id UInt64,
      time DateTime64(3) CODEC(DoubleDelta, ZSTD(1)),
      duration_ns UInt64 CODEC(T64, ZSTD(1)),
      total Int64 CODEC(T64, ZSTD(1))
    ) ENGINE = MergeTree
    PARTITION BY toDate(time)
    ORDER BY (tenant, profile_type, series_id, time)
    ${ttl('time')}
    SETTINGS ${durable}`,
    `CREATE TABLE IF NOT EXISTS ${db}.samples (
      tenant LowCardinality(String),
      profile_type LowCardinality(String),
      series_id UInt64,
      time DateTime64(3) CODEC(DoubleDelta, ZSTD(1)),
      stack_id UInt64 CODEC(ZSTD(1)),
      value Int64 CODEC(T64, ZSTD(1)),
      duration_ns UInt64 CODEC(T64, ZSTD(1)),
      span_id UInt64 DEFAULT 0 CODEC(ZSTD(1))
    ) ENGINE = MergeTree
    PARTITION BY toDate(time)
    ORDER BY (tenant, profile_type, series_id, time, stack_id)
    ${ttl('time')}
    SETTINGS ${durable}`,
    // Data directories from before the column existed.
    `ALTER TABLE ${db}.samples ADD COLUMN IF NOT EXISTS duration_ns UInt64 CODEC(T64, ZSTD(1))`,
    // Rows are inserted as TabSeparated by position: span_id stays the last column, as ADD COLUMN
    // puts it in a data directory from before it (its old rows read 0, no span).
    `ALTER TABLE ${db}.samples ADD COLUMN IF NOT EXISTS span_id UInt64 DEFAULT 0 CODEC(ZSTD(1))`,
    // The timeline's rows come from each samples insert through this view, in the same insert:
    // one write per batch instead of two. duration_ns is constant per profile, so it costs
    // next to nothing in the sorted samples table.
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.profiles_mv TO ${db}.profiles AS
      SELECT tenant, profile_type, series_id, time, max(duration_ns) AS duration_ns, sum(value) AS total
      FROM ${db}.samples GROUP BY tenant, profile_type, series_id, time`,
    `CREATE TABLE IF NOT EXISTS ${db}.stacks (
      tenant LowCardinality(String),
      stack_id UInt64,
      function_ids Array(UInt64) CODEC(ZSTD(1)),
      last_seen DateTime
    ) ENGINE = ReplacingMergeTree(last_seen)
    ORDER BY (tenant, stack_id)
    ${ttl('last_seen', 1)}
    SETTINGS ${durable}`,
    `CREATE TABLE IF NOT EXISTS ${db}.functions (
      tenant LowCardinality(String),
      function_id UInt64,
      name String CODEC(ZSTD(1)),
      last_seen DateTime
    ) ENGINE = ReplacingMergeTree(last_seen)
    ORDER BY (tenant, function_id)
    ${ttl('last_seen', 1)}
    SETTINGS ${durable}`,
    // The profiles' sampling period (pprof's period, in the period type's unit), constant per
    // series in practice: kept with the series so that an exported pprof carries it.
    `ALTER TABLE ${db}.series ADD COLUMN IF NOT EXISTS period Int64 DEFAULT 0`,
    // Where a frame is (pprof's function file, line and mapping), so that an exported pprof has
    // source lines. A frame with one is its own function id (hash of name and source); a name-only
    // frame keeps the hash of its name. Added by ALTER in every directory, old or new, so the
    // TabSeparated rows' column order is the same in both.
    `ALTER TABLE ${db}.functions ADD COLUMN IF NOT EXISTS file String DEFAULT '' CODEC(ZSTD(1)),
      ADD COLUMN IF NOT EXISTS line Int64 DEFAULT 0, ADD COLUMN IF NOT EXISTS mapping String DEFAULT '' CODEC(ZSTD(1)),
      ADD COLUMN IF NOT EXISTS build_id String DEFAULT '' CODEC(ZSTD(1))`,
    // What the writer inserts: one row a profile and series with its samples as arrays, unrolled
    // into `samples` by the view below (and on into `profiles` by profiles_mv). The engine parses a
    // profile's tenant, type, series, time and duration once, not once a sample: inserting 2,500
    // profiles of 40 samples took 33–39 us of the engine's CPU a profile this way, 107–127 as a
    // TabSeparated row a sample (bench/README.md, ingest). A Null table keeps nothing itself.
    `CREATE TABLE IF NOT EXISTS ${db}.samples_in (
      tenant LowCardinality(String),
      profile_type LowCardinality(String),
      series_id UInt64,
      time DateTime64(3),
      duration_ns UInt64,
      stack_ids Array(UInt64),
      values Array(Int64),
      span_ids Array(UInt64)
    ) ENGINE = Null`,
    // span_ids is empty when no sample has a span: padded with 0 (no span) to the samples' count.
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.samples_in_mv TO ${db}.samples AS
      SELECT tenant, profile_type, series_id, time, stack_id, value, duration_ns, span_id
      FROM ${db}.samples_in
      ARRAY JOIN stack_ids AS stack_id, values AS value, arrayResize(span_ids, length(stack_ids)) AS span_id`,
  ]
}

/** Load-test runs (`kiln run --out kiln=URL`): one row per run state, and per-second aggregates. */
export function runStatements(db: string): string[] {
  const durable = 'fsync_after_insert = 1, fsync_part_directory = 1'
  return [
    `CREATE TABLE IF NOT EXISTS ${db}.runs (
      tenant LowCardinality(String),
      run_id String,
      script String,
      tags Map(String, String),
      profile String,
      started DateTime64(3),
      ended DateTime64(3),
      thresholds String,
      updated DateTime64(3)
    ) ENGINE = ReplacingMergeTree(updated)
    ORDER BY (tenant, run_id)
    SETTINGS ${durable}`,
    `CREATE TABLE IF NOT EXISTS ${db}.run_points (
      tenant LowCardinality(String),
      run_id String,
      metric LowCardinality(String),
      type LowCardinality(String),
      time DateTime,
      count UInt64,
      sum Float64,
      min Float64,
      max Float64
    ) ENGINE = MergeTree
    ORDER BY (tenant, run_id, metric, time)
    SETTINGS ${durable}`,
    // Trends' values per second as a log-bucket histogram (src/model/run.ts): percentiles per
    // second and per run, merged by adding counts.
    `ALTER TABLE ${db}.run_points ADD COLUMN IF NOT EXISTS hist Map(Int16, UInt64)`,
    // The run's figures as kiln run's end-of-test summary printed them (JSON; '' before the run ends).
    `ALTER TABLE ${db}.runs ADD COLUMN IF NOT EXISTS summary String DEFAULT ''`,
  ]
}

export const tables = ['series', 'profiles', 'samples', 'stacks', 'functions'] as const

const ttlColumn: Record<(typeof tables)[number], [string, number]> = {
  series: ['last_seen', 0],
  profiles: ['time', 0],
  samples: ['time', 0],
  stacks: ['last_seen', 1],
  functions: ['last_seen', 1],
}

/** Statements that bring existing tables to the configured retention (a changed --retention). */
export function retentionStatements(db: string, retentionDays: number): string[] {
  return tables.map((t) => {
    const [col, extra] = ttlColumn[t]
    return retentionDays > 0
      ? `ALTER TABLE ${db}.${t} MODIFY TTL toDateTime(${col}) + INTERVAL ${retentionDays + extra} DAY SETTINGS materialize_ttl_after_modify = 0`
      : `ALTER TABLE ${db}.${t} REMOVE TTL`
  })
}
