import { randomUUID } from 'node:crypto'
import { KilnError } from '../model/errors.ts'
import type { InsertRows } from './client.ts'
import { IdCache } from './id-cache.ts'
import { prepareWrite, type IdRows, type PreparedWrite, type SeriesWrite } from './prepare.ts'
import type { RowFormat, Wal, WalPart } from './wal.ts'
import { Applier, insertMerged } from './wal-apply.ts'
import { nextTurn } from './turns.ts'

export type { SeriesWrite, PreparedWrite }

type Table = 'functions' | 'stacks' | 'series' | 'samples'
// Each part's table in the engine and its rows' format. Insert order: metadata first (wal-apply.ts
// inserts the samples last whatever the order); the samples go in as one row a write, through
// samples_in (schema.ts).
const TABLES: [Table, string, RowFormat][] = [
  ['functions', 'functions', 'TabSeparated'],
  ['stacks', 'stacks', 'TabSeparated'],
  ['series', 'series', 'JSONEachRow'],
  ['samples', 'samples_in', 'TabSeparated'],
]

/** One group commit: the rows of every write that arrived since the last one began. */
interface Batch {
  /** Its number: cache entries of the ids it writes hold it. */
  seq: number
  /**
   * Each table's rows as slices of the prepared writes' bytes (TabSeparated, rendered by
   * prepareWrite: 4× cheaper to build and parse than JSON; series rows JSONEachRow) and how many.
   */
  chunks: Record<Table, Buffer[]>
  rows: Record<Table, number>
  waiters: { resolve: () => void; reject: (e: unknown) => void }[]
}

// A stack or function is rewritten at most once per hour while in use, which keeps its
// `last_seen` fresh for retention without re-inserting it with every profile.
const REFRESH_MS = 3_600_000
const CACHE_LIMIT = 2_000_000
// Ids checked in one turn of the event loop (a 15 MB upload has 500,000), or fewer once SLICE_MS
// passed: the cache's 64 tables fill alike, so they all grow within a few thousand ids of each
// other — one slice of 16,384 ids that met them took 106–163 ms of CPU under 8 hostile uploads.
const SLICE = 16_384
const SLICE_MS = 8

// For the durability tests only: KILN_TEST_CRASH=after-wal:N kills this process with SIGKILL
// once its Nth commit (batch N) is in the write-ahead log, before it is acknowledged; after-insert:N once
// the engine took the group holding it, before the log hears of that.
const [crashAt, crashN] = (process.env.KILN_TEST_CRASH ?? '').split(':')
const crash = () => process.kill(process.pid, 'SIGKILL')

/**
 * Group commit, pipelined: writes that arrive while commits are running go to ClickHouse together
 * as the next commit (one insert per table), which starts at once while fewer than `commits` are
 * in flight — so a write waits for its own commit, not for the one before it. Each caller's promise
 * resolves only after its commit's inserts returned (fsynced): an acknowledged ingest is durable.
 * A commit writes every stack, function and series its samples use that is not durable yet, even
 * when a commit still in flight writes it too (ReplacingMergeTree folds the copies): commits never
 * wait for each other, and one that fails fails its own writes only.
 */
export class Writer {
  private seq = 1
  private pending: Batch = this.newBatch()
  private scheduled = false
  private readonly inFlight = new Set<Promise<void>>()
  // Per tenant and kind (`tenant\0f`, `tenant\0s`, `tenant\0r`): id → the batch that last wrote
  // it; keyed by the id as it comes, so a lookup hashes no concatenated string. A batch's commit
  // marks it in `committed` once (seq → ms), not each of its ids: 500,000 of them in a large upload.
  private readonly seen = new Map<string, IdCache>()
  private readonly committed = new Map<number, number>()
  samplesWritten = 0
  // Names this process's commits to the engine's deduplication (with their seq): unique across restarts.
  private readonly run = randomUUID().slice(0, 8)
  private failure: string | undefined
  private readonly applier: Applier | undefined

  /** The store's message while its last group commit failed; undefined once one succeeds. */
  get lastError(): string | undefined {
    return this.failure ?? this.applier?.lastError
  }

  constructor(
    private readonly insertRows: InsertRows,
    private readonly db: string,
    /**
     * flushMs: extra wait before an idle writer commits, to gather more (0: none); commits: how
     * many may be in flight at once (each is up to four parts); wal: the log that makes a commit
     * durable (the embedded engine's parts are not fsynced), or none where the engine's inserts are.
     */
    private readonly opts: { flushMs: number; commits?: number; wal?: Wal } = { flushMs: 0 },
  ) {
    if (opts.wal) {
      const crashToken = `${this.run}-${crashN}`
      const afterInsert = crashAt === 'after-insert' ? (tokens: string[]) => tokens.includes(crashToken) && crash() : undefined
      this.applier = new Applier(opts.wal, insertRows, this.run, opts.commits ?? 2, afterInsert)
    }
  }

  /** Resolves once every acknowledged write is readable (the engine took it, or refused it for now). */
  visible(): Promise<void> {
    return this.applier?.visible() ?? Promise.resolve()
  }

  private newBatch(): Batch {
    return {
      seq: this.seq++,
      chunks: { functions: [], stacks: [], series: [], samples: [] },
      rows: { functions: 0, stacks: 0, series: 0, samples: 0 },
      waiters: [],
    }
  }

  /** Queues the writes; resolves once they are durable. */
  async write(tenant: string, writes: SeriesWrite[]): Promise<void> {
    const nowS = Math.floor(Date.now() / 1000)
    // Every row is there: never answered false.
    await this.writePrepared(
      tenant,
      writes.map((w) => prepareWrite(tenant, w, nowS)),
    )
  }

  /**
   * Queues writes already prepared for `tenant` (e.g. in a worker thread); resolves once they are
   * durable, true — or false when an id that came without its row (the worker sent it before:
   * store/prepare.ts's SentRows) is not durable and fresh here: then none of the writes' samples
   * were queued, and the caller prepares them again with every row. A large upload's ids are
   * checked in slices with a turn of the event loop between them; rows a commit took meanwhile
   * are awaited with it.
   */
  async writePrepared(tenant: string, writes: PreparedWrite[]): Promise<boolean> {
    const now = Date.now()
    const commits: Promise<void>[] = []
    const seriesCache = this.cache(`${tenant}\u0000r`)
    const fnCache = this.cache(`${tenant}\u0000f`)
    const stackCache = this.cache(`${tenant}\u0000s`)
    const missing = { rows: 0 }
    for (const w of writes) {
      for (const [cache, part, table] of [
        [seriesCache, w.series, 'series'],
        [fnCache, w.functions, 'functions'],
        [stackCache, w.stacks, 'stacks'],
      ] as const) {
        for (let i = 0; i < part.ends.length; ) {
          // A large part (over a quarter of a slice) waits for a turn for its first slice too (turns.ts):
          // checked at once, it shared the turn of the worker's answer with other uploads' first
          // slices and whatever else that turn ran (issue 12 §3).
          if (i === 0 && part.ends.length > SLICE / 4) await nextTurn()
          const p = this.pending
          i = this.claim(p, table, cache, part, i, now, missing)
          if (i < part.ends.length) {
            commits.push(this.waitFor(p))
            await nextTurn()
          }
        }
      }
    }
    // Samples only once every row they need is claimed: a second preparing of the upload must not write them twice.
    if (!missing.rows)
      for (const w of writes) {
        if (!w.sampleCount) continue
        this.pending.chunks.samples.push(view(w.samples, 0, w.samples.length))
        this.pending.rows.samples += w.sampleCount
      }
    commits.push(this.waitFor(this.pending))
    await Promise.all(commits)
    return !missing.rows
  }

  /** A promise of batch `b`'s commit; schedules commits. */
  private waitFor(b: Batch): Promise<void> {
    const done = new Promise<void>((resolve, reject) => b.waiters.push({ resolve, reject }))
    this.commitSoon()
    return done
  }

  private cache(name: string): IdCache {
    let c = this.seen.get(name)
    if (!c) this.seen.set(name, (c = new IdCache()))
    return c
  }

  /**
   * Adds to `b` the rows of `part` from row `from` whose ids are not durable as of the last hour
   * and not already in `b`, claiming them; stops after SLICE rows or SLICE_MS and returns where.
   * Rows kept in a row go to the batch as one slice of the bytes: all of a new upload's, none of a
   * repeated one's. An id to write whose row is empty is counted in `missing`, not claimed.
   */
  private claim(b: Batch, table: Table, cache: IdCache, part: IdRows, from: number, now: number, missing: { rows: number }): number {
    const stale = now - REFRESH_MS
    const { ids, ends } = part
    let to = Math.min(ends.length, from + SLICE)
    const deadline = performance.now() + SLICE_MS
    // The last commit number looked up in `committed`, and whether it is fresh: ids of one
    // upload mostly share their writer.
    let lastBy = 0
    let lastFresh = false
    let run = -1
    const keep = (start: number, end: number) => {
      b.chunks[table].push(view(part.rows, start ? ends[start - 1]! : 0, ends[end - 1]!))
      b.rows[table] += end - start
    }
    for (let i = from; i < to; i++) {
      if ((i & 255) === 0 && i > from && performance.now() > deadline) {
        to = i
        break
      }
      const hi = ids[2 * i]!
      const lo = ids[2 * i + 1]!
      const by = cache.get(hi, lo)
      if (by !== lastBy && by !== 0 && by !== b.seq) {
        lastBy = by
        lastFresh = (this.committed.get(by) ?? 0) > stale
      }
      // Written by a commit still in flight (or failed): written again here.
      if (by === 0 || (by !== b.seq && !lastFresh)) {
        if (ends[i] !== (i ? ends[i - 1] : 0)) {
          cache.set(hi, lo, b.seq)
          if (run < 0) run = i
          continue
        }
        missing.rows++
      }
      if (run >= 0) {
        keep(run, i)
        run = -1
      }
    }
    if (run >= 0) keep(run, to)
    return to
  }

  /** Starts commits of what is pending, up to the limit in flight, on the next turn (or after flushMs). */
  private commitSoon(): void {
    if (this.scheduled) return
    this.scheduled = true
    const go = () => {
      this.scheduled = false
      if (!this.pending.waiters.length || this.inFlight.size >= (this.opts.commits ?? 2)) return
      const b = this.pending
      this.pending = this.newBatch()
      const c: Promise<void> = this.commit(b).finally(() => {
        this.inFlight.delete(c)
        if (this.pending.waiters.length) this.commitSoon()
      })
      this.inFlight.add(c)
    }
    if (this.opts.flushMs > 0) setTimeout(go, this.opts.flushMs)
    else setImmediate(go)
  }

  /** Resolves once everything queued so far is written (used on shutdown). */
  async drain(): Promise<void> {
    while (this.scheduled || this.inFlight.size || this.pending.waiters.length) {
      if (this.inFlight.size) await Promise.allSettled([...this.inFlight])
      else await new Promise((r) => setTimeout(r, Math.max(1, this.opts.flushMs)))
    }
    await this.applier?.drain()
  }

  private async commit(b: Batch): Promise<void> {
    const token = `${this.run}-${b.seq}`
    try {
      const t0 = performance.now()
      const parts: WalPart[] = TABLES.filter(([t]) => b.rows[t]).map(([t, table, format]) => ({
        table: `${this.db}.${table}`,
        format,
        chunks: b.chunks[t],
      }))
      const record = { token, parts }
      if (this.applier) {
        // Durable once logged (one synchronous write, shared with the commits logged beside it):
        // acknowledged then, and the engine gets it with the commits logged while its last insert ran.
        await this.applier.room()
        const logged = this.opts.wal!.append(record)
        await logged.durable
        if (crashAt === 'after-wal' && b.seq === Number(crashN)) crash()
        this.applier.add(record, logged.seg)
      } else await insertMerged(this.insertRows, [record], token)
      if (process.env.KILN_DEBUG_WRITES)
        process.stderr.write(
          `commit ${b.seq} (${this.inFlight.size} in flight): ${b.waiters.length} writes, ${b.rows.samples} samples, ${b.rows.stacks} stacks, ${b.rows.functions} functions, ${b.rows.series} series in ${(performance.now() - t0).toFixed(1)} ms\n`,
        )
      const now = Date.now()
      this.committed.set(b.seq, now)
      // Commits over an hour old count as not written (their ids are rewritten): forgotten.
      for (const [seq, at] of this.committed) {
        if (at > now - REFRESH_MS) break
        this.committed.delete(seq)
      }
      for (const c of this.seen.values()) if (c.size > CACHE_LIMIT) c.clear()
      this.samplesWritten += b.rows.samples
      this.failure = undefined
      for (const w of b.waiters) w.resolve()
    } catch (e) {
      // Never marked committed: the next write of this batch's ids writes them.
      this.failure = (e as Error).message.split('\n')[0]!.slice(0, 300)
      const err = new KilnError('KILN_STORE', `the store did not accept the write (retry later): ${(e as Error).message}`)
      for (const w of b.waiters) w.reject(err)
    }
  }
}

/** Bytes `start`–`end` of `rows` as a Buffer over the same memory. */
function view(rows: Uint8Array, start: number, end: number): Buffer {
  return Buffer.from(rows.buffer, rows.byteOffset + start, end - start)
}
