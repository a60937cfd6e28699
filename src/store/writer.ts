import type { ClickHouseClient } from '@clickhouse/client'
import { Readable } from 'node:stream'
import { KilnError } from '../model/errors.ts'
import { prepareWrite, type PreparedWrite, type SeriesWrite } from './prepare.ts'

export type { SeriesWrite, PreparedWrite }

interface Pending {
  series: Record<string, unknown>[]
  /** TabSeparated lines (as functions and stacks), rendered by prepareWrite: 4× cheaper to build and parse than JSON. */
  samples: string[]
  sampleCount: number
  stacks: string[]
  functions: string[]
  /** Cache keys this batch writes; marked written when the insert succeeds. */
  /** Cache entries this batch claims, as parallel arrays (cache, id): half a million in a large batch. */
  newCaches: Map<string, number>[]
  newIds: string[]
  newSeries: string[]
  waiters: { resolve: () => void; reject: (e: unknown) => void }[]
}

const emptyPending = (): Pending => ({ series: [], samples: [], sampleCount: 0, stacks: [], functions: [], newCaches: [], newIds: [], newSeries: [], waiters: [] })

// A stack or function is rewritten at most once per hour while in use, which keeps its
// `last_seen` fresh for retention without re-inserting it with every profile.
const REFRESH_MS = 3_600_000
const CACHE_LIMIT = 2_000_000
const INSERT_CHUNK = 4 << 20
const SLICE = 32_768

/**
 * Group commit: writes that arrive while an insert is running go to ClickHouse together as the
 * next insert (one per table), and each caller's promise resolves only after its insert returned
 * (fsynced): an acknowledged ingest is durable. An idle writer flushes at once; under load the
 * batches grow by themselves, which also keeps MergeTree's part count low.
 */
export class Writer {
  private pending = emptyPending()
  private scheduled = false
  private running: Promise<void> | null = null
  // Per tenant and kind (`tenant\0f`, `tenant\0s`): id → last written ms (-1: claimed by a batch in
  // flight). Keyed by the id as it comes, so a lookup hashes no concatenated string.
  private readonly seen = new Map<string, Map<string, number>>()
  private readonly seenSeries = new Map<string, number>()
  samplesWritten = 0
  /** The store's message while its last group commit failed; undefined once one succeeds. */
  lastError: string | undefined

  constructor(
    private readonly client: ClickHouseClient,
    private readonly db: string,
    /** flushMs: extra wait before an idle writer flushes, to gather more (0: none). */
    private readonly opts: { flushMs: number } = { flushMs: 0 },
  ) {}

  /** Queues the writes; resolves once they are durable. */
  write(tenant: string, writes: SeriesWrite[]): Promise<void> {
    const nowS = Math.floor(Date.now() / 1000)
    return this.writePrepared(tenant, writes.map((w) => prepareWrite(tenant, w, nowS)))
  }

  /**
   * Queues writes already prepared for `tenant` (e.g. in a worker thread); resolves once they are
   * durable. A large upload is taken in slices of 32,768 ids with a turn of the event loop between
   * them (a 15 MB body of 250,000 distinct stacks held it for 0.6 s in one go); rows a flush took
   * meanwhile are awaited with their batch.
   */
  async writePrepared(tenant: string, writes: PreparedWrite[]): Promise<void> {
    const now = Date.now()
    const batches: Promise<void>[] = []
    const fnCache = this.cache(`${tenant}\u0000f`)
    const stackCache = this.cache(`${tenant}\u0000s`)
    let work = 0
    for (const w of writes) {
      const skey = `${tenant}\u0000${w.seriesId}`
      if (!((this.seenSeries.get(skey) ?? 0) > now - REFRESH_MS)) {
        this.pending.series.push(w.seriesRow)
        this.pending.newSeries.push(skey)
      }
      for (const [cache, ids, rows, table] of [
        [fnCache, w.fnIds, w.fnRows, 'functions'],
        [stackCache, w.stackIds, w.stackRows, 'stacks'],
      ] as const) {
        for (let from = 0; from < ids.length; from += SLICE) {
          const p = this.pending
          this.claim(p, p[table], cache, ids, rows, from, Math.min(ids.length, from + SLICE), now)
          work += SLICE
          if (work >= SLICE && from + SLICE < ids.length) {
            batches.push(this.waitFor(p))
            await new Promise((r) => setImmediate(r))
            work = 0
          }
        }
      }
      this.pending.samples.push(w.samples)
      this.pending.sampleCount += w.sampleCount
    }
    batches.push(this.waitFor(this.pending))
    await Promise.all(batches)
  }

  /** A promise of the batch `p`'s commit; schedules a flush. */
  private waitFor(p: Pending): Promise<void> {
    const done = new Promise<void>((resolve, reject) => p.waiters.push({ resolve, reject }))
    this.flushSoon()
    return done
  }

  private cache(name: string): Map<string, number> {
    let c = this.seen.get(name)
    if (!c) this.seen.set(name, (c = new Map()))
    return c
  }

  /** Adds the rows whose ids were never written, or over an hour ago (and are not claimed), claiming them. */
  private claim(p: Pending, rows: string[], cache: Map<string, number>, ids: readonly string[], lines: readonly string[], from: number, to: number, now: number): void {
    const stale = now - REFRESH_MS
    for (let i = from; i < to; i++) {
      const id = ids[i]!
      const t = cache.get(id)
      if (t === undefined || (t >= 0 && t <= stale)) {
        cache.set(id, -1)
        rows.push(lines[i]!)
        p.newCaches.push(cache)
        p.newIds.push(id)
      }
    }
  }

  private flushSoon(): void {
    if (this.scheduled || this.running) return
    this.scheduled = true
    const go = () => {
      this.scheduled = false
      this.running = this.loop()
    }
    if (this.opts.flushMs > 0) setTimeout(go, this.opts.flushMs)
    else setImmediate(go)
  }

  /** Flushes until nothing is pending; writes that arrive meanwhile join the next flush. */
  private async loop(): Promise<void> {
    try {
      while (this.pending.waiters.length) await this.flush()
    } finally {
      this.running = null
    }
  }

  /** Resolves once everything queued so far is written (used on shutdown). */
  async drain(): Promise<void> {
    while (this.scheduled || this.running) {
      if (this.running) await this.running
      else await new Promise((r) => setTimeout(r, Math.max(1, this.opts.flushMs)))
    }
  }

  /** One insert of rendered TabSeparated rows, sent as they are (no per-row serialization by the client). */
  private async insert(table: string, rows: string[]): Promise<void> {
    // In inserts of at most 4 MiB of text: the embedded engine takes its input on the calling
    // thread, and 30 MB in one insert held the event loop for seconds (measured with two 15 MB uploads).
    let from = 0
    let size = 0
    for (let i = 0; i < rows.length; i++) {
      size += rows[i]!.length
      if (size < INSERT_CHUNK && i < rows.length - 1) continue
      const text = rows.slice(from, i + 1).join('')
      await this.client.insert({ table: `${this.db}.${table}`, values: Readable.from([Buffer.from(text)], { objectMode: false }), format: 'TabSeparated' })
      from = i + 1
      size = 0
    }
  }

  private async flush(): Promise<void> {
    const p = this.pending
    this.pending = emptyPending()
    if (p.waiters.length === 0) return
    try {
      // Metadata first: a sample is never visible before its stack and series are.
      const t0 = performance.now()
      // The three are independent of each other: written together, then the samples that use them.
      await Promise.all([
        p.functions.length ? this.insert('functions', p.functions) : null,
        p.stacks.length ? this.insert('stacks', p.stacks) : null,
        p.series.length ? this.client.insert({ table: `${this.db}.series`, values: p.series, format: 'JSONEachRow' }) : null,
      ])
      if (p.sampleCount) await this.insert('samples', p.samples)
      if (process.env.KILN_DEBUG_WRITES) process.stderr.write(`flush: ${p.waiters.length} writes, ${p.sampleCount} samples, ${p.stacks.length} stacks, ${p.functions.length} functions, ${p.series.length} series in ${(performance.now() - t0).toFixed(1)} ms\n`)
      const now = Date.now()
      for (let i = 0; i < p.newIds.length; i++) p.newCaches[i]!.set(p.newIds[i]!, now)
      for (const k of p.newSeries) this.seenSeries.set(k, now)
      for (const c of this.seen.values()) if (c.size > CACHE_LIMIT) c.clear()
      if (this.seenSeries.size > CACHE_LIMIT) this.seenSeries.clear()
      this.samplesWritten += p.sampleCount
      this.lastError = undefined
      for (const w of p.waiters) w.resolve()
    } catch (e) {
      // Later batches may count on this batch's stacks, functions and series (claimed above):
      // carry them over so the next insert writes them.
      const next = this.pending
      // Loops, not push(...rows): a batch can hold more rows than a call has room for arguments.
      for (const r of p.functions) next.functions.push(r)
      for (const r of p.stacks) next.stacks.push(r)
      for (const r of p.series) next.series.push(r)
      for (let i = 0; i < p.newIds.length; i++) {
        next.newCaches.push(p.newCaches[i]!)
        next.newIds.push(p.newIds[i]!)
      }
      for (const k of p.newSeries) next.newSeries.push(k)
      this.lastError = (e as Error).message.split('\n')[0]!.slice(0, 300)
      const err = new KilnError('KILN_STORE', `the store did not accept the write (retry later): ${(e as Error).message}`)
      for (const w of p.waiters) w.reject(err)
    }
  }
}


