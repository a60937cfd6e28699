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
