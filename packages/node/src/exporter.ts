/**
 * Pushes profiles to `/ingest` (Pyroscope's multipart form: a gzipped pprof in the `profile` field)
 * without ever blocking or crashing the application: a bounded queue, one upload at a time with a
 * timeout, retries with exponential back-off, and drops counted in a log line.
 */
export interface Upload {
  /** `app{k=v,…}`: the series name with static tags. */
  name: string
  pprof: Uint8Array
  fromMs: number
  untilMs: number
  sampleRate?: number
}

export interface ExporterOptions {
  serverAddress: string
  authToken?: string
  basicAuthUser?: string
  basicAuthPassword?: string
  tenantID?: string
  /** Uploads waiting at most; the oldest is dropped beyond (default 8: two minutes at 15 s). */
  maxQueue: number
  /** Per-request timeout, ms (default 10 s). */
  timeoutMs: number
  /** Attempts per upload (default 3), with back-off `retryBaseMs · 2^n` between them. */
  attempts: number
  retryBaseMs: number
  log: (msg: string) => void
}

// A failed upload's drops are logged at most this often, so a dead server does not flood logs.
const LOG_EVERY_MS = 60_000

export class Exporter {
  private readonly queue: Upload[] = []
  private running: Promise<void> | null = null
  private sending = false
  private lastLog = 0
  private droppedSinceLog = 0
  private lastError = ''
  /** Profiles sent, and dropped (queue full, retries exhausted, or refused by the server). */
  sent = 0
  dropped = 0

  constructor(private readonly o: ExporterOptions) {}

  /** Queues an upload; never waits for the network. */
  push(u: Upload): void {
    if (this.queue.length >= this.o.maxQueue) {
      // The oldest waiting one: the head may be on the wire already.
      if (this.queue.splice(this.sending ? 1 : 0, 1).length)
        this.drop(1, `queue full (${this.o.maxQueue} profiles waiting; ${this.lastError || 'server slow'})`)
    }
    this.queue.push(u)
    this.running ??= this.drain().finally(() => (this.running = null))
  }

  /** Waits until the queue is empty or `deadlineMs` passes; then drops what is left. */
  async flush(deadlineMs: number): Promise<void> {
    const until = Date.now() + deadlineMs
    while (this.running && Date.now() < until) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([this.running, new Promise((r) => (timer = setTimeout(r, Math.max(1, until - Date.now()))))])
      clearTimeout(timer)
    }
    // What waits is dropped; an upload on the wire finishes (or times out) and is counted then.
    const n = this.queue.splice(this.sending ? 1 : 0).length
    if (n) this.drop(n, `not sent before stop (${this.lastError || 'server slow'})`, true)
    else if (this.droppedSinceLog) this.drop(0, this.lastError, true)
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const u = this.queue[0]!
      let ok = false
      for (let attempt = 0; attempt < this.o.attempts && !ok; attempt++) {
        if (attempt > 0) await sleep(this.o.retryBaseMs * 2 ** (attempt - 1))
        if (this.queue[0] !== u) break // dropped (and counted) while waiting
        this.sending = true
        const r = await this.send(u).finally(() => (this.sending = false))
        if (r === 'ok') ok = true
        else if (r === 'refused') break
      }
      if (this.queue[0] !== u) continue
      this.queue.shift()
      if (ok) this.sent++
      else this.drop(1, this.lastError)
    }
  }

  private async send(u: Upload): Promise<'ok' | 'retry' | 'refused'> {
    const params = new URLSearchParams({
      name: u.name,
      from: String(Math.floor(u.fromMs / 1000)),
      until: String(Math.ceil(u.untilMs / 1000)),
      spyName: 'nodespy',
    })
    if (u.sampleRate) params.set('sampleRate', String(u.sampleRate))
    const form = new FormData()
    form.append('profile', new Blob([u.pprof as Uint8Array<ArrayBuffer>]), 'profile.pprof')
    const headers: Record<string, string> = {}
    if (this.o.authToken) headers.authorization = `Bearer ${this.o.authToken}`
    else if (this.o.basicAuthUser)
      headers.authorization = `Basic ${Buffer.from(`${this.o.basicAuthUser}:${this.o.basicAuthPassword ?? ''}`).toString('base64')}`
    if (this.o.tenantID) headers['x-scope-orgid'] = this.o.tenantID
    try {
      const res = await fetch(`${this.o.serverAddress.replace(/\/+$/, '')}/ingest?${params}`, {
        method: 'POST',
        body: form,
        headers,
        signal: AbortSignal.timeout(this.o.timeoutMs),
      })
      const text = await res.text()
      if (res.ok) return 'ok'
      this.lastError = `server answered ${res.status}: ${text.slice(0, 200)}`
      // 429 and 5xx may pass; other 4xx will not (bad auth, bad profile): do not retry them.
      return res.status === 429 || res.status >= 500 ? 'retry' : 'refused'
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } }
      const cause = err.cause?.code ?? err.cause?.message
      this.lastError =
        err.name === 'TimeoutError' ? `no answer within ${this.o.timeoutMs} ms` : `${err.message}${cause ? ` (${cause})` : ''}`
      return 'retry'
    }
  }

  private drop(n: number, why: string, now = false): void {
    this.dropped += n
    this.droppedSinceLog += n
    const t = Date.now()
    if (now || t - this.lastLog >= LOG_EVERY_MS) {
      this.o.log(`@kiln/node: dropped ${this.droppedSinceLog} profile(s) for ${this.o.serverAddress} (${this.dropped} in total): ${why}`)
      this.lastLog = t
      this.droppedSinceLog = 0
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref())
}
