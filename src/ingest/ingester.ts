/**
 * The one way data arrives in the store: `/ingest`, push.v1 Push, scraping, self-profiling and
 * request tracing all hand their input here; handlers only read the request and answer.
 */
import { KilnError } from '../model/errors.ts'
import type { Profile } from '../model/profile.ts'
import { checkTraceBatch } from '../model/trace-rows.ts'
import { expandGroups } from '../model/trace-groups.ts'
import { maybeGunzip } from '../formats/gzip.ts'
import type { SeriesWrite, Store } from '../store/index.ts'
import { pprofWrites, type IngestMeta } from './convert.ts'
import { ingestWrites, pushWrites, type DecodeLimits, type IngestParams, type PushSeries } from './request.ts'
import { checkWrites, type Rows, type WriteRules } from './prepare.ts'
import type { IngestPool, Prepared } from './pool.ts'

export interface IngestConfig extends DecodeLimits, WriteRules {
  /** Request-tracing retention in hours (0: forever). */
  traceRetentionHours: number
}

export class Ingester {
  constructor(
    private readonly store: Store,
    readonly config: IngestConfig,
    /** Worker threads for decoding; without them uploads are decoded on the calling thread. */
    private readonly pool?: IngestPool,
  ) {}

  /** Writes series durably once `checkWrites` passes them. */
  async write(tenant: string, writes: SeriesWrite[]): Promise<void> {
    checkWrites(writes, this.config)
    if (writes.length) await this.store.writer.write(tenant, writes)
  }

  /** One `/ingest` upload: decode, convert, write durably. Returns the series written. */
  async request(tenant: string, params: IngestParams, body: Uint8Array): Promise<number> {
    if (!this.pool) {
      const writes = ingestWrites(params, body, this.config)
      await this.write(tenant, writes)
      return writes.length
    }
    // Moved to the worker: a large body is the only one in its memory (gathered from the request's
    // chunks); a small one may share Node's pooled buffer, so it moves as a copy. Copying 15 MB
    // cost the event loop ~60 ms, most of it faulting in fresh pages. A large one is prepared with
    // all its rows (it could not be prepared again, and its ids would crowd the worker's SentRows).
    const whole = body.length > 1 << 20 && body.byteOffset === 0 && body.byteLength === body.buffer.byteLength
    return this.prepared(tenant, whole ? undefined : 'new', (rows) => {
      const own = whole ? body : new Uint8Array(body)
      return this.pool!.run({ kind: 'ingest', tenant, now: Date.now(), params, body: own, rows }, [own.buffer as ArrayBuffer])
    })
  }

  /** One push.v1 Push: every series' raw pprof samples. Returns the series written. */
  async push(tenant: string, series: PushSeries[]): Promise<number> {
    if (!this.pool) {
      const writes = pushWrites(series, this.config)
      await this.write(tenant, writes)
      return writes.length
    }
    return this.prepared(tenant, 'new', (rows) => {
      // Each sample in a buffer of its own, moved: a view would clone the whole request body with it.
      const own = series.map((s) => ({ labels: s.labels, samples: s.samples.map((x) => new Uint8Array(x)) }))
      return this.pool!.run(
        { kind: 'push', tenant, now: Date.now(), series: own, rows },
        own.flatMap((s) => s.samples.map((x) => x.buffer as ArrayBuffer)),
      )
    })
  }

  /**
   * An upload prepared in a worker and written; `rows` 'new' leaves out the rows the worker sent
   * before, and when the writer needs one of those again (a commit failed, an hour passed) the
   * upload is prepared once more with all of them.
   */
  private async prepared(tenant: string, rows: Rows | undefined, run: (rows: Rows | undefined) => Promise<Prepared>): Promise<number> {
    const done = await run(rows)
    if (!done.writes.length || (await this.store.writer.writePrepared(tenant, done.writes))) return done.series
    if (process.env.KILN_DEBUG_WRITES) process.stderr.write(`${tenant}: an upload prepared again with every row\n`)
    const again = await run('all')
    if (!(await this.store.writer.writePrepared(tenant, again.writes))) throw new Error('a write prepared with all its rows lacked one')
    return again.series
  }

  async close(): Promise<void> {
    await this.pool?.close()
  }

  /** A profile a collector inside the server made (scraping, self-profiling). Returns the series written. */
  async profile(tenant: string, profile: Profile, meta: IngestMeta, opts: { metricName?: string } = {}): Promise<number> {
    const writes = pprofWrites(profile, { ...meta, labelLimits: meta.labelLimits ?? this.config.labelLimits }, opts)
    await this.write(tenant, writes)
    return writes.length
  }

  /**
   * A batch of request-tracing rows (`{table: [row…]}`, or `grouped` as the agent sends them:
   * model/trace-groups.ts; JSON, maybe gzipped). Returns the rows written.
   */
  async traceEvents(tenant: string, body: Uint8Array, grouped = false): Promise<number> {
    // The agent gzips its batches (JSON of repetitive rows shrinks ~10×); bombs stop at the configured cap.
    const raw = maybeGunzip(body, { maxBytes: this.config.maxDecompressedBytes })
    let parsed: unknown
    try {
      parsed = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('utf8'))
    } catch (e) {
      throw new KilnError('KILN_BAD_REQUEST', `body is not JSON: ${(e as Error).message}`)
    }
    const hours = this.config.traceRetentionHours
    const oldest = hours > 0 ? BigInt(Date.now() - hours * 3_600_000) * 1_000_000n : 0n
    const { batch, rows } = checkTraceBatch(grouped ? expandGroups(parsed) : parsed, oldest)
    await this.store.trace.insert(tenant, batch)
    return rows
  }
}
