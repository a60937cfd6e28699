/** One upload from bytes to checked series writes: what a worker thread (or the main one) runs. */
import { KilnError, type ErrorCode } from '../model/errors.ts'
import type { SeriesWrite } from '../store/index.ts'
import type { PackedWrites } from '../store/prepare.ts'
import { ingestWrites, pushWrites, type DecodeLimits, type IngestParams, type PushSeries } from './request.ts'

/** What retention and the store's ranges allow. */
export interface WriteRules {
  /** Profile retention in days (0: forever) and as the user wrote it, for messages. */
  retentionDays: number
  retention: string
}

/**
 * Which rows a worker sends: 'new' leaves out those it sent before (store/prepare.ts's
 * SentRows), 'all' sends every one and remembers them; absent, every one, not remembered.
 */
export type Rows = 'new' | 'all'

export type Job =
  | { id: number; tenant: string; now: number; rows?: Rows; kind: 'ingest'; params: IngestParams; body: Uint8Array }
  | { id: number; tenant: string; now: number; rows?: Rows; kind: 'push'; series: PushSeries[] }

/** A worker's answer to one job: its prepared writes (packed: store/prepare.ts) and how many series, or why not. */
export type Answer = { id: number; packed: PackedWrites; series: number } | { id: number; error: { code: ErrorCode; message: string } }

// Int64's largest value as a double rounds up to 2^63, which no longer fits: refuse from there.
const INT64_LIMIT = 2 ** 63
// DateTime64(3) holds years up to 2299, but the retention TTL goes through DateTime (to 2106):
// times from 2100 on are refused rather than failing the whole group commit.
const LATEST_MS = Date.UTC(2100, 0, 1)

/**
 * Refuses what the store could not hold (one bad upload would fail its whole group commit) and
 * profiles that retention would drop at once (acknowledging them would be a silent loss).
 */
export function checkWrites(writes: SeriesWrite[], rules: WriteRules, now = Date.now()): void {
  for (const w of writes) {
    if (!(w.timeMs >= 0 && w.timeMs < LATEST_MS)) {
      throw new KilnError('KILN_BAD_TIME', `profile time ${w.timeMs} ms is outside 1970–2099; send the time the profile was taken`)
    }
    let sum = 0
    for (const v of w.values) sum += Math.abs(v)
    if (!(sum < INT64_LIMIT)) {
      throw new KilnError(
        'KILN_LIMIT',
        `the values of series ${w.profileType} add up to more than a 64-bit integer holds (9.2e18); a sample count that large is not a profile`,
      )
    }
    if (!(w.durationNs >= 0 && w.durationNs < INT64_LIMIT))
      throw new KilnError('KILN_BAD_TIME', `profile duration ${w.durationNs} ns is out of range`)
  }
  if (rules.retentionDays > 0) {
    const oldest = now - rules.retentionDays * 86_400_000
    const old = writes.find((w) => w.timeMs < oldest)
    if (old) {
      throw new KilnError(
        'KILN_LIMIT',
        `profile time ${new Date(old.timeMs).toISOString()} is older than the retention period (${rules.retention}); send current profiles, re-time an old recording (kiln ingest --at now, or --from TIME; /ingest?retime=1&from=…), or start the server with a longer --retention`,
      )
    }
  }
}

/** Decodes and checks one upload. */
export function prepareUpload(job: Job, config: DecodeLimits & WriteRules): SeriesWrite[] {
  const writes = job.kind === 'ingest' ? ingestWrites(job.params, job.body, config, job.now) : pushWrites(job.series, config, job.now)
  checkWrites(writes, config, job.now)
  return writes
}
