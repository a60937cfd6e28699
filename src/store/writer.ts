import type { ClickHouseClient } from '@clickhouse/client'
import { Readable } from 'node:stream'
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
  /** TabSeparated lines: 4× cheaper to build and parse than JSON. */
  samples: string[]
  stacks: object[]
  functions: object[]
  /** Cache keys this batch writes; marked written when the insert succeeds. */
  newKeys: string[]
  newSeries: string[]
  waiters: { resolve: () => void; reject: (e: unknown) => void }[]
}

const emptyPending = (): Pending => ({ series: [], samples: [], stacks: [], functions: [], newKeys: [], newSeries: [], waiters: [] })

// A stack or function is rewritten at most once per hour while in use, which keeps its
// `last_seen` fresh for retention without re-inserting it with every profile.
const REFRESH_MS = 3_600_000
const CACHE_LIMIT = 2_000_000

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
  private readonly seen = new Map<string, number>() // tenant/stack or function key → last written ms
  private readonly seenSeries = new Map<string, number>()
  samplesWritten = 0

  constructor(
    private readonly client: ClickHouseClient,
    private readonly db: string,
    /** flushMs: extra wait before an idle writer flushes, to gather more (0: none). */
    private readonly opts: { flushMs: number } = { flushMs: 0 },
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
      }
      const head = `${tsv(tenant)}\t${tsv(w.profileType)}\t${seriesId}\t${(w.timeMs / 1000).toFixed(3)}\t`
      const tail = `\t${Math.max(0, Math.round(w.durationNs))}\n`
      for (const [stackId, value] of merged) p.samples.push(`${head}${stackId}\t${Math.round(value)}${tail}`)
    }
    const done = new Promise<void>((resolve, reject) => p.waiters.push({ resolve, reject }))
    this.flushSoon()
    return done
  }

  /** True when the key was never written, or written over an hour ago (and not claimed). */
  private isStale(key: string, now: number): boolean {
    const t = this.seen.get(key)
    return t === undefined || (t >= 0 && t <= now - REFRESH_MS)
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

  private async flush(): Promise<void> {
    const p = this.pending
    this.pending = emptyPending()
    if (p.waiters.length === 0) return
    try {
      // Metadata first: a sample is never visible before its stack and series are.
      const t0 = performance.now()
      const meta: [string, object[]][] = [
        ['functions', p.functions],
        ['stacks', p.stacks],
        ['series', p.series],
      ]
      for (const [table, rows] of meta) {
        if (rows.length) await this.client.insert({ table: `${this.db}.${table}`, values: rows, format: 'JSONEachRow' })
      }
      if (p.samples.length) {
        await this.client.insert({ table: `${this.db}.samples`, values: Readable.from([Buffer.from(p.samples.join(''))], { objectMode: false }), format: 'TabSeparated' })
      }
      if (process.env.KILN_DEBUG_WRITES) process.stderr.write(`flush: ${p.waiters.length} writes, ${p.samples.length} samples, ${p.stacks.length} stacks, ${p.functions.length} functions, ${p.series.length} series in ${(performance.now() - t0).toFixed(1)} ms\n`)
      const now = Date.now()
      for (const k of p.newKeys) this.seen.set(k, now)
      for (const k of p.newSeries) this.seenSeries.set(k, now)
      if (this.seen.size > CACHE_LIMIT) this.seen.clear()
      if (this.seenSeries.size > CACHE_LIMIT) this.seenSeries.clear()
      this.samplesWritten += p.samples.length
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

/** Escapes a string for ClickHouse's TabSeparated format. */
function tsv(s: string): string {
  return /[\\\t\n]/.test(s) ? s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n') : s
}
