/**
 * `kiln agent --trace`: starts every TraceSource it is given (socket capture, process stats, …),
 * batches the rows they emit and uploads them through the agent's one upload queue.
 */
import { createHash } from 'node:crypto'
import { RowBatch } from '../trace/batch.ts'
import type { EmittedRow, TraceSource } from '../trace/types.ts'
import { traceItem, Uploader } from './upload.ts'

export interface TraceRunnerOptions {
  server: string
  maxQueueBytes: number
  log: (line: string) => void
  /** Sources in start order; the first is required (its failure stops the agent), the others optional. */
  sources: TraceSource[]
  /** How often rows go to the server; 1 s keeps the live view live at one POST a second. */
  flushMs?: number
  /** How often the log gets a line of counters. */
  logEveryMs?: number
  /**
   * gzip (level 1) the uploads: the default, even to a server on the same host — the uncompressed
   * text cost the agent more CPU in its writes and memory than gzip did (bench/README.md, trace-replay).
   */
  gzip?: boolean
}

// A batch past 5,000 rows goes at once: ~100 KB gzipped, well under the server's body cap.
const MAX_BATCH_ROWS = 5000

export class TraceRunner {
  /** Rows serialised when emitted and compressed every ~128 KB (trace/batch.ts): neither row
   *  objects nor their text live until the flush, where they outlived the young generation. */
  private pending: RowBatch
  /** The body the server reads: grouped until a server from before it refuses one. */
  private format: 'grouped' | 'json' = 'grouped'
  private readonly gzip: boolean
  private readonly uploader: Uploader
  private readonly started: TraceSource[] = []
  private timers: NodeJS.Timeout[] = []
  /** Rows emitted since start, by table. */
  readonly emitted = new Map<string, number>()

  constructor(private readonly o: TraceRunnerOptions) {
    this.uploader = new Uploader({ server: o.server, nouns: ['trace batches', 'rows'], maxQueueBytes: o.maxQueueBytes, log: o.log })
    this.gzip = o.gzip ?? true
    this.pending = this.batch()
  }

  private batch(): RowBatch {
    return new RowBatch({ format: this.format, gzip: this.gzip })
  }

  /** Starts the sources; rejects with the required source's error, logs an optional one's. */
  async start(): Promise<void> {
    const emit = (table: string, rows: EmittedRow[], shared?: string, columns?: readonly string[]) => this.add(table, rows, shared, columns)
    for (const [i, s] of this.o.sources.entries()) {
      try {
        await s.start(emit)
        this.started.push(s)
      } catch (e) {
        if (i === 0) {
          await this.stopSources()
          throw e
        }
        this.o.log(`trace source ${s.name} unavailable, the others go on: ${(e as Error).message}`)
      }
    }
    this.timers.push(setInterval(() => this.flush(), this.o.flushMs ?? 1000))
    this.timers.push(setInterval(() => this.report(), this.o.logEveryMs ?? 10_000))
    this.o.log(`trace: capturing with ${this.started.map((s) => s.name).join(', ')}; uploading to ${this.o.server}/api/v1/trace/events`)
  }

  private add(table: string, rows: EmittedRow[], shared?: string, columns?: readonly string[]): void {
    if (!rows.length) return
    for (const r of rows) this.pending.add(table, typeof r === 'string' || r instanceof Uint8Array ? r : JSON.stringify(r), shared, columns)
    this.emitted.set(table, (this.emitted.get(table) ?? 0) + rows.length)
    if (this.pending.count >= MAX_BATCH_ROWS) this.flush()
  }

  private flush(): void {
    if (!this.pending.count) return
    const batch = this.pending
    this.pending = this.batch()
    this.uploader.enqueue([traceItem(batch, () => this.oldServer())])
  }

  private oldServer(): void {
    if (this.format === 'json') return
    this.format = 'json'
    this.o.log(
      `trace: ${this.o.server} reads only plain JSON batches (a Kiln server before the grouped body): sending those; upgrade it to save the agent's CPU`,
    )
  }

  private report(): void {
    const tables = [...this.emitted].map(([t, n]) => `${t} ${n}`).join(', ') || 'none yet'
    const sources = this.started.map((s) => `${s.name} ${fmt(s.stats())}`).join('; ')
    const u = this.uploader.stats
    this.o.log(`trace: rows since start: ${tables}; ${u.sentUnits} rows sent, ${u.droppedUnits} dropped; ${sources}`)
  }

  private async stopSources(): Promise<void> {
    for (const s of this.started.splice(0).reverse()) {
      try {
        await s.stop()
      } catch (e) {
        this.o.log(`trace source ${s.name} did not stop cleanly: ${(e as Error).message}`)
      }
    }
  }

  /** Stops the sources, uploads what they still held, and returns the upload counters. */
  async stop(deadlineMs = 15_000): Promise<Uploader['stats']> {
    for (const t of this.timers) clearInterval(t)
    this.timers = []
    const sources = [...this.started]
    await this.stopSources()
    this.flush()
    await this.uploader.close(deadlineMs)
    const u = this.uploader.stats
    for (const s of sources) this.o.log(`trace source ${s.name}: ${fmt(s.stats())}`)
    this.o.log(
      `trace stopped: ${u.sentUnits} rows sent in ${u.sent} batches, ${u.droppedUnits} rows dropped (${u.dropped} batches), ${u.rejected} batches refused by the server`,
    )
    return u
  }
}

const fmt = (s: Record<string, number>) =>
  Object.entries(s)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')

/** The agent's short id, the high half of every upid's pid word: a hash of the node name (Pixie assigns one per agent). */
export function agentAsid(node: string): number {
  return createHash('sha256').update(node).digest().readUInt32BE(0)
}
