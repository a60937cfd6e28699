/**
 * Applies logged commits to the embedded engine after they were acknowledged. The engine's
 * insert is the slow part of a commit (tens of ms, hundreds on a loaded machine, whatever its
 * size), so the commits logged meanwhile go in together: one insert per table for all of them.
 * A group is named in the log (its token and its commits') before its insert, so a restart
 * inserts the same rows under the same token and the engine keeps what it has. An insert the
 * engine refuses is tried again, under the same token, until it takes it: the client was told
 * the rows are stored.
 */
import type { InsertRows } from './client.ts'
import type { Wal, WalPart, WalRecord, WalSegment } from './wal.ts'

// Logged rows waiting for the engine: over this, commits wait before logging more.
const BACKLOG_BYTES = 256 << 20
// One group's rows at most, so a backlog goes in as several inserts, not one huge one.
const GROUP_BYTES = 64 << 20
const RETRY_MS = 1000
// A group starts at most this often (unless a reader waits for it, or a group's worth of bytes
// is waiting): the engine's cost is per insert — a part per table, its merges later — not per
// row. Inserting each commit as its last insert returned cost ~1,250 us of the engine's threads
// per small profile under wrk; gathered 200 ms, ~300, and Kiln's CPU per profile halved; 1 s,
// 80–120 (fewer parts to write and merge). Readers do not wait for it (see `visible`).
const GATHER_MS = Number(process.env.KILN_APPLY_GATHER_MS ?? 1000)

interface Deferred {
  promise: Promise<void>
  resolve: () => void
}

function deferred(): Deferred {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

const size = (r: WalRecord) => r.parts.reduce((n, p) => n + p.chunks.reduce((m, c) => m + c.length, 0), 0)

/**
 * The samples' tables: samples_in (one row a write, unrolled by its view) and samples itself,
 * which records logged before samples_in existed name.
 */
const isSamples = (table: string) => table.endsWith('.samples_in') || table.endsWith('.samples')

/** Merges the records' parts by table, in their order; metadata tables first, samples last. */
export function mergeParts(records: WalRecord[]): { meta: WalPart[]; samples: WalPart[] } {
  const byTable = new Map<string, WalPart>()
  for (const r of records)
    for (const p of r.parts) {
      const m = byTable.get(p.table)
      if (m) m.chunks.push(...p.chunks)
      else byTable.set(p.table, { table: p.table, format: p.format, chunks: [...p.chunks] })
    }
  const all = [...byTable.values()]
  return { meta: all.filter((p) => !isSamples(p.table)), samples: all.filter((p) => isSamples(p.table)) }
}

/** Metadata first, so a sample is never visible before its stack and series are; then the samples. */
export async function insertMerged(insertRows: InsertRows, records: WalRecord[], token: string): Promise<void> {
  const { meta, samples } = mergeParts(records)
  await Promise.all(meta.map((p) => insertRows(p.table, p.format, p.chunks, token)))
  for (const p of samples) await insertRows(p.table, p.format, p.chunks, token)
}

export class Applier {
  private queue: { record: WalRecord; seg: WalSegment }[] = []
  private queuedBytes = 0
  private next = deferred()
  private readonly attempts = new Set<Promise<void>>()
  private running = 0
  private groups = 0
  private roomWaiters: (() => void)[] = []
  private stopped = false
  private lastStart = 0
  private timer: NodeJS.Timeout | undefined
  /** A reader waits for what is queued. */
  private urgent = false
  /** The engine's message while it refuses the last group; undefined once it takes one. */
  lastError: string | undefined

  constructor(
    private readonly wal: Wal,
    private readonly insertRows: InsertRows,
    /** Unique to this process: group tokens must not repeat a former process's. */
    private readonly run: string,
    /** Groups inserted at once. */
    private readonly parallel: number,
    /** For the durability tests: called once a group's inserts returned, before the log hears of it. */
    private readonly afterInsert: (tokens: string[]) => void = () => {},
  ) {}

  /** Resolves while the backlog of logged rows is under its limit. */
  room(): Promise<void> {
    if (this.queuedBytes < BACKLOG_BYTES) return Promise.resolve()
    return new Promise((r) => this.roomWaiters.push(r))
  }

  /** A commit that is in the log (durable); the engine gets it soon. */
  add(record: WalRecord, seg: WalSegment): void {
    this.queue.push({ record, seg })
    this.queuedBytes += size(record)
    this.kick()
  }

  /** Resolves once every commit added before the call had an insert attempt: reads see what was acknowledged. */
  visible(): Promise<void> {
    if (!this.queue.length && !this.attempts.size) return Promise.resolve()
    // A reader does not wait for the gathering: what is queued goes in as soon as a slot is free.
    if (this.queue.length) {
      this.urgent = true
      this.kick()
    }
    return Promise.all([...this.attempts, this.queue.length ? this.next.promise : null]).then(() => {})
  }

  /**
   * On shutdown: resolves once everything added is in the engine, or the engine refused it, which
   * then stays in the log for the next start (no more attempts here).
   */
  async drain(): Promise<void> {
    while (this.queue.length || this.running) {
      await this.visible()
      if (this.lastError) {
        this.stopped = true
        return
      }
    }
  }

  private kick(): void {
    const wait = this.lastStart + GATHER_MS - performance.now()
    if (!this.urgent && wait > 0 && this.queuedBytes < GROUP_BYTES && this.queue.length && this.running < this.parallel) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined
        this.kick()
      }, wait)
      return
    }
    while (this.queue.length && this.running < this.parallel) {
      this.lastStart = performance.now()
      let n = 0
      let bytes = 0
      while (n < this.queue.length && (n === 0 || bytes < GROUP_BYTES)) bytes += size(this.queue[n++]!.record)
      const items = this.queue.splice(0, n)
      if (!this.queue.length) this.urgent = false
      this.queuedBytes -= bytes
      const first = this.next
      this.next = deferred()
      this.running++
      void this.apply(items, first)
    }
    if (this.queuedBytes < BACKLOG_BYTES) for (const r of this.roomWaiters.splice(0)) r()
  }

  private async apply(items: { record: WalRecord; seg: WalSegment }[], attempt: Deferred): Promise<void> {
    const token = `${this.run}-g${++this.groups}`
    const records = items.map((i) => i.record)
    let named = false
    for (;;) {
      this.attempts.add(attempt.promise)
      try {
        // Named in the log before the engine sees it: a restart groups these rows the same way.
        if (!named)
          await this.wal.group(
            token,
            records.map((r) => r.token),
          )
        named = true
        const t0 = performance.now()
        await insertMerged(this.insertRows, records, token)
        if (process.env.KILN_DEBUG_WRITES)
          process.stderr.write(`engine group ${token}: ${records.length} commits in ${(performance.now() - t0).toFixed(1)} ms\n`)
        this.afterInsert(records.map((r) => r.token))
        for (const i of items) this.wal.applied(i.seg)
        this.lastError = undefined
        this.attempts.delete(attempt.promise)
        attempt.resolve()
        break
      } catch (e) {
        this.lastError = (e as Error).message.split('\n')[0]!.slice(0, 300)
        // Readers stop waiting for this group; the next attempt is what they wait for next.
        const failed = attempt
        attempt = deferred()
        this.attempts.delete(failed.promise)
        this.attempts.add(attempt.promise)
        failed.resolve()
        await new Promise((r) => setTimeout(r, RETRY_MS).unref())
        if (this.stopped) return
      }
    }
    this.running--
    this.kick()
  }
}
