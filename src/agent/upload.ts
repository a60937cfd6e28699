/**
 * The agent's upload queue, for profiles and trace batches alike: bounded in bytes, retried with
 * back-off, every drop counted.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from '../client/client.ts'
import { KilnError } from '../model/errors.ts'
import { gunzipSync, gzipSync } from 'node:zlib'
import { expandGroups } from '../model/trace-groups.ts'
import type { RowBatch } from '../trace/batch.ts'
import { postBuffer } from './post.ts'

/** One thing to POST: its size for the queue cap, its weight (samples, rows) for the log. */
export interface QueueItem {
  /** Names it in the log when the server refuses it. */
  label: string
  bytes: number
  count: number
  send: (server: string) => Promise<void>
}

/** One profile to POST: a process's folded stacks for one window. */
export interface Upload {
  /** `app.cpu{k=v,…}` */
  name: string
  folded: string
  samples: number
  from: number
  until: number
}

/** A profile as a queue item: POST /ingest?format=folded. */
export function profileItem(u: Upload, frequency: number): QueueItem {
  return {
    label: u.name,
    bytes: u.folded.length,
    count: u.samples,
    send: async (server) => {
      const q = new URLSearchParams({
        name: u.name,
        format: 'folded',
        sampleRate: String(frequency),
        spyName: 'kiln-agent',
        from: String(Math.floor(u.from / 1000)),
        until: String(Math.max(Math.ceil(u.until / 1000), Math.floor(u.from / 1000) + 1)),
      })
      const res = await request({ server }, `/ingest?${q}`, {
        method: 'POST',
        body: Buffer.from(u.folded, 'latin1'),
        headers: { 'content-type': 'text/plain' },
      })
      await res.arrayBuffer()
    },
  }
}

/**
 * Tracing rows as a queue item: POST /api/v1/trace/events, gzipped unless the batch was not. The
 * batch compressed its rows as they came (trace/batch.ts): here its last rows are. A server from
 * before the grouped body reads it as a table named "tables" and refuses it: the batch goes again
 * as plain JSON, and `oldServer` is called so that the next ones are built so.
 */
export function traceItem(batch: RowBatch, oldServer?: () => void): QueueItem {
  const count = batch.count
  const tables = batch.tableNames
  const { contentType, gzip } = batch
  const parts = batch.finish()
  const post = (server: string, b: Uint8Array[], type: string) =>
    postBuffer(server, '/api/v1/trace/events', b, { 'content-type': type, ...(gzip ? { 'content-encoding': 'gzip' } : {}) })
  return {
    label: `${count} rows of ${tables.join(', ')}`,
    bytes: parts.reduce((n, p) => n + p.length, 0),
    count,
    send: async (server) => {
      if (contentType === 'application/json') return post(server, parts, contentType)
      try {
        await post(server, parts, contentType)
      } catch (e) {
        if (!(e instanceof KilnError && /unknown table "tables"/.test(e.message))) throw e
        oldServer?.()
        await post(server, [plainBody(Buffer.concat(parts), gzip)], 'application/json')
      }
    },
  }
}

/** A grouped body as the plain JSON one (for servers before the grouped body; once, then batches are built plain). */
function plainBody(body: Buffer, gzip: boolean): Buffer {
  const text = JSON.stringify(expandGroups(JSON.parse((gzip ? gunzipSync(body) : body).toString('utf8'))))
  return gzip ? gzipSync(text, { level: 1 }) : Buffer.from(text)
}

export interface UploaderOptions {
  server: string
  /** What the queue holds, for the log: ['profiles', 'samples'] or ['trace batches', 'rows']. */
  nouns?: [items: string, units: string]
  /** Queue cap; the oldest items go first when it is full. */
  maxQueueBytes: number
  log: (line: string) => void
  /** First and longest wait between retries while the server is unreachable. */
  minBackoffMs?: number
  maxBackoffMs?: number
}

/** POSTs in flight at once. */
const PARALLEL = 4

export class Uploader {
  private queue: QueueItem[] = []
  private bytes = 0
  private pumping: Promise<void> | undefined
  private backoff: number
  private wake: AbortController | undefined
  private closing = false
  /** close() was called: one more try for what is queued, no more waiting on an unreachable server. */
  private draining = false
  /** Totals since start, for the log and the tests. */
  readonly stats = { sent: 0, sentUnits: 0, dropped: 0, droppedUnits: 0, rejected: 0, retries: 0 }
  private readonly items: string
  private readonly units: string

  constructor(private readonly o: UploaderOptions) {
    this.backoff = o.minBackoffMs ?? 1000
    ;[this.items, this.units] = o.nouns ?? ['profiles', 'samples']
  }

  get pending(): number {
    return this.queue.length
  }

  /** Queues items and starts sending; drops the oldest past the byte cap. */
  enqueue(items: QueueItem[]): void {
    for (const u of items) {
      this.queue.push(u)
      this.bytes += u.bytes
    }
    let dropped = 0
    let samples = 0
    while (this.bytes > this.o.maxQueueBytes && this.queue.length > 0) {
      const old = this.queue.shift()!
      this.bytes -= old.bytes
      dropped++
      samples += old.count
    }
    if (dropped) {
      this.stats.dropped += dropped
      this.stats.droppedUnits += samples
      this.o.log(
        `dropped ${dropped} ${this.items} (${samples} ${this.units}): queue over ${queueSize(this.o.maxQueueBytes)} while the server is unreachable; ${this.stats.dropped} dropped since start`,
      )
    }
    this.pumping ??= this.pump().finally(() => (this.pumping = undefined))
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0) {
      // A few at a time: one POST per process per window adds up on a busy host.
      const batch = this.queue.slice(0, PARALLEL)
      const results = await Promise.allSettled(batch.map((u) => u.send(this.o.server)))
      let unreachable: KilnError | undefined
      batch.forEach((u, i) => {
        const r = results[i]!
        if (r.status === 'fulfilled') {
          this.stats.sent++
          this.stats.sentUnits += u.count
          this.remove(u)
        } else if (r.reason instanceof KilnError && r.reason.code === 'KILN_STORE') {
          unreachable = r.reason
        } else {
          // The server read it and said no (4xx): sending it again would not help.
          this.stats.rejected++
          this.o.log(`server refused ${u.label.slice(0, 120)}: ${(r.reason as Error).message}`)
          this.remove(u)
        }
      })
      if (!unreachable) {
        this.backoff = this.o.minBackoffMs ?? 1000
        continue
      }
      // Unreachable or 5xx: keep the profiles, wait, try again (doubling up to the cap); when
      // closing, that was the last try.
      if (this.closing || this.draining) return
      this.stats.retries++
      this.o.log(`${unreachable.message}; ${this.queue.length} ${this.items} queued, retrying in ${this.backoff / 1000}s`)
      this.wake = new AbortController()
      await sleep(this.backoff, undefined, { signal: this.wake.signal }).catch(() => undefined)
      this.backoff = Math.min(this.backoff * 2, this.o.maxBackoffMs ?? 30_000)
    }
  }

  private remove(u: QueueItem): void {
    // A full queue may have dropped it while it was being sent.
    const i = this.queue.indexOf(u)
    if (i < 0) return
    this.queue.splice(i, 1)
    this.bytes -= u.bytes
  }

  /** Sends what is queued, one last try each, giving up at the deadline; what is left counts as dropped. */
  async close(deadlineMs: number): Promise<void> {
    this.draining = true
    this.wake?.abort()
    // A retry that was waiting has returned; start the last try.
    if (this.queue.length) this.pumping ??= this.pump().finally(() => (this.pumping = undefined))
    const ac = new AbortController()
    const timer = sleep(deadlineMs, undefined, { signal: ac.signal }).then(
      () => (this.closing = true),
      () => undefined,
    )
    if (this.pumping) await Promise.race([this.pumping, timer])
    ac.abort()
    this.closing = true
    this.wake?.abort()
    if (this.queue.length) {
      const samples = this.queue.reduce((a, u) => a + u.count, 0)
      this.stats.dropped += this.queue.length
      this.stats.droppedUnits += samples
      this.o.log(
        `dropped ${this.queue.length} ${this.items} (${samples} ${this.units}) at exit: the server did not take them within ${deadlineMs / 1000}s`,
      )
      this.queue = []
      this.bytes = 0
    }
  }
}

/** The queue bound as the log says it: KB, or bytes under one KB (tests bound it that small). */
const queueSize = (bytes: number): string => (bytes < 1024 ? `${Math.floor(bytes)} bytes` : `${Math.round(bytes / 1024)} KB`)
