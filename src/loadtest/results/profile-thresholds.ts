/**
 * Thresholds on the target's profile and against a baseline run, judged once after the run from
 * the Kiln server that stored it (`-o kiln=URL`):
 *
 *   profile_share{function:"handleSearch"}          share of the profile's total in stacks through the function (0…1)
 *   profile_share{function:"json.*",match:"regex"}  …through any function the regex matches (anchored, as =~ in selectors)
 *   profile_cpu_seconds{service_name:"api"}         CPU seconds of the selection (through `function` when given)
 *   profile_share_change{function:"handleSearch"}   share here minus share in the baseline (0.05 = 5 points hotter)
 *   http_req_duration_change                        a run metric's change against the baseline: p(95)<0.1 = at most 10% slower
 *
 * Other tags (`service_name:"api"`) narrow the run's --profile selector; `type:"…"` picks the
 * profile type (default: the run page's, a CPU type first). The value is `value` (k6's gauge).
 */
import { KilnError } from '../../model/errors.ts'
import { RUN_PERCENTILES, type MetricSummary, type RunInfo } from '../../model/run.ts'
import { parseTagSuffix, type MetricType } from './metrics.ts'
import type { ExternalMetric, Threshold } from './thresholds.ts'
import { ProfileSource, narrowSelector, noProfileReason, type Stacks, type StoredRun } from './profile-source.ts'
import type { ClientOptions } from '../../client/client.ts'
import { ConfigError } from '../errors.ts'
import { parseDuration } from '../run/duration.ts'

type ProfileKind = 'profile_share' | 'profile_cpu_seconds' | 'profile_share_change'

interface ProfileSpec {
  kind: ProfileKind
  /** The function the value is about (null: the whole profile). */
  fn: { text: string; test: (frame: string) => boolean } | null
  labels: Record<string, string>
  type?: string
}
interface ChangeSpec {
  kind: 'change'
  metric: string
  metricType: MetricType
}
type Spec = ProfileSpec | ChangeSpec

/** An external metric with what it measures. */
export interface JudgedMetric extends ExternalMetric {
  spec: Spec
}

const PROFILE_KINDS = new Set<string>(['profile_share', 'profile_cpu_seconds', 'profile_share_change'])
const TREND_AGGS = /^(avg|min|max|med|p\((50|90|95|99)\))$/
const CHANGE_AGGS: Record<MetricType, RegExp> = { trend: TREND_AGGS, counter: /^(count|rate)$/, rate: /^rate$/, gauge: /^(avg|min|max)$/ }

/** The function part of a frame: V8 and others name frames `function file:line`. */
const fnPart = (frame: string): string => {
  const sp = frame.indexOf(' ')
  return sp < 0 ? frame : frame.slice(0, sp)
}

function functionMatcher(text: string, mode: string): ProfileSpec['fn'] {
  if (mode === 'regex') {
    let re: RegExp
    try {
      re = new RegExp(`^(?:${text})$`)
    } catch (e) {
      throw new KilnError('KILN_BAD_REQUEST', `function regex ${JSON.stringify(text)}: ${(e as Error).message}`)
    }
    return { text, test: (f) => re.test(f) || re.test(fnPart(f)) }
  }
  if (mode !== 'exact') throw new KilnError('KILN_BAD_REQUEST', `match:"${mode}" is not one of exact (the default) or regex`)
  return { text, test: (f) => f === text || fnPart(f) === text }
}

/**
 * The resolver `buildThresholds` takes: recognises profile_* names, and `METRIC_change` for a
 * metric of `known` (a built-in or custom metric's type by name).
 */
export function profileMetrics(known: (name: string) => MetricType | undefined): (name: string) => JudgedMetric | null {
  return (full) => {
    const b = full.indexOf('{')
    const base = (b < 0 ? full : full.slice(0, b)).trim()
    const tags = b < 0 ? {} : parseTagSuffix(full.slice(b + 1, full.trimEnd().replace(/\}$/, '').length))
    const canonical = `${base}${
      b < 0
        ? ''
        : `{${Object.entries(tags)
            .map(([k, v]) => `${k}:${v}`)
            .join(',')}}`
    }`
    if (PROFILE_KINDS.has(base)) {
      const { function: fn, match = 'exact', type, ...labels } = tags
      if (base !== 'profile_cpu_seconds' && !fn)
        throw new KilnError('KILN_BAD_REQUEST', `${base} needs a function tag, e.g. ${base}{function:"handleSearch"}`)
      if (match !== 'exact' && !fn) throw new KilnError('KILN_BAD_REQUEST', 'match applies to the function tag: add function:"…"')
      const spec: ProfileSpec = { kind: base as ProfileKind, fn: fn ? functionMatcher(fn, match) : null, labels, ...(type ? { type } : {}) }
      return { name: canonical, type: 'gauge', aggs: /^value$/, values: null, spec }
    }
    const m = /^(.+)_change$/.exec(base)
    const metricType = m ? known(m[1]!) : undefined
    if (!m || !metricType) return null
    if (b >= 0) throw new KilnError('KILN_BAD_REQUEST', `${base} takes no tags: Kiln keeps each run's metrics whole, not by tag`)
    return {
      name: canonical,
      type: metricType,
      aggs: CHANGE_AGGS[metricType],
      values: null,
      spec: { kind: 'change', metric: m[1]!, metricType },
    }
  }
}

/** How a judge reaches the runs: the current run (stored once it ends) and, maybe, a baseline. */
export interface JudgeContext {
  client: ClientOptions
  /** The current run's id once stored; throws why it is not stored. */
  current: () => Promise<string>
  /** `--baseline`: a run id or `latest`. */
  baseline?: string
  /** How long to wait for the target's profile of the run's last seconds (ms; 0: no wait). */
  profileWaitMs: number
  warn: (s: string) => void
}

/** Judges the external thresholds (sets their metrics' values or reasons); other thresholds are left alone. */
export async function judgeExternal(ths: Threshold[], ctx: JudgeContext): Promise<void> {
  const metrics = [...new Set(ths.map((t) => t.external).filter((m): m is JudgedMetric => !!m && 'spec' in m))]
  if (!metrics.length) return
  const failAll = (reason: string) => metrics.forEach((m) => (m.reason ??= reason))
  const source = new ProfileSource(ctx.client)
  let current: StoredRun
  try {
    current = await source.run(await ctx.current())
  } catch (e) {
    return failAll((e as Error).message)
  }
  let baseline: StoredRun | null = null
  let baselineError = ''
  if (metrics.some((m) => m.spec.kind === 'change' || m.spec.kind === 'profile_share_change')) {
    if (!ctx.baseline) baselineError = 'no baseline run: give kiln run --baseline RUN_ID|latest (or options.kiln.baseline)'
    else baseline = await source.baseline(ctx.baseline, current.run).catch((e: Error) => ((baselineError = e.message), null))
  }
  const waited = new Set<string>()
  for (const m of metrics) {
    try {
      const spec = m.spec
      if (spec.kind === 'change') {
        if (!baseline) throw new Error(baselineError)
        m.values = metricChange(spec, current, baseline)
        continue
      }
      const selector = narrowSelector(current.run.profile, spec.labels)
      if (selector === '{}')
        throw new Error(
          `which profile? give kiln run --profile SELECTOR (e.g. '{service_name="api"}') or a label tag such as ${spec.kind}{service_name:"api"}`,
        )
      if (ctx.profileWaitMs > 0 && !waited.has(selector)) {
        waited.add(selector)
        const ok = await source.waitForProfileAfter(selector, current.run.ended, ctx.profileWaitMs)
        if (!ok)
          ctx.warn(
            `profile thresholds: no profile of ${selector} came in within ${ctx.profileWaitMs / 1000} s after the run; its last seconds may be missing (options.kiln.profileWait)\n`,
          )
      }
      m.values = await profileValue(
        source,
        spec,
        selector,
        current.run,
        spec.kind === 'profile_share_change' ? baseline : null,
        baselineError,
      )
    } catch (e) {
      m.reason = (e as Error).message
    }
  }
}

async function profileValue(
  source: ProfileSource,
  spec: ProfileSpec,
  selector: string,
  run: RunInfo,
  baseline: StoredRun | null,
  baselineError: string,
): Promise<Record<string, number>> {
  const cpu = spec.kind === 'profile_cpu_seconds'
  const here = await source.stacks(selector, run, { ...(spec.type ? { type: spec.type } : {}), cpu })
  if (!here) throw new Error(noProfileReason(selector, run))
  if (cpu) {
    const v = spec.fn ? through(here, spec.fn) : { value: here.total, seen: true }
    if (!v.seen) await knownFunction(source, spec, here, run)
    return { value: v.value / 1e9 }
  }
  const mine = through(here, spec.fn!)
  if (spec.kind === 'profile_share') {
    if (!mine.seen) await knownFunction(source, spec, here, run)
    return { value: mine.value / here.total }
  }
  if (!baseline) throw new Error(baselineError)
  const baseSel = narrowSelector(baseline.run.profile || run.profile, spec.labels)
  const there = await source.stacks(baseSel, baseline.run, { type: here.type })
  if (!there) throw new Error(`baseline run ${baseline.run.id}: ${noProfileReason(baseSel, baseline.run)}`)
  const theirs = through(there, spec.fn!)
  if (!mine.seen && !theirs.seen) throw new Error(`${absent(spec, here)}, nor in the baseline run's`)
  const now = mine.value / here.total
  const before = theirs.value / there.total
  return { value: now - before, current: now, baseline: before }
}

/** The value of the stacks through a function (each stack counted once, so recursion is too), and whether any frame matched. */
export function through(s: Stacks, fn: NonNullable<ProfileSpec['fn']>): { value: number; seen: boolean } {
  const memo = new Map<string, boolean>()
  const hit = (f: string) => {
    let v = memo.get(f)
    if (v === undefined) memo.set(f, (v = fn.test(f)))
    return v
  }
  let value = 0
  let seen = false
  for (const [stack, v] of s.stacks) {
    if (stack.some(hit)) {
      value += v
      seen = true
    }
  }
  return { value, seen }
}

/**
 * A function in no stack of the run's window is 0 when the target ran it in the hour before (a
 * cheap function may go unsampled in a short run: at 100 Hz, 0.4% of 6 CPU seconds is 2 samples),
 * and fails otherwise: a misspelt or renamed function would pass for ever at 0.
 */
async function knownFunction(source: ProfileSource, spec: ProfileSpec, here: Stacks, run: RunInfo): Promise<void> {
  const before = await source.stacks(here.selector, run, { type: here.type, reachBackMs: 3_600_000 })
  if (!before || !through(before, spec.fn!).seen) throw new Error(absent(spec, before ?? here))
}

function absent(spec: ProfileSpec, s: Stacks): string {
  const names = new Set(s.stacks.flatMap(([st]) => st))
  const needle = spec.fn!.text.toLowerCase().replace(/[^a-z0-9_$]/g, '')
  const like = [...names].filter((n) => needle && fnPart(n).toLowerCase().includes(needle.slice(0, 6))).slice(0, 3)
  return `no function ${spec.fn!.text} in the ${s.type} profile of ${s.selector} during the run or the hour before (${names.size} functions${like.length ? `; similar: ${like.join(', ')}` : ''})`
}

/** A metric aggregate from a stored run's summary; undefined when the store does not keep it. */
function aggregate(m: MetricSummary, agg: string, type: MetricType, run: RunInfo): number | undefined {
  if (agg === 'avg' || agg === 'min' || agg === 'max') return m[agg]
  if (agg === 'med') return m.p50
  const p = /^p\((\d+)\)$/.exec(agg)
  if (p) return RUN_PERCENTILES.includes(Number(p[1]) as (typeof RUN_PERCENTILES)[number]) ? m[`p${p[1]}` as 'p50'] : undefined
  if (agg === 'count') return type === 'counter' ? m.sum : m.count
  if (agg === 'rate') return type === 'rate' ? (m.count ? m.sum / m.count : 0) : m.sum / Math.max(0.001, (run.ended - run.started) / 1000)
  return undefined
}

/** Every aggregation's change: relative (0.1 = 10% more) except a rate metric's rate, which changes in points. */
function metricChange(spec: ChangeSpec, current: StoredRun, baseline: StoredRun): Record<string, number> {
  const a = baseline.metrics[spec.metric]
  const b = current.metrics[spec.metric]
  if (!a) throw new Error(`${spec.metric} has no samples in the baseline run ${baseline.run.id}`)
  if (!b) throw new Error(`${spec.metric} has no samples in this run`)
  const out: Record<string, number> = {}
  for (const agg of ['avg', 'min', 'max', 'med', 'p(50)', 'p(90)', 'p(95)', 'p(99)', 'count', 'rate']) {
    if (!CHANGE_AGGS[spec.metricType].test(agg)) continue
    const before = aggregate(a, agg, spec.metricType, baseline.run)
    const now = aggregate(b, agg, spec.metricType, current.run)
    if (before === undefined || now === undefined) continue
    out[agg] = spec.metricType === 'rate' ? now - before : before === 0 ? (now === 0 ? 0 : Infinity) : now / before - 1
  }
  return out
}

/** `options.kiln` of a script: `{ profile, baseline, profileWait }` (flags win over them). */
export interface KilnOptions {
  profile?: string
  baseline?: string
  profileWaitMs: number
}

/**
 * 30 s by default: an SDK sends a period's profile when the period ends (every 15 s by default),
 * and the one stamped after the run's end comes at most two periods after it.
 */
const DEFAULT_PROFILE_WAIT_MS = 30_000

function waitMs(v: unknown): number {
  try {
    return parseDuration(v, 'options.kiln.profileWait')
  } catch (e) {
    throw new ConfigError((e as Error).message)
  }
}

export function kilnOptions(v: unknown): KilnOptions {
  if (v === undefined || v === null) return { profileWaitMs: DEFAULT_PROFILE_WAIT_MS }
  if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError('options.kiln must be an object: { profile, baseline, profileWait }')
  const o = v as Record<string, unknown>
  for (const k of Object.keys(o))
    if (!['profile', 'baseline', 'profileWait'].includes(k))
      throw new ConfigError(`options.kiln.${k} is not an option: Kiln reads profile, baseline and profileWait`)
  const text = (k: string): string | undefined => {
    if (o[k] === undefined) return undefined
    if (typeof o[k] !== 'string' || !o[k]) throw new ConfigError(`options.kiln.${k} must be a non-empty string`)
    return o[k] as string
  }
  const wait = o.profileWait
  return {
    ...(text('profile') ? { profile: text('profile')! } : {}),
    ...(text('baseline') ? { baseline: text('baseline')! } : {}),
    profileWaitMs: wait === undefined ? DEFAULT_PROFILE_WAIT_MS : waitMs(wait),
  }
}
