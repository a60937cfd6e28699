import type { MetricSummary, ShownPoint } from '../../../src/model/run.ts'
import type { StoredRun as RunInfo } from '../../../src/model/run-summary.ts'

export type { RunInfo, MetricSummary, ShownPoint }
import { parseSelector } from '../../../src/model/selector.ts'
import { formatValue, formatPercent, formatChange, formatSiBytes } from './format.ts'
import { defaultState, stateToSearch } from './viewstate.ts'

/** `/api/v1/runs/get`: the run, its metrics over the whole run and per second, and its profiles' window. */
export interface RunDetail {
  run: RunInfo
  metrics: Record<string, MetricSummary>
  points: ShownPoint[]
  profile: { query: string; from: number; until: number; types: string[] } | null
}

/** The figures a runs list shows for one run. */
export interface RunFigures {
  durationMs: number
  vus: number
  requests: number
  /** Requests per second over the run. */
  rps: number
  /** http_req_duration in ms: avg and max exact, p95 within 2% (null when not stored). */
  avgMs: number
  p95Ms: number | null
  maxMs: number
  failedChecks: number
  failedThresholds: string[]
}

/**
 * A run's figures. Duration, request count and rate are the end-of-test summary's, as `kiln run`
 * printed them (its clock starts when the first scenario does, not when `kiln run` started);
 * a run stored without one (still running, or interrupted) falls back to the stored seconds.
 */
export function runFigures(d: RunDetail): RunFigures {
  const m = d.metrics
  const sum = d.run.summary
  const durationMs = sum ? sum.durationMs : d.run.ended ? Math.max(0, d.run.ended - d.run.started) : 0
  const reqs = sum?.metrics.http_reqs?.values
  const requests = reqs?.count ?? m.http_reqs?.count ?? 0
  return {
    durationMs,
    vus: m.vus?.max ?? m.vus_max?.max ?? 0,
    requests,
    rps: reqs?.rate ?? (durationMs ? requests / (durationMs / 1000) : 0),
    avgMs: m.http_req_duration?.avg ?? 0,
    p95Ms: m.http_req_duration?.p95 ?? null,
    maxMs: m.http_req_duration?.count ? m.http_req_duration.max : 0,
    failedChecks: m.checks ? m.checks.count - m.checks.sum : 0,
    failedThresholds: d.run.thresholds.filter((t) => !t.ok).map((t) => `${t.metric}: ${t.source}`),
  }
}

/** A counter's rate over the run as the summary printed it: `9.954321/s`, data `1.2 kB/s`; null for other metrics. */
export function counterRate(d: RunDetail, name: string): string | null {
  const m = d.metrics[name]
  if (m?.type !== 'counter') return null
  const v = d.run.summary?.metrics[name]?.values.rate ?? statValue(m, 'per second', runFigures(d).durationMs) ?? 0
  return name.startsWith('data_') ? `${formatSiBytes(v)}/s` : `${String(Number(v.toFixed(6)))}/s`
}

/** How one second of a metric is summed up: a counter's sum, a trend's avg, p95 or max, a gauge's max, a rate's share. */
export type PerSecond = 'sum' | 'avg' | 'p95' | 'max' | 'rate'

/** One value per second of a metric, in time order (seconds without the value are left out). */
export function perSecond(points: readonly ShownPoint[], metric: string, how: PerSecond): [number, number][] {
  const out: [number, number][] = []
  for (const p of points) {
    if (p.metric !== metric) continue
    if (how === 'p95' && p.p95 === undefined) continue
    const v = how === 'sum' ? p.sum : how === 'max' ? p.max : how === 'p95' ? p.p95! : p.count ? p.sum / p.count : 0
    out.push([p.t, v])
  }
  return out.sort((a, b) => a[0] - b[0])
}

/** The unit a k6 metric is measured in: time trends in ms, data in bytes, rates as shares, others counts. */
export function metricUnit(name: string, type: string): 'milliseconds' | 'bytes' | 'share' | 'count' {
  if (type === 'rate') return 'share'
  if (name.startsWith('data_')) return 'bytes'
  if (type === 'trend' && (name.startsWith('http_req_') || name.endsWith('_duration'))) return 'milliseconds'
  return 'count'
}

/** A metric's value as k6's summary prints it (data in SI bytes: 1.2 MB, as `kiln run` printed). */
export function formatMetric(v: number, name: string, type: string): string {
  const u = metricUnit(name, type)
  return u === 'share' ? formatPercent(v) : u === 'bytes' ? formatSiBytes(v) : formatValue(v, u)
}

/**
 * The span a run's charts cover: from its first sample's second to the end of its last (the run
 * record starts when `kiln run` starts, seconds before the first VU runs); the run's own start
 * and end when it has no samples.
 */
export function runWindow(d: RunDetail): { from: number; until: number } {
  let from = Infinity
  let until = -Infinity
  for (const p of d.points) {
    if (p.t < from) from = p.t
    if (p.t + 1000 > until) until = p.t + 1000
  }
  if (from === Infinity) {
    from = Math.floor(d.run.started / 1000) * 1000
    until = d.run.ended || from + 1000
  }
  return { from, until: Math.max(until, from + 1000) }
}

/** What a comparison puts side by side for a metric: counters per second, trends' average (and p95), gauges' maximum, rates' share. */
export type Stat = 'per second' | 'avg' | 'p95' | 'max' | 'share'

function statsOf(type: string): Stat[] {
  if (type === 'counter') return ['per second']
  if (type === 'gauge') return ['max']
  if (type === 'rate') return ['share']
  return ['avg', 'p95']
}

export function statValue(m: MetricSummary, stat: Stat, durationMs: number): number | null {
  if (stat === 'per second') return durationMs ? m.sum / (durationMs / 1000) : 0
  if (stat === 'max') return m.max
  if (stat === 'p95') return m.p95 ?? null
  return m.avg
}

// The metrics people look at first, in this order; the rest follow by name.
const firstMetrics = ['http_reqs', 'http_req_duration', 'http_req_failed', 'checks', 'iterations', 'iteration_duration', 'vus']

/** Metric names in reading order. */
export function metricOrder(names: Iterable<string>): string[] {
  const rank = (n: string) => (firstMetrics.includes(n) ? firstMetrics.indexOf(n) : firstMetrics.length)
  return [...new Set(names)].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
}

export interface CompareRow {
  metric: string
  type: string
  stat: Stat
  a: number | null
  b: number | null
  /** b / a - 1, or null when either side lacks the value or a is 0. */
  change: number | null
  /** Whether the change is good news: lower latency and failures, higher throughput; null when neither. */
  better: boolean | null
}

/** Two runs side by side, one row per metric and statistic of either run (trends: avg and p95). */
export function compareRuns(a: RunDetail, b: RunDetail): CompareRow[] {
  const da = runFigures(a).durationMs
  const db = runFigures(b).durationMs
  return metricOrder([...Object.keys(a.metrics), ...Object.keys(b.metrics)]).flatMap((metric) => {
    const ma = a.metrics[metric]
    const mb = b.metrics[metric]
    const type = (ma ?? mb)!.type
    return statsOf(type).flatMap((stat): CompareRow[] => {
      const va = ma ? statValue(ma, stat, da) : null
      const vb = mb ? statValue(mb, stat, db) : null
      // A p95 neither run stored is no row.
      if (stat === 'p95' && va === null && vb === null) return []
      const change = va !== null && vb !== null && va !== 0 ? vb / va - 1 : null
      const dir = direction(metric)
      return [{ metric, type, stat, a: va, b: vb, change, better: change === null || change === 0 || dir === 0 ? null : change * dir > 0 }]
    })
  })
}

/** +1: more is better (throughput, passing checks); -1: less is better (latency, failures); 0: neither. */
function direction(metric: string): number {
  if (/failed|duration|blocked|connecting|tls_handshaking|sending|waiting|receiving|dropped/.test(metric)) return -1
  if (metric === 'http_reqs' || metric === 'iterations' || metric === 'checks') return 1
  return 0
}

export const formatRunChange = (c: number | null): string => (c === null ? '—' : formatChange(c))

/** A selector split into its `service_name="…"` (the UI's service) and the other matchers. */
function splitService(query: string): { service: string; rest: string } {
  const matchers = parseSelector(query).matchers
  const svc = matchers.find((m) => m.name === 'service_name' && m.op === '=')
  const rest = matchers.filter((m) => m !== svc).map((m) => `${m.name}${m.op}${JSON.stringify(m.value)}`)
  return { service: svc?.value ?? '', rest: `{${rest.join(', ')}}` }
}

const pickType = (types: readonly string[]) => types.find((t) => /cpu/.test(t)) ?? types[0] ?? ''

/**
 * The URL (query string) of the flame graph of a run's target over exactly the run's window: the
 * selector's `service_name="…"` becomes the service, its other matchers the label selector.
 */
export function flameLink(p: NonNullable<RunDetail['profile']>): string {
  const { service, rest } = splitService(p.query)
  return stateToSearch({ ...defaultState, service, query: rest, type: pickType(p.types), from: String(p.from), until: String(p.until) })
}

/**
 * The URL of the diff flame graph of two runs' target: run A's window and selector as the
 * baseline, run B's as the comparison; null when either run has no profiles or their targets are
 * different services (a diff view has one service).
 */
export function diffLink(a: RunDetail['profile'], b: RunDetail['profile']): string | null {
  if (!a || !b) return null
  const sa = splitService(a.query)
  const sb = splitService(b.query)
  if (sa.service !== sb.service) return null
  const type = pickType(a.types.filter((t) => b.types.includes(t)))
  if (!type) return null
  return stateToSearch({
    ...defaultState,
    service: sa.service,
    query: sa.rest,
    type,
    view: 'diff',
    from: String(Math.min(a.from, b.from)),
    until: String(Math.max(a.until, b.until)),
    lquery: sa.rest,
    lfrom: String(a.from),
    luntil: String(a.until),
    rquery: sb.rest,
    rfrom: String(b.from),
    runtil: String(b.until),
  })
}
