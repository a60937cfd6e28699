/**
 * Pull mode: the server scrapes Go-style pprof endpoints of its `scrape:` targets on an interval
 * and writes what it gets through the same path as /ingest. Cumulative profiles (heap allocations,
 * mutex and block contention) become deltas between scrapes. Each target's last error and time
 * are kept for `GET /api/v1/scrape-targets`.
 */
import { KilnError } from '../model/errors.ts'
import { makeLabels } from '../model/labels.ts'
import { ProfileBuilder, type Profile } from '../model/profile.ts'
import { decodePprof } from '../formats/index.ts'
import type { Ingester } from '../ingest/index.ts'
import type { ScrapeProfile, ScrapeTarget } from './scrape-config.ts'

/** What the scraper needs of the server: the ingest path, the size limits, a log. */
export interface ScrapeContext {
  ingest: Ingester
  /** Largest answer read from a target, bytes. */
  maxBodyBytes: number
  log(msg: string): void
}

/** What the API shows of one profile path of a target. */
export interface ProfileStatus {
  path: string
  health: 'unknown' | 'up' | 'down'
  lastScrape?: string
  lastDurationMs?: number
  lastError?: string
  lastErrorTime?: string
  /** Series written by the last successful scrape. */
  lastSeries?: number
  /** Successful scrapes so far. */
  scrapes: number
}

export interface TargetStatus {
  url: string
  labels: Record<string, string>
  interval: string
  health: 'unknown' | 'up' | 'down'
  lastError?: string
  lastErrorTime?: string
  profiles: ProfileStatus[]
}

/** Values per stack and sample labels, for deltas of cumulative profiles. */
type Counters = Map<string, number[]>

class TargetLoop {
  readonly status: ProfileStatus[]
  private readonly previous = new Map<string, { counters: Counters; atMs: number }>()
  private timer: NodeJS.Timeout | null = null
  private readonly abort = new AbortController()
  private round: Promise<void> = Promise.resolve()

  constructor(
    readonly t: ScrapeTarget,
    private readonly ctx: ScrapeContext,
  ) {
    this.status = t.profiles.map((p) => ({ path: p.path, health: 'unknown', scrapes: 0 }))
  }

  start(): void {
    // Rounds start every interval; a round that ran longer starts the next one at once.
    const tick = () => {
      const started = Date.now()
      this.round = this.scrapeAll().finally(() => {
        if (!this.abort.signal.aborted) this.timer = setTimeout(tick, Math.max(0, started + this.t.intervalMs - Date.now())).unref()
      })
    }
    tick()
  }

  async stop(): Promise<void> {
    this.abort.abort()
    if (this.timer) clearTimeout(this.timer)
    await this.round
  }

  /** One round: every profile of the target at once (the CPU one takes `seconds`). */
  private async scrapeAll(): Promise<void> {
    await Promise.all(this.t.profiles.map((p, i) => this.scrapeOne(p, this.status[i]!)))
  }

  private async scrapeOne(p: ScrapeProfile, st: ProfileStatus): Promise<void> {
    const started = Date.now()
    try {
      const profile = await this.fetchProfile(p)
      const written = await this.write(p, profile, started)
      st.health = 'up'
      st.lastSeries = written
      st.scrapes++
    } catch (e) {
      if (this.abort.signal.aborted) return
      st.health = 'down'
      st.lastError = (e as Error).message
      st.lastErrorTime = new Date().toISOString()
      this.ctx.log(`scrape ${this.t.url}${p.path}: ${st.lastError}`)
    } finally {
      st.lastScrape = new Date(started).toISOString()
      st.lastDurationMs = Date.now() - started
    }
  }

  private async fetchProfile(p: ScrapeProfile): Promise<Profile> {
    const url = `${this.t.url}${p.path}${p.seconds ? `${p.path.includes('?') ? '&' : '?'}seconds=${this.t.seconds}` : ''}`
    const timeoutMs = this.t.timeoutMs + (p.seconds ? this.t.seconds * 1000 : 0)
    // One controller for both the deadline and the server's stop (AbortSignal.any with a timeout
    // signal does not always fire in Node 20).
    const ac = new AbortController()
    const timer = setTimeout(() => ac.abort(new DOMException('timeout', 'TimeoutError')), timeoutMs)
    const onStop = () => ac.abort()
    this.abort.signal.addEventListener('abort', onStop)
    let body: Uint8Array
    try {
      const res = await fetch(url, { signal: ac.signal, headers: { accept: 'application/octet-stream', ...this.t.headers } })
      body = await readLimited(res, this.ctx.maxBodyBytes)
      if (res.status !== 200) {
        const text = new TextDecoder().decode(body.subarray(0, 300)).trim().split('\n')[0]
        const hint = res.status === 404 ? " (does the target serve this path? remove it from the target's profiles otherwise)" : ''
        throw new KilnError('KILN_BAD_REQUEST', `GET ${url} answered HTTP ${res.status}${text ? `: ${text}` : ''}${hint}`)
      }
    } catch (e) {
      if (e instanceof KilnError) throw e
      const err = e as Error & { cause?: { code?: string; message?: string } }
      if (err.name === 'TimeoutError') {
        const parts = p.seconds ? ` (the target's timeout ${this.t.timeoutMs} ms plus the profile's ${this.t.seconds} s)` : ''
        throw new KilnError(
          'KILN_BAD_REQUEST',
          `GET ${url}: no complete answer within ${timeoutMs} ms${parts}; raise the target's timeout if it is only slow`,
        )
      }
      throw new KilnError('KILN_BAD_REQUEST', `GET ${url}: ${err.message}${err.cause ? ` (${err.cause.code ?? err.cause.message})` : ''}`)
    } finally {
      clearTimeout(timer)
      this.abort.signal.removeEventListener('abort', onStop)
    }
    try {
      const { maxDecompressedBytes, limits } = this.ctx.ingest.config
      return decodePprof(body, { maxBytes: maxDecompressedBytes, limits })
    } catch (e) {
      throw new KilnError('KILN_BAD_PPROF', `GET ${url} did not return a pprof profile: ${(e as Error).message}`)
    }
  }

  /** Writes a scraped profile (deltas for its cumulative types); returns the series written. */
  private async write(p: ScrapeProfile, profile: Profile, startedMs: number): Promise<number> {
    const now = Date.now()
    const prev = this.previous.get(p.path)
    let out = profile
    if (p.cumulative.length) {
      const d = delta(profile, p.cumulative, prev?.counters)
      this.previous.set(p.path, { counters: d.counters, atMs: now })
      out = d.profile
    }
    const { service_name: service, ...rest } = this.t.labels
    const instance = new URL(this.t.url).host
    const labels = makeLabels([['instance', instance], ...Object.entries(rest)], this.ctx.ingest.config.labelLimits)
    const fromMs = prev ? prev.atMs : p.seconds ? now - this.t.seconds * 1000 : startedMs
    // Deltas span the time since the previous scrape, not the profile's own time stamp.
    if (p.cumulative.length) out = { ...out, timeMs: 0, durationNanos: 0 }
    const meta = {
      app: service ?? instance,
      labels,
      fromMs,
      untilMs: now,
      sampleRate: 100,
      spyName: 'scrape',
      labelLimits: this.ctx.ingest.config.labelLimits,
    }
    return this.ctx.ingest.profile(this.t.tenant, out, meta, p.metric ? { metricName: p.metric } : {})
  }
}

/** Reads a response body, refusing more than `max` bytes. */
async function readLimited(res: Response, max: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const c of res.body ?? []) {
    const chunk = c as Uint8Array
    size += chunk.length
    if (size > max) throw new KilnError('KILN_TOO_LARGE', `answer is over ${max} bytes (server option max-body-bytes)`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

/**
 * The profile with its cumulative sample types replaced by their growth since `previous` (zero on
 * the first scrape, and the whole value after a restart, when a counter went down).
 */
export function delta(p: Profile, cumulative: string[], previous: Counters | undefined): { profile: Profile; counters: Counters } {
  const which = p.sampleTypes.map((st) => cumulative.includes(st.type))
  // Samples summed by stack and labels (a pprof may repeat a stack).
  const counters: Counters = new Map()
  const firsts = new Map<string, Profile['samples'][number]>()
  for (const s of p.samples) {
    const key = `${s.stack.join(',')}${s.labels ? `|${JSON.stringify(s.labels)}` : ''}`
    const c = counters.get(key)
    if (c) for (let i = 0; i < c.length; i++) c[i]! += s.values[i]!
    else {
      counters.set(key, [...s.values])
      firsts.set(key, s)
    }
  }
  const restarted =
    previous !== undefined && [...counters].some(([key, now]) => which.some((w, i) => w && now[i]! < (previous.get(key)?.[i] ?? 0)))
  const b = new ProfileBuilder({
    sampleTypes: p.sampleTypes,
    periodType: p.periodType,
    period: p.period,
    timeMs: p.timeMs,
    durationNanos: p.durationNanos,
  })
  // Same function indices as `p`: its frames (name and source) are already unique.
  for (let i = 1; i < p.functions.length; i++) b.frame(p.functions[i]!, p.sources?.[i])
  for (const [key, now] of counters) {
    const before = restarted ? undefined : previous?.get(key)
    const s = firsts.get(key)!
    b.add(
      s.stack,
      now.map((v, i) => (!which[i] ? v : !previous ? 0 : Math.max(0, v - (before?.[i] ?? 0)))),
      s.labels,
    )
  }
  return { profile: b.build(), counters }
}

/** Runs every target's loop; `status()` is what the API lists. */
export class Scraper {
  private readonly loops: TargetLoop[]
  constructor(targets: ScrapeTarget[], ctx: ScrapeContext) {
    this.loops = targets.map((t) => new TargetLoop(t, ctx))
    for (const l of this.loops) l.start()
    if (targets.length) ctx.log(`scraping ${targets.length} target(s): ${targets.map((t) => t.url).join(', ')}`)
  }

  /** Every target's status, or only those writing to `tenant`. */
  status(tenant?: string): TargetStatus[] {
    return this.loops
      .filter((l) => tenant === undefined || l.t.tenant === tenant)
      .map((l) => {
        const failed = l.status.filter((s) => s.lastErrorTime).sort((a, b) => (a.lastErrorTime! < b.lastErrorTime! ? 1 : -1))[0]
        const health = l.status.some((s) => s.health === 'down') ? 'down' : l.status.every((s) => s.health === 'up') ? 'up' : 'unknown'
        return {
          url: l.t.url,
          labels: l.t.labels,
          interval: `${l.t.intervalMs / 1000}s`,
          health,
          ...(failed ? { lastError: `${failed.path}: ${failed.lastError}`, lastErrorTime: failed.lastErrorTime } : {}),
          profiles: l.status,
        }
      })
  }

  async stop(): Promise<void> {
    await Promise.all(this.loops.map((l) => l.stop()))
  }
}
