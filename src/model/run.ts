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
}

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
