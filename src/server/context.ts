import type { Store } from '../store/index.ts'
import type { LabelLimits } from '../model/labels.ts'
import type { Limits } from '../model/profile.ts'
import type { Ingester } from '../ingest/index.ts'
import type { ServerConfig } from './config.ts'

export interface IngestCounters {
  requests: number
  series: number
  bytes: number
}

/** Counters the server exposes on /metrics, kept per tenant so a tenant can be shown only its own. */
export class Metrics {
  readonly tenants = new Map<string, IngestCounters>()
  errors = new Map<number, number>()
  ingested(tenant: string, series: number, bytes: number): void {
    let c = this.tenants.get(tenant)
    if (!c) this.tenants.set(tenant, (c = { requests: 0, series: 0, bytes: 0 }))
    c.requests++
    c.series += series
    c.bytes += bytes
  }
  /** One tenant's counters, or the sum over all of them. */
  ingest(tenant?: string): IngestCounters {
    if (tenant !== undefined) return this.tenants.get(tenant) ?? { requests: 0, series: 0, bytes: 0 }
    const all = { requests: 0, series: 0, bytes: 0 }
    for (const c of this.tenants.values()) {
      all.requests += c.requests
      all.series += c.series
      all.bytes += c.bytes
    }
    return all
  }
  error(status: number): void {
    this.errors.set(status, (this.errors.get(status) ?? 0) + 1)
  }
}

/** What every handler may use. */
export interface Context {
  config: ServerConfig
  store: Store
  /** The one write path: every handler that takes data hands it here. */
  ingest: Ingester
  labelLimits: LabelLimits
  limits: Limits
  metrics: Metrics
  log(msg: string): void
}
