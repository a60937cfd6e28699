import { createClient, type ClickHouseClient } from '@clickhouse/client'
import { mkdirSync } from 'node:fs'
import { Readable } from 'node:stream'
import { resolve } from 'node:path'
import { KilnError } from '../model/errors.ts'
import { nextTurn } from './turns.ts'

export interface StoreOptions {
  /** Directory of the embedded engine's data (chDB). */
  dataDir: string
  /** http(s)://user:pass@host:8123 of a ClickHouse server or cluster; replaces the embedded engine. */
  clickhouseUrl?: string
  /** Database holding Kiln's tables. */
  database?: string
}

// Every 64-bit id (hashes) stays exact in JSON only as a string.
const settings = { output_format_json_quote_64bit_integers: 1 } as const

/**
 * Inserts rows already rendered in `format` (one insert, whatever the number of chunks). With a
 * `token`, an insert the engine already took under that token is skipped (its materialized views'
 * rows too): a commit replayed from the write-ahead log lands once.
 */
export type InsertRows = (table: string, format: 'TabSeparated' | 'JSONEachRow', chunks: Buffer[], token?: string) => Promise<void>

function dedup(token: string | undefined) {
  return token
    ? ({ insert_deduplicate: 1, insert_deduplication_token: token, deduplicate_blocks_in_dependent_materialized_views: 1 } as const)
    : undefined
}

/** Opens the ClickHouse engine: chDB embedded in this process, or a ClickHouse server over HTTP. */
export async function openClient(
  opts: StoreOptions & { writers?: number },
): Promise<{ client: ClickHouseClient; kind: 'chdb' | 'http'; insertRows: InsertRows; close: () => Promise<void> }> {
  if (opts.clickhouseUrl) {
    const client = createClient({ url: opts.clickhouseUrl, clickhouse_settings: settings, request_timeout: 60_000 })
    try {
      await client.ping()
    } catch (e) {
      throw new KilnError('KILN_STORE', `cannot reach ClickHouse at ${redact(opts.clickhouseUrl)}: ${(e as Error).message}`)
    }
    const insertRows: InsertRows = async (table, format, chunks, token) => {
      await client.insert({ table, values: Readable.from(chunks, { objectMode: false }), format, clickhouse_settings: dedup(token) })
    }
    return { client, kind: 'http', insertRows, close: () => client.close() }
  }
  const dir = resolve(opts.dataDir)
  try {
    mkdirSync(dir, { recursive: true })
  } catch (e) {
    throw new KilnError('KILN_STORE', `cannot create data directory ${dir}: ${(e as Error).message}`)
  }
  // Loaded lazily: the native engine is only needed when it is used.
  const { createChdbConnection } = await import('chdb/connection')
  type ChdbConnection = ReturnType<typeof createChdbConnection>
  let connection: ChdbConnection
  try {
    connection = createChdbConnection({ path: dir })
  } catch (e) {
    throw new KilnError(
      'KILN_STORE',
      `cannot open the embedded ClickHouse engine in ${dir}: ${(e as Error).message}. Is another Kiln process using this --data-dir?`,
    )
  }
  const client = createClient({ connection, clickhouse_settings: settings } as Parameters<typeof createClient>[0])
  // Inserts go through connections of their own, `writers` of them: one chDB connection runs one
  // statement at a time (two 1 s sleeps on one took 2 s, on two 1 s), so commits in flight overlap
  // on separate connections, and reads never queue behind them. chDB's raw insert hands the bytes
  // to the engine as they are, to be parsed on its own thread; through the client's insert the
  // rows became a JS string, joined to the statement and copied again, on the event loop.
  // Opened as inserts need them, one at a time (opening one holds the event loop for tens of ms):
  // a process that only reads (tests looking into a stopped server's directory) holds no more than
  // the one connection it closes.
  const writers: ChdbConnection[] = []
  const scratch = new Map<ChdbConnection, Scratch>()
  const idle: ChdbConnection[] = []
  const queued: ((c: ChdbConnection) => void)[] = []
  const insertRows: InsertRows = async (table, format, chunks, token) => {
    let c = idle.pop()
    if (!c && writers.length < (opts.writers ?? 4)) {
      writers.push((c = createChdbConnection({ path: dir })))
      scratch.set(c, new Scratch())
    }
    c ??= await new Promise<ChdbConnection>((r) => queued.push(r))
    try {
      const values = chunks.length === 1 ? chunks[0]! : await scratch.get(c)!.gather(chunks)
      await c.chdb.rawInsert({ table, values, format, settings: dedup(token) })
    } finally {
      scratch.get(c)!.release()
      const next = queued.shift()
      if (next) next(c)
      else idle.push(c)
    }
  }
  const close = async () => {
    for (const w of writers) await w.close()
    await client.close()
  }
  return { client, kind: 'chdb', insertRows, close }
}

// A connection's buffer grows this much a turn of the event loop (fresh pages: ~10 ms a MiB under
// load on this VM); one larger than KEEP_MAX is let go after its insert (a commit of several huge
// uploads: hundreds of MB).
const GROW_STEP = 2 << 20
const KEEP_MAX = 64 << 20
// Copied into it this much a turn: 64 MiB at once took up to ~190 ms of CPU under load, 16 MiB 3-12 ms.
const COPY_STEP = 8 << 20

/**
 * One buffer for an insert's chunks, kept by its connection (which runs one insert at a time) from
 * one insert to the next: a fresh 64 MiB buffer costs the event loop ~270 ms of CPU to fault its
 * pages in, a copy into a reused one ~5 ms. It grows in steps, with a turn of the loop between.
 * Each step of a gathering of more than one step waits for a turn of its own (turns.ts), the first
 * too: run at once, the first steps of an insert's tables (three start together) shared a turn
 * with each other and with another job's slice (the log's CRC: 22 ms of CPU in one turn).
 */
class Scratch {
  private buf = Buffer.alloc(0)
  async gather(chunks: Buffer[]): Promise<Buffer> {
    let size = 0
    for (const c of chunks) size += c.length
    if (size > this.buf.length) {
      const next = Buffer.allocUnsafeSlow(Math.max(size, Math.min(KEEP_MAX, this.buf.length * 2)))
      for (let at = 0; at < next.length; at += GROW_STEP) {
        await nextTurn()
        next.fill(0, at, Math.min(next.length, at + GROW_STEP))
      }
      this.buf = next
    }
    // Copied COPY_STEP bytes a turn, a large chunk (one upload's rows: tens of MB) in pieces.
    const sliced = size > COPY_STEP
    let at = 0
    let since = 0
    for (const c of chunks) {
      for (let from = 0; from < c.length; ) {
        if (sliced && since === 0) await nextTurn()
        const n = Math.min(c.length - from, COPY_STEP - since)
        c.copy(this.buf, at, from, from + n)
        at += n
        from += n
        since = (since + n) % COPY_STEP
      }
    }
    return this.buf.subarray(0, size)
  }

  /** After the insert: a buffer over KEEP_MAX is not kept. */
  release(): void {
    if (this.buf.length > KEEP_MAX) this.buf = Buffer.alloc(0)
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return url
  }
}

/** Quotes a string as a ClickHouse literal. */
export function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}
