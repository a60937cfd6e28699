import type { Store } from '../store/index.ts'
import type { LabelLimits } from '../model/labels.ts'
import type { Limits } from '../model/profile.ts'
import type { ServerConfig } from './config.ts'

/** Counters the server exposes on /metrics. */
export class Metrics {
  ingestRequests = 0
  ingestSeries = 0
  ingestBytes = 0
  errors = new Map<number, number>()
  ingested(series: number, bytes: number): void {
    this.ingestRequests++
    this.ingestSeries += series
    this.ingestBytes += bytes
  }
  error(status: number): void {
    this.errors.set(status, (this.errors.get(status) ?? 0) + 1)
  }
}

/** What every handler may use. */
export interface Context {
  config: ServerConfig
  store: Store
  labelLimits: LabelLimits
  limits: Limits
  metrics: Metrics
  log(msg: string): void
}
