import type { ClickHouseClient } from '@clickhouse/client'
import { KilnError } from '../model/errors.ts'
import { hash64 } from '../model/hash.ts'
import { getLabel, labelsHash, type Labels } from '../model/labels.ts'

/** One series' part of one ingested profile: what the writer stores. */
export interface SeriesWrite {
  profileType: string
  /** Full series labels, including __name__ and service_name. */
  labels: Labels
  timeMs: number
  durationNs: number
  /** The profile's function table (index 0 unused). */
  functions: string[]
  /** Stacks as function indices, root first, with one value each. */
  stacks: number[][]
  values: number[]
}

interface Pending {
  series: object[]
  profiles: object[]
  samples: object[]
  stacks: object[]
  functions: object[]
  /** Cache keys this batch writes; marked written when the insert succeeds. */
  newKeys: string[]
  newSeries: string[]
  waiters: { resolve: () => void; reject: (e: unknown) => void }[]
}

const emptyPending = (): Pending => ({ series: [], profiles: [], samples: [], stacks: [], functions: [], newKeys: [], newSeries: [], waiters: [] })

// A stack or function is rewritten at most once per hour while in use, which keeps its
// `last_seen` fresh for retention without re-inserting it with every profile.
const REFRESH_MS = 3_600_000
const CACHE_LIMIT = 2_000_000

/**
 * Group commit: writes arriving within `flushMs` of each other go to ClickHouse as one insert per
 * table, and each caller's promise resolves only after that insert returned (fsynced): an
 * acknowledged ingest is durable. Fewer, larger inserts also keep MergeTree's part count low.
 */
export class Writer {
  private pending = emptyPending()
  private timer: NodeJS.Timeout | null = null
  private flushing: Promise<void> = Promise.resolve()
  private readonly seen = new Map<string, number>() // tenant/stack or function key → last written ms
  private readonly seenSeries = new Map<string, number>()
  samplesWritten = 0
  profilesWritten = 0

  constructor(
    private readonly client: ClickHouseClient,
    private readonly db: string,
    private readonly opts: { flushMs: number; maxPendingRows: number } = { flushMs: 25, maxPendingRows: 200_000 },
  ) {}

  /** Queues the writes; resolves once they are durable. */
  write(tenant: string, writes: SeriesWrite[]): Promise<void> {
    const now = Date.now()
    const nowS = Math.floor(now / 1000)
    const p = this.pending
    for (const w of writes) {
      const seriesId = labelsHash([['__profile_type__', w.profileType], ...w.labels])
      const skey = `${tenant}\u0000${seriesId}`
      if (!((this.seenSeries.get(skey) ?? 0) > now - REFRESH_MS)) {
        p.series.push({ tenant, profile_type: w.profileType, series_id: seriesId, service_name: getLabel(w.labels, 'service_name') ?? '', labels: Object.fromEntries(w.labels), last_seen: nowS })
        p.newSeries.push(skey)
      }
      const fnIds: string[] = new Array(w.functions.length)
      const merged = new Map<string, number>()
      let total = 0
      for (let i = 0; i < w.stacks.length; i++) {
        const v = w.values[i]!
        if (!v) continue
        const stack = w.stacks[i]!
        let key = ''
        for (const f of stack) {
          let id = fnIds[f]
          if (id === undefined) {
            id = fnIds[f] = hash64(w.functions[f]!)
            const fk = `${tenant}\u0000f${id}`
            if (this.isStale(fk, now)) {
              this.seen.set(fk, -1) // claimed by this batch
              p.functions.push({ tenant, function_id: id, name: w.functions[f], last_seen: nowS })
              p.newKeys.push(fk)
            }
          }
          key += id + ','
        }
        const stackId = hash64(key)
        const prev = merged.get(stackId)
        if (prev === undefined) {
          merged.set(stackId, v)
          const sk = `${tenant}\u0000s${stackId}`
          if (this.isStale(sk, now)) {
            this.seen.set(sk, -1) // claimed by this batch
            p.stacks.push({ tenant, stack_id: stackId, function_ids: stack.map((f) => fnIds[f]), last_seen: nowS })
            p.newKeys.push(sk)
          }
        } else merged.set(stackId, prev + v)
        total += v
      }
      for (const [stackId, value] of merged) p.samples.push({ tenant, profile_type: w.profileType, series_id: seriesId, time: w.timeMs, stack_id: stackId, value: Math.round(value) })
      p.profiles.push({ tenant, profile_type: w.profileType, series_id: seriesId, time: w.timeMs, duration_ns: Math.max(0, Math.round(w.durationNs)), total: Math.round(total) })
    }
    const done = new Promise<void>((resolve, reject) => p.waiters.push({ resolve, reject }))
    if (p.samples.length >= this.opts.maxPendingRows) this.flushSoon(0)
    else this.flushSoon(this.opts.flushMs)
    return done
  }

  /** True when the key was never written, or written over an hour ago (and not claimed). */
  private isStale(key: string, now: number): boolean {
    const t = this.seen.get(key)
    return t === undefined || (t >= 0 && t <= now - REFRESH_MS)
  }

  private flushSoon(ms: number): void {
    if (this.timer && ms > 0) return
    if (this.timer) clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = null
      this.flushing = this.flushing.then(() => this.flush())
    }, ms)
  }

  /** Writes everything pending now; resolves when done (used on shutdown). */
  async drain(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer)
      this.timer = null
      this.flushing = this.flushing.then(() => this.flush())
    }
    await this.flushing
  }

  private async flush(): Promise<void> {
    const p = this.pending
    this.pending = emptyPending()
    if (p.waiters.length === 0) return
    try {
      // Metadata first: a sample is never visible before its stack and series are.
      const order: [string, object[]][] = [
        ['functions', p.functions],
        ['stacks', p.stacks],
        ['series', p.series],
        ['samples', p.samples],
        ['profiles', p.profiles],
      ]
      for (const [table, rows] of order) {
        if (rows.length) await this.client.insert({ table: `${this.db}.${table}`, values: rows, format: 'JSONEachRow' })
      }
      const now = Date.now()
      for (const k of p.newKeys) this.seen.set(k, now)
      for (const k of p.newSeries) this.seenSeries.set(k, now)
      if (this.seen.size > CACHE_LIMIT) this.seen.clear()
      if (this.seenSeries.size > CACHE_LIMIT) this.seenSeries.clear()
      this.samplesWritten += p.samples.length
      this.profilesWritten += p.profiles.length
      for (const w of p.waiters) w.resolve()
    } catch (e) {
      // Later batches may count on this batch's stacks, functions and series (claimed above):
      // carry them over so the next insert writes them.
      const next = this.pending
      next.functions.push(...p.functions)
      next.stacks.push(...p.stacks)
      next.series.push(...p.series)
      next.newKeys.push(...p.newKeys)
      next.newSeries.push(...p.newSeries)
      const err = new KilnError('KILN_STORE', `the store did not accept the write (retry later): ${(e as Error).message}`)
      for (const w of p.waiters) w.reject(err)
    }
  }
}
