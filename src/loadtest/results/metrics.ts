/**
 * k6's metric model: four metric types, samples with tags, and sinks that aggregate them.
 * Trend sinks keep every value, so percentiles are exact as in k6 (sort, interpolate at p·(n−1)).
 */
import { KilnError } from '../../model/errors.ts'

export type MetricType = 'counter' | 'gauge' | 'rate' | 'trend'
export type Contains = 'default' | 'time' | 'data'
export type Tags = Record<string, string>

export interface Sample {
  metric: string
  time: number // ms since epoch
  value: number
  tags: Tags
}

/** Where samples go: the run's Registry, or a worker thread's batch bound for it. */
export interface SampleSink {
  add(metric: string, value: number, tags: Tags, time?: number): void
}

/** Aggregation of one metric (or submetric). */
export class Sink {
  count = 0
  sum = 0
  min = Infinity
  max = -Infinity
  last = 0
  nonzero = 0
  values: number[] = []
  private sorted = true
  constructor(readonly type: MetricType) {}

  add(v: number): void {
    this.count++
    this.sum += v
    this.last = v
    if (v < this.min) this.min = v
    if (v > this.max) this.max = v
    if (v !== 0) this.nonzero++
    if (this.type === 'trend') {
      if (this.sorted && this.values.length && v < this.values[this.values.length - 1]!) this.sorted = false
      this.values.push(v)
    }
  }

  /** Exact percentile, p in [0,1]: linear interpolation between the ranks around p·(n−1). */
  percentile(p: number): number {
    const n = this.values.length
    if (n === 0) return 0
    if (!this.sorted) {
      this.values.sort((a, b) => a - b)
      this.sorted = true
    }
    const i = p * (n - 1)
    const lo = Math.floor(i)
    const a = this.values[lo]!
    const b = this.values[Math.min(lo + 1, n - 1)]!
    return a + (b - a) * (i - lo)
  }

  /** One aggregate by k6's name: count, rate, value, avg, min, max, med, p(N). */
  stat(name: string, durationSec: number): number {
    switch (name) {
      case 'count':
        return this.type === 'rate' ? this.count : this.sum
      case 'rate':
        if (this.type === 'rate') return this.count ? this.nonzero / this.count : 0
        return durationSec > 0 ? this.sum / durationSec : 0
      case 'value':
        return this.last
      case 'avg':
        return this.count ? this.sum / this.count : 0
      case 'min':
        return this.count ? this.min : 0
      case 'max':
        return this.count ? this.max : 0
      case 'med':
        return this.percentile(0.5)
      case 'passes':
        return this.nonzero
      case 'fails':
        return this.count - this.nonzero
    }
    const m = /^p\((\d+(?:\.\d+)?)\)$/.exec(name)
    if (m) return this.percentile(Number(m[1]) / 100)
    throw new KilnError('KILN_BAD_REQUEST', `unknown aggregation '${name}'`)
  }
}

/** A submetric: a metric restricted to samples whose tags match `tags`, e.g. `{status:200}`. */
export interface Submetric {
  name: string // full name, e.g. http_req_duration{status:200}
  suffix: string // status:200
  tags: Tags
  sink: Sink
}

export interface Metric {
  name: string
  type: MetricType
  contains: Contains
  sink: Sink
  submetrics: Submetric[]
  /** Whether any sample arrived (k6 lists only metrics that saw samples). */
  seen: boolean
}

const NAME = /^[a-zA-Z_][a-zA-Z0-9_]{1,128}$/

const builtins: [string, MetricType, Contains][] = [
  ['vus', 'gauge', 'default'],
  ['vus_max', 'gauge', 'default'],
  ['iterations', 'counter', 'default'],
  ['dropped_iterations', 'counter', 'default'],
  ['http_reqs', 'counter', 'default'],
  ['data_sent', 'counter', 'data'],
  ['data_received', 'counter', 'data'],
  ['checks', 'rate', 'default'],
  ['http_req_failed', 'rate', 'default'],
  ['iteration_duration', 'trend', 'time'],
  ['group_duration', 'trend', 'time'],
  ['http_req_duration', 'trend', 'time'],
  ['http_req_blocked', 'trend', 'time'],
  ['http_req_connecting', 'trend', 'time'],
  ['http_req_tls_handshaking', 'trend', 'time'],
  ['http_req_sending', 'trend', 'time'],
  ['http_req_waiting', 'trend', 'time'],
  ['http_req_receiving', 'trend', 'time'],
  ['ws_sessions', 'counter', 'default'],
  ['ws_msgs_sent', 'counter', 'default'],
  ['ws_msgs_received', 'counter', 'default'],
  ['ws_ping', 'trend', 'time'],
  ['ws_session_duration', 'trend', 'time'],
  ['ws_connecting', 'trend', 'time'],
  ['grpc_req_duration', 'trend', 'time'],
  ['grpc_streams', 'counter', 'default'],
  ['grpc_streams_msgs_sent', 'counter', 'default'],
  ['grpc_streams_msgs_received', 'counter', 'default'],
  // k6/browser (modules/browser/metrics.ts); CLS is a score, the other vitals milliseconds.
  ['browser_data_received', 'counter', 'data'],
  ['browser_data_sent', 'counter', 'data'],
  ['browser_http_req_duration', 'trend', 'time'],
  ['browser_http_req_failed', 'rate', 'default'],
  ['browser_web_vital_cls', 'trend', 'default'],
  ['browser_web_vital_fcp', 'trend', 'time'],
  ['browser_web_vital_fid', 'trend', 'time'],
  ['browser_web_vital_inp', 'trend', 'time'],
  ['browser_web_vital_lcp', 'trend', 'time'],
  ['browser_web_vital_ttfb', 'trend', 'time'],
]

/** Parses a submetric suffix `tag:value,tag2:value2` (quotes around values allowed). */
export function parseTagSuffix(suffix: string): Tags {
  const tags: Tags = {}
  for (const part of suffix.split(',')) {
    if (!part.trim()) continue
    const i = part.indexOf(':')
    if (i <= 0) throw new KilnError('KILN_BAD_REQUEST', `'${part.trim()}' is not tag:value`)
    const k = part.slice(0, i).trim()
    const v = part
      .slice(i + 1)
      .trim()
      .replace(/^(["'])(.*)\1$/, '$2')
    tags[k] = v
  }
  return tags
}

/** The run's metrics: built-ins, custom metrics, submetrics, and listeners (outputs). */
/** k6's system tags; `systemTags` keeps some of them (k6's default: all but vu, iter, ip, ocsp_status). */
export const SYSTEM_TAGS = [
  'proto',
  'subproto',
  'status',
  'method',
  'url',
  'name',
  'group',
  'check',
  'error',
  'error_code',
  'tls_version',
  'scenario',
  'service',
  'expected_response',
  'vu',
  'iter',
  'ip',
  'ocsp_status',
]

export class Registry {
  readonly metrics = new Map<string, Metric>()
  private listeners: ((s: Sample, m: Metric) => void)[] = []
  /** System tags `systemTags` leaves out (none by default), and tag sets already filtered. */
  private dropped: string[] = []
  private filtered = new WeakMap<Tags, Tags>()

  constructor() {
    for (const [name, type, contains] of builtins) this.define(name, type, contains)
    this.submetric('http_req_duration{expected_response:true}')
  }

  /** Defines a metric, or returns it when it exists with the same type (k6 rejects a redefinition). */
  define(name: string, type: MetricType, contains: Contains = 'default'): Metric {
    const old = this.metrics.get(name)
    if (old) {
      if (old.type !== type) {
        throw new KilnError('KILN_BAD_REQUEST', `metric '${name}' already exists as a ${old.type}, not a ${type}`)
      }
      return old
    }
    if (!NAME.test(name)) {
      throw new KilnError('KILN_BAD_REQUEST', `invalid metric name '${name}': it must match ${NAME.source}`)
    }
    const m: Metric = { name, type, contains, sink: new Sink(type), submetrics: [], seen: false }
    this.metrics.set(name, m)
    return m
  }

  /** Adds (or finds) the submetric named like `http_req_duration{status:200}`; the metric must exist. */
  submetric(full: string): { metric: Metric; sub: Submetric | null } {
    const b = full.indexOf('{')
    const name = (b < 0 ? full : full.slice(0, b)).trim()
    const metric = this.metrics.get(name)
    if (!metric) throw new KilnError('KILN_BAD_REQUEST', `no metric named '${name}'`)
    if (b < 0) return { metric, sub: null }
    if (!full.trimEnd().endsWith('}')) throw new KilnError('KILN_BAD_REQUEST', `'${full}': missing '}'`)
    const tags = parseTagSuffix(full.slice(b + 1, full.trimEnd().length - 1))
    const suffix = Object.entries(tags)
      .map(([k, v]) => `${k}:${v}`)
      .join(',')
    let sub = metric.submetrics.find((s) => s.suffix === suffix)
    if (!sub) {
      sub = { name: `${name}{${suffix}}`, suffix, tags, sink: new Sink(metric.type) }
      metric.submetrics.push(sub)
    }
    return { metric, sub }
  }

  onSample(fn: (s: Sample, m: Metric) => void): void {
    this.listeners.push(fn)
  }

  /** `systemTags`: the system tags samples keep; the others are dropped from every sample. */
  keepSystemTags(keep: string[]): void {
    // vu, iter, ip and ocsp_status are not added to samples by Kiln: nothing to drop there.
    this.dropped = SYSTEM_TAGS.filter((t) => !['vu', 'iter', 'ip', 'ocsp_status'].includes(t) && !keep.includes(t))
    this.filtered = new WeakMap()
  }

  private withoutDropped(tags: Tags): Tags {
    let out = this.filtered.get(tags)
    if (!out) {
      out = { ...tags }
      for (const t of this.dropped) delete out[t]
      this.filtered.set(tags, out)
    }
    return out
  }

  /** Records one sample into its metric, its matching submetrics, and the outputs. */
  add(metric: string, value: number, tags: Tags, time = Date.now()): void {
    const m = this.metrics.get(metric)
    if (!m) return
    if (this.dropped.length) tags = this.withoutDropped(tags)
    m.seen = true
    m.sink.add(value)
    for (const s of m.submetrics) {
      let match = true
      for (const k in s.tags) {
        if (tags[k] !== s.tags[k]) {
          match = false
          break
        }
      }
      if (match) s.sink.add(value)
    }
    if (this.listeners.length) {
      const sample = { metric, time, value, tags }
      for (const l of this.listeners) l(sample, m)
    }
  }
}
