/**
 * From a decoded Profile and Pyroscope's ingest metadata to the series the store writes: the
 * profile-type mapping, label rules and time fix-ups Pyroscope applies, in one place for
 * /ingest, push.v1, scraping and self-profiling.
 */
import { KilnError } from '../model/errors.ts'
import { labelsKey, makeLabels, type LabelLimits, type Labels } from '../model/labels.ts'
import { metricNameForSampleType, profileTypeId, type Profile } from '../model/profile.ts'
import { SPAN_ID_LABEL, spanIdValue } from '../model/span.ts'
import type { SeriesWrite } from '../store/index.ts'
import { BoundedMemo } from './memo.ts'

/** A legacy (folded/lines/speedscope) upload's profile type, from the app name's last suffix. */
interface LegacyType {
  id: string
  /** Values are sample counts to scale by 1e9/sampleRate into nanoseconds. */
  scaleByRate: boolean
}

const legacyTypes: Record<string, LegacyType> = {
  cpu: { id: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds', scaleByRate: true },
  itimer: { id: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds', scaleByRate: true },
  wall: { id: 'wall:wall:nanoseconds:wall:nanoseconds', scaleByRate: true },
  alloc_objects: { id: 'memory:alloc_objects:count:space:bytes', scaleByRate: false },
  alloc_space: { id: 'memory:alloc_space:bytes:space:bytes', scaleByRate: false },
  inuse_objects: { id: 'memory:inuse_objects:count:space:bytes', scaleByRate: false },
  inuse_space: { id: 'memory:inuse_space:bytes:space:bytes', scaleByRate: false },
  goroutines: { id: 'goroutines:goroutine:count:goroutine:count', scaleByRate: false },
  mutex_count: { id: 'mutex:contentions:count:contentions:count', scaleByRate: false },
  mutex_duration: { id: 'mutex:delay:nanoseconds:contentions:count', scaleByRate: false },
  block_count: { id: 'block:contentions:count:contentions:count', scaleByRate: false },
  block_duration: { id: 'block:delay:nanoseconds:contentions:count', scaleByRate: false },
  lock_count: { id: 'mutex:contentions:count:mutex:count', scaleByRate: false },
  lock_duration: { id: 'mutex:delay:nanoseconds:mutex:count', scaleByRate: false },
  alloc_in_new_tlab_objects: { id: 'memory:alloc_in_new_tlab_objects:count:space:bytes', scaleByRate: false },
  alloc_in_new_tlab_bytes: { id: 'memory:alloc_in_new_tlab_bytes:bytes:space:bytes', scaleByRate: false },
  alloc_outside_tlab_objects: { id: 'memory:alloc_outside_tlab_objects:count:space:bytes', scaleByRate: false },
  alloc_outside_tlab_bytes: { id: 'memory:alloc_outside_tlab_bytes:bytes:space:bytes', scaleByRate: false },
  live: { id: 'memory:live:count:objects:count', scaleByRate: false },
  exceptions: { id: 'exceptions:exceptions:count:exceptions:count', scaleByRate: false },
}

/** Splits `app.cpu` into the service name and the legacy type suffix (default cpu). */
export function splitAppName(app: string): { service: string; suffix: string } {
  const dot = app.lastIndexOf('.')
  if (dot > 0) {
    const suffix = app.slice(dot + 1)
    if (legacyTypes[suffix]) return { service: app.slice(0, dot), suffix }
  }
  return { service: app, suffix: 'cpu' }
}

export interface IngestMeta {
  app: string
  labels: Labels
  fromMs: number
  untilMs: number
  sampleRate: number
  spyName?: string
  labelLimits?: LabelLimits
  /** from/until replace the time the profile carries (re-timing an old recording). */
  retime?: boolean
}

// Year 1971 in ms: a profile time before it is "not set" (0, or py-spy's ms-as-ns).
const EPOCH_GUARD_MS = 365 * 86_400_000

function baseLabels(meta: IngestMeta, metric: string, extra: Labels = []): Labels {
  const { service } = splitAppName(meta.app)
  const pairs: [string, string][] = [['service_name', service]]
  for (const [k, v] of meta.labels) pairs.push([k, v])
  for (const [k, v] of extra) pairs.push([k, v])
  pairs.push(['__name__', metric])
  if (meta.spyName) pairs.push(['pyroscope_spy', meta.spyName])
  return makeLabels(pairs, meta.labelLimits)
}

function timeOf(p: Profile, meta: IngestMeta): { timeMs: number; durationNs: number } {
  const timeMs = p.timeMs > EPOCH_GUARD_MS && !meta.retime ? p.timeMs : meta.fromMs
  const durationNs = p.durationNanos > 0 ? p.durationNanos : Math.max(0, meta.untilMs - meta.fromMs) * 1e6
  return { timeMs, durationNs }
}

/** Legacy text uploads: one sample type, typed by the app name's suffix. */
export function legacyWrites(p: Profile, meta: IngestMeta): SeriesWrite[] {
  const { suffix } = splitAppName(meta.app)
  const t = legacyTypes[suffix]!
  const unit = p.sampleTypes[0]!.unit
  // Time units (speedscope files) convert to nanoseconds; counts scale by the sample rate.
  const timeScale: Record<string, number> = { nanoseconds: 1, microseconds: 1e3, milliseconds: 1e6, seconds: 1e9 }
  const scale = timeScale[unit] ?? (t.scaleByRate ? 1e9 / meta.sampleRate : 1)
  const metric = t.id.split(':')[0]!
  return splitBySampleLabels(p, 0, scale, t.id, (extra) => baseLabels(meta, metric, extra), timeOf(p, meta), sampleKeys(p))
}

/** Per-sample-type settings the Go SDK sends beside a pprof (`sample_type_config`). */
export type SampleTypeConfig = Record<
  string,
  { units?: string; 'display-name'?: string; aggregation?: string; cumulative?: boolean; sampled?: boolean }
>

/**
 * Pyroscope's .NET spy: `spyName=dotnetspy`, or no spy named and a sample_type_config with .NET's
 * `inuse-space` (older .NET agents sent no spyName).
 */
function isDotnet(meta: IngestMeta, config: SampleTypeConfig | undefined): boolean {
  if (meta.spyName === 'dotnetspy') return true
  return (!meta.spyName || meta.spyName === 'unknown') && config?.['inuse-space'] !== undefined
}

/**
 * One `__name__` for all of a .NET profile's types, as Pyroscope names it: `wall` when a type is
 * wall, else the first type (by its display name) that names a kind — .NET's first type is cpu, so
 * its alloc and lock types are `process_cpu:alloc_samples:count::nanoseconds`, not `memory:…`.
 */
function dotnetMetricName(p: Profile, config: SampleTypeConfig | undefined): string {
  if (p.sampleTypes.some((st) => st.type === 'wall')) return 'wall'
  for (const st of p.sampleTypes) {
    const t = config?.[st.type]?.['display-name'] ?? st.type
    if (t.includes('cpu')) return 'process_cpu'
    if (t.includes('alloc_') || t.includes('inuse_') || t === 'space' || t === 'objects') return 'memory'
    if (t.includes('mutex_')) return 'mutex'
    if (t.includes('block_')) return 'block'
    if (t.includes('goroutines')) return 'goroutines'
  }
  return metricNameForSampleType(p.sampleTypes[0]!.type, p.periodType.type)
}

// Series labels made before, by what makes them (app, spy, the upload's labels, metric, sample
// labels): types of one kind (a Go heap profile's four are all `memory`) and the next upload of
// the same service share them. 4,096 keys of at most 2,048 characters: a few MB at most.
const seriesLabels = new BoundedMemo<Labels>(4096, 2048)

function cachedBaseLabels(meta: IngestMeta, metric: string, extra: Labels, sampleKey: string): Labels {
  const key = `${meta.app}\u0000${meta.spyName ?? ''}\u0000${metric}\u0000${sampleKey}\u0000${labelsKey(meta.labels)}`
  return seriesLabels.get(key, meta.labelLimits, () => baseLabels(meta, metric, extra))
}

/** pprof uploads: each sample type becomes its own series, `__name__` derived from it. */
export function pprofWrites(p: Profile, meta: IngestMeta, opts: { config?: SampleTypeConfig; metricName?: string } = {}): SeriesWrite[] {
  const out: SeriesWrite[] = []
  const time = timeOf(p, meta)
  const dotnet = isDotnet(meta, opts.config)
  const profileMetric = opts.metricName ?? (dotnet ? dotnetMetricName(p, opts.config) : undefined)
  const keys = sampleKeys(p)
  p.sampleTypes.forEach((st, i) => {
    const display = opts.config?.[st.type]?.['display-name'] ?? st.type
    if (opts.config && Object.keys(opts.config).length && !opts.config[st.type]) return
    const metric = profileMetric ?? metricNameForSampleType(display, p.periodType.type)
    const id = profileTypeId({
      name: metric,
      // .NET names types with dashes (alloc-samples); Pyroscope makes them PromQL-friendly.
      sampleType: dotnet ? st.type.replaceAll('-', '_') : st.type,
      sampleUnit: st.unit,
      periodType: p.periodType.type,
      periodUnit: p.periodType.unit,
    })
    out.push(...splitBySampleLabels(p, i, 1, id, (extra, key) => cachedBaseLabels(meta, metric, extra, key), time, keys))
  })
  return out
}

// Sample labels that identify a request, not a series: kept out of series labels. (span_name
// stays one, as in Pyroscope: it has as many values as the service has operations.)
const notSeriesLabels = new Set(['span_id', 'trace_id', 'profile_id'])

/**
 * Each sample's series key (the JSON of its labels that make series; '' for none), those labels,
 * and its span id ('' for none): worked out once for all of a profile's sample types.
 */
interface SampleKeys {
  keys: string[]
  extras: Labels[]
  spans: string[]
}

const noLabels: Labels = []

function sampleKeys(p: Profile): SampleKeys {
  const n = p.samples.length
  const out: SampleKeys = { keys: new Array(n), extras: new Array(n), spans: new Array(n) }
  for (let i = 0; i < n; i++) {
    const labels = p.samples[i]!.labels
    if (!labels?.length) {
      out.keys[i] = ''
      out.extras[i] = noLabels
      out.spans[i] = ''
      continue
    }
    const extra = labels.filter(([k]) => !notSeriesLabels.has(k))
    out.keys[i] = extra.length ? JSON.stringify(extra) : ''
    out.extras[i] = extra
    // The span rides with the sample into the store (a malformed id is dropped, the sample kept).
    const span = labels.find(([k]) => k === SPAN_ID_LABEL)
    out.spans[i] = (span && spanIdValue(span[1])) || ''
  }
  return out
}

/** One series per distinct set of sample labels (dynamic labels become series labels). */
function splitBySampleLabels(
  p: Profile,
  typeIndex: number,
  scale: number,
  profileType: string,
  labelsFor: (extra: Labels, key: string) => Labels,
  time: { timeMs: number; durationNs: number },
  sample: SampleKeys,
): SeriesWrite[] {
  const groups = new Map<string, { extra: Labels; stacks: number[][]; values: number[]; spans: string[]; anySpan: boolean }>()
  for (let i = 0; i < p.samples.length; i++) {
    const s = p.samples[i]!
    const v = s.values[typeIndex]!
    if (!v) continue
    const key = sample.keys[i]!
    let g = groups.get(key)
    if (!g) groups.set(key, (g = { extra: sample.extras[i]!, stacks: [], values: [], spans: [], anySpan: false }))
    g.stacks.push(s.stack)
    g.values.push(v * scale)
    const span = sample.spans[i]!
    g.spans.push(span)
    if (span) g.anySpan = true
  }
  if (groups.size > 1000)
    throw new KilnError(
      'KILN_LIMIT',
      `profile splits into ${groups.size} series by its sample labels; the limit is 1000 — use fewer distinct dynamic labels`,
    )
  return [...groups].map(([key, g]) => ({
    profileType,
    labels: labelsFor(g.extra, key),
    timeMs: time.timeMs,
    durationNs: time.durationNs,
    functions: p.functions,
    ...(p.sources ? { sources: p.sources } : {}),
    ...(p.period ? { period: p.period } : {}),
    stacks: g.stacks,
    values: g.values,
    ...(g.anySpan ? { spans: g.spans } : {}),
  }))
}
