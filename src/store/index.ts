import type { ClickHouseClient } from '@clickhouse/client'
import { openClient, type StoreOptions } from './client.ts'
import { schemaStatements, retentionStatements, runStatements } from './schema.ts'
import { Runs } from './runs.ts'
import { TraceStore } from './trace.ts'
import { traceStatements, traceRetentionStatements } from './trace-schema.ts'
import { Writer } from './writer.ts'
import { openWal } from './wal-store.ts'
import type { Wal } from './wal.ts'
import { Reader } from './reader.ts'
import { KilnError } from '../model/errors.ts'

export type { SeriesWrite, PreparedWrite } from './writer.ts'
export type { Reader, Selection, TimelineSeries } from './reader.ts'

export interface Store {
  client: ClickHouseClient
  kind: 'chdb' | 'http'
  db: string
  writer: Writer
  reader: Reader
  runs: Runs
  /** Request-tracing tables (http_events, …), with their own retention. */
  trace: TraceStore
  /** Bytes on disk and rows of the samples table (for stats and the bytes/sample benchmark). */
  stats(): Promise<{ table: string; rows: number; bytes: number }[]>
  close(): Promise<void>
}

/**
 * Opens the store and creates Kiln's tables if missing. `retentionDays` 0 keeps data forever;
 * `traceRetentionHours` (default 24) is the tracing tables' retention, 0 keeps them forever;
 * `commits`: group commits in flight at once (default 2).
 */
export async function openStore(
  opts: StoreOptions & { retentionDays: number; traceRetentionHours?: number; flushMs?: number; commits?: number },
): Promise<Store> {
  const db = opts.database ?? 'kiln'
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(db)) throw new KilnError('KILN_USAGE', `invalid database name ${JSON.stringify(db)}`)
  // KILN_WRITE_COMMITS: a knob for measuring (bench/README.md, ingest), not a setting users need.
  const commits = opts.commits ?? (Number(process.env.KILN_WRITE_COMMITS) || 2)
  // A commit's three metadata inserts run at once: room for two commits' worth of them.
  const { client: engine, kind, insertRows, close } = await openClient({ ...opts, writers: Math.max(2, commits * 2) })
  try {
    const traceHours = opts.traceRetentionHours ?? 24
    for (const q of [
      ...schemaStatements(db, opts.retentionDays, { logged: kind === 'chdb' }),
      ...runStatements(db),
      ...traceStatements(db, traceHours),
    ])
      await engine.command({ query: q })
    // REMOVE TTL fails on a table without one; that is the state wanted.
    for (const q of [...retentionStatements(db, opts.retentionDays), ...traceRetentionStatements(db, traceHours)])
      await engine.command({ query: q }).catch(() => {})
  } catch (e) {
    await close().catch(() => {})
    throw new KilnError('KILN_STORE', `cannot create Kiln's tables: ${(e as Error).message}`)
  }
  // The embedded engine's commits are made durable by Kiln's write-ahead log (src/store/wal.ts).
  let wal: Wal | undefined
  if (kind === 'chdb') {
    try {
      wal = (await openWal(opts.dataDir, db, engine, insertRows)).wal
    } catch (e) {
      await close().catch(() => {})
      throw new KilnError('KILN_STORE', `cannot recover the write-ahead log in ${opts.dataDir}: ${(e as Error).message}`)
    }
  }
  const writer = new Writer(insertRows, db, { flushMs: opts.flushMs ?? 0, commits, wal })
  // A write is acknowledged once logged, before the engine has it: every query first waits for
  // what was acknowledged before it (at most the inserts in flight).
  const client = wal ? afterWrites(engine, () => writer.visible()) : engine
  return {
    client,
    kind,
    db,
    writer,
    reader: new Reader(client, db),
    runs: new Runs(client, db),
    trace: new TraceStore(client, db),
    async stats() {
      const rs = await client.query({
        query: `SELECT table, sum(rows), sum(bytes_on_disk) FROM system.parts WHERE database = '${db}' AND active GROUP BY table ORDER BY table`,
        format: 'JSONCompactEachRow',
      })
      return ((await rs.json()) as [string, string, string][]).map(([table, rows, bytes]) => ({
        table,
        rows: Number(rows),
        bytes: Number(bytes),
      }))
    },
    async close() {
      await writer.drain()
      await wal?.close()
      await close()
    },
  }
}

/** `client` whose queries start once `visible` resolves. */
function afterWrites(client: ClickHouseClient, visible: () => Promise<void>): ClickHouseClient {
  const query = client.query.bind(client)
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === 'query') return (async (params: Parameters<typeof query>[0]) => visible().then(() => query(params))) as typeof query
      return Reflect.get(target, prop, receiver)
    },
  })
}
