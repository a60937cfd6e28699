/**
 * The one way data arrives in the store: `/ingest`, push.v1 Push, scraping, self-profiling and
 * request tracing all hand their input here; handlers only read the request and answer.
 */
import { KilnError } from '../model/errors.ts'
import type { Profile } from '../model/profile.ts'
import { checkTraceBatch } from '../model/trace-rows.ts'
import { maybeGunzip } from '../formats/gzip.ts'
import type { SeriesWrite, Store } from '../store/index.ts'
import { pprofWrites, type IngestMeta } from './convert.ts'
import { ingestWrites, pushWrites, type DecodeLimits, type IngestParams, type PushSeries } from './request.ts'

export interface IngestConfig extends DecodeLimits {
  /** Profile retention in days (0: forever) and as the user wrote it, for messages. */
  retentionDays: number
  retention: string
  /** Request-tracing retention in hours (0: forever). */
  traceRetentionHours: number
}

// Int64's largest value as a double rounds up to 2^63, which no longer fits: refuse from there.
const INT64_LIMIT = 2 ** 63
// DateTime64(3) holds years up to 2299, but the retention TTL goes through DateTime (to 2106):
// times from 2100 on are refused rather than failing the whole group commit.
const LATEST_MS = Date.UTC(2100, 0, 1)

/** Checks what the store could not hold, so one bad upload is refused alone instead of failing its batch. */
export function checkWrites(writes: SeriesWrite[]): void {
  for (const w of writes) {
    if (!(w.timeMs >= 0 && w.timeMs < LATEST_MS)) {
      throw new KilnError('KILN_BAD_TIME', `profile time ${w.timeMs} ms is outside 1970–2099; send the time the profile was taken`)
    }
    let sum = 0
    for (const v of w.values) sum += Math.abs(v)
    if (!(sum < INT64_LIMIT)) {
      throw new KilnError('KILN_LIMIT', `the values of series ${w.profileType} add up to more than a 64-bit integer holds (9.2e18); a sample count that large is not a profile`)
    }
    if (!(w.durationNs >= 0 && w.durationNs < INT64_LIMIT)) throw new KilnError('KILN_BAD_TIME', `profile duration ${w.durationNs} ns is out of range`)
  }
}

export class Ingester {
  constructor(
    private readonly store: Store,
    readonly config: IngestConfig,
  ) {}

  /**
   * Writes series durably, refusing profiles that retention would drop at once (acknowledging
   * them would be a silent loss) and values the store cannot hold.
   */
  async write(tenant: string, writes: SeriesWrite[]): Promise<void> {
    checkWrites(writes)
    const days = this.config.retentionDays
    if (days > 0) {
      const oldest = Date.now() - days * 86_400_000
      const old = writes.find((w) => w.timeMs < oldest)
      if (old) {
        throw new KilnError(
          'KILN_LIMIT',
          `profile time ${new Date(old.timeMs).toISOString()} is older than the retention period (${this.config.retention}); send current profiles, re-time an old recording (kiln ingest --at now, or --from TIME; /ingest?retime=1&from=…), or start the server with a longer --retention`,
        )
      }
    }
    if (writes.length) await this.store.writer.write(tenant, writes)
  }

  /** One `/ingest` upload: decode, convert, write durably. Returns the series written. */
  async request(tenant: string, params: IngestParams, body: Uint8Array): Promise<number> {
    const writes = ingestWrites(params, body, this.config)
    await this.write(tenant, writes)
    return writes.length
  }

  /** One push.v1 Push: every series' raw pprof samples. Returns the series written. */
  async push(tenant: string, series: PushSeries[]): Promise<number> {
    const writes = pushWrites(series, this.config)
    await this.write(tenant, writes)
    return writes.length
  }

  /** A profile a collector inside the server made (scraping, self-profiling). Returns the series written. */
  async profile(tenant: string, profile: Profile, meta: IngestMeta, opts: { metricName?: string } = {}): Promise<number> {
    const writes = pprofWrites(profile, { ...meta, labelLimits: meta.labelLimits ?? this.config.labelLimits }, opts)
    await this.write(tenant, writes)
    return writes.length
  }

  /** A batch of request-tracing rows (`{table: [row…]}`, JSON, maybe gzipped). Returns the rows written. */
  async traceEvents(tenant: string, body: Uint8Array): Promise<number> {
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
    const { batch, rows } = checkTraceBatch(parsed, oldest)
    await this.store.trace.insert(tenant, batch)
    return rows
  }
}
