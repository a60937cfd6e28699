/** One metric's aggregate over one second of a load-test run, as `kiln run` sends it and the store keeps it. */
export interface RunPoint {
  metric: string
  type: string
  /** Start of the second, ms since the epoch. */
  t: number
  count: number
  sum: number
  min: number
  max: number
  /** Trends: the second's values as a log-bucket histogram (bucket → count), see histBucket. */
  hist?: Record<string, number>
}

/**
 * Log-bucket histograms: bucket i holds values in (γ^(i−1), γ^i] with γ = 1.02, so any quantile
 * read back is within 2% of an exact one, and the histograms of seconds or runs merge by adding
 * counts (the store sums them). Values ≤ 0 share bucket ZERO_BUCKET (read back as 0).
 */
const GAMMA = 1.02
const LOG_GAMMA = Math.log(GAMMA)
export const ZERO_BUCKET = -32768

export function histBucket(v: number): number {
  if (!(v > 0)) return ZERO_BUCKET
  return Math.max(ZERO_BUCKET + 1, Math.min(32767, Math.ceil(Math.log(v) / LOG_GAMMA)))
}

/** The value a bucket stands for: the middle of its range (relative error ≤ 1%). */
export function histValue(bucket: number): number {
  return bucket === ZERO_BUCKET ? 0 : (GAMMA ** bucket * 2) / (1 + GAMMA)
}

export function histAdd(h: Record<string, number>, v: number): void {
  const b = histBucket(v)
  h[b] = (h[b] ?? 0) + 1
}

export function histMerge(into: Record<string, number>, h: Record<string, number>): void {
  for (const k in h) into[k] = (into[k] ?? 0) + h[k]!
}

/**
 * The q-quantile (0…1) of a histogram by k6's method — the values at the ranks around q·(n−1),
 * linearly interpolated — with each value read as its bucket's middle (within 1%), clamped to
 * the exact min and max when known. NaN for an empty histogram.
 */
export function histQuantile(h: Record<string, number>, q: number, min = -Infinity, max = Infinity): number {
  const buckets = Object.keys(h)
    .map(Number)
    .sort((x, y) => x - y)
  const n = buckets.reduce((acc, b) => acc + h[b]!, 0)
  if (!n) return NaN
  const i = q * (n - 1)
  const lo = Math.floor(i)
  const at = (rank: number): number => {
    let seen = 0
    for (const b of buckets) {
      seen += h[b]!
      if (seen > rank) return Math.min(max, Math.max(min, histValue(b)))
    }
    return Math.min(max, Math.max(min, histValue(buckets[buckets.length - 1]!)))
  }
  const a = at(lo)
  return lo + 1 < n ? a + (at(lo + 1) - a) * (i - lo) : a
}

/** A metric's totals over a run, as `/api/v1/runs/get` shows them. */
export interface MetricSummary {
  type: string
  count: number
  sum: number
  min: number
  max: number
  avg: number
  /** Trends: percentiles of the whole run (from the merged per-second histograms, within 2%). */
  p50?: number
  p90?: number
  p95?: number
  p99?: number
}

/** One stored second as the API shows it: trends carry that second's percentiles. */
export type ShownPoint = Omit<RunPoint, 'hist'> & Pick<MetricSummary, 'p50' | 'p90' | 'p95' | 'p99'>

/** The percentiles a run's trends are shown with. */
export const RUN_PERCENTILES = [50, 90, 95, 99] as const

/** A stored load-test run: what `kiln run -o kiln=URL` creates and finishes, and `/api/v1/runs` lists. */
export interface RunInfo {
  id: string
  script: string
  tags: Record<string, string>
  /** Label selector of the target's profiles for this run's window ('' when none). */
  profile: string
  started: number
  /** 0 while the run has not finished. */
  ended: number
  thresholds: { metric: string; source: string; ok: boolean }[]
}

/**
 * A profile is stamped with the start of its period (10–15 s for the SDKs): a run's profile window
 * reaches back one period so the profile that was running when the test started is included.
 */
export const PROFILE_PERIOD_MS = 15_000

/** The time range of a run's target profiles, as the run page, its flame graph and profile thresholds read them. */
export function runProfileWindow(run: Pick<RunInfo, 'started' | 'ended'>, now = Date.now()): { from: number; until: number } {
  return { from: run.started - PROFILE_PERIOD_MS, until: run.ended || now }
}
