/**
 * Recording rules: profiles turned into Prometheus counters (issue 11 §6), in the shape of
 * Pyroscope's `settings.v1` RecordingRule (metric name, profile type, matchers, group-by labels,
 * external labels, a stack-trace filter on a function name), accepted in YAML's snake_case and
 * JSON's camelCase. Kiln adds `function_pattern`: an RE2 regex whose every matching function
 * becomes its own series with a `function_name` label, which is what the seed's
 * `sum by (function_name)` alert needs. Pure: validation and the exposition text.
 */
import { KilnError } from './errors.ts'
import { parseSelector, re2Incompatible, type Matcher } from './selector.ts'

export interface RecordingRule {
  id: string
  /** Prometheus metric name; a counter, so it should end in `_total`. */
  metricName: string
  /** `name:sample_type:sample_unit:period_type:period_unit`. */
  profileType: string
  /** The selectors as given (`{service_name="api"}`), all of them ANDed. */
  matchers: string[]
  groupBy: string[]
  externalLabels: Record<string, string>
  /** Only stacks through this function (exact name, Pyroscope's stack-trace filter). */
  functionName?: string
  /** Every function whose whole name matches this RE2 regex, each its own series. */
  functionPattern?: string
  /** Changes made through the API so far (1 when made); an upsert names the one it saw. */
  generation?: number
}

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/

const bad = (where: string, what: string): never => {
  throw new KilnError('KILN_BAD_REQUEST', `${where}: ${what}`)
}

function pick(o: Record<string, unknown>, ...names: string[]): unknown {
  for (const n of names) if (o[n] !== undefined) return o[n]
  return undefined
}

function strings(v: unknown, where: string, what: string): string[] {
  if (v === undefined || v === null) return []
  if (typeof v === 'string') return [v]
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[]
  return bad(where, `${what} is a list of strings`)
}

/** Checks one rule as YAML or the API gives it; `where` names it in errors (`recording_rules[2]`). */
export function parseRecordingRule(raw: unknown, where: string): RecordingRule {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    return bad(where, 'a recording rule is an object with metric_name, profile_type and matchers')
  const o = raw as Record<string, unknown>
  const metricName = pick(o, 'metric_name', 'metricName')
  if (typeof metricName !== 'string' || !METRIC.test(metricName)) {
    return bad(
      where,
      `metric_name ${JSON.stringify(metricName ?? null)} is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), e.g. kiln_function_cpu_seconds_total`,
    )
  }
  const matchers = strings(pick(o, 'matchers', 'selector'), where, 'matchers')
  let profileType = pick(o, 'profile_type', 'profileType')
  for (const m of matchers) {
    const sel = parseSelectorAt(m, where)
    const pt = sel.find((x) => x.name === '__profile_type__' && x.op === '=')
    if (pt && profileType === undefined) profileType = pt.value
    for (const x of sel) if (x.op === '=~' || x.op === '!~') re2Check(x.value, where)
  }
  if (typeof profileType !== 'string' || profileType.split(':').length !== 5) {
    return bad(
      where,
      `profile_type ${JSON.stringify(profileType ?? null)} is not name:sample_type:sample_unit:period_type:period_unit, e.g. process_cpu:cpu:nanoseconds:cpu:nanoseconds`,
    )
  }
  const groupBy = strings(pick(o, 'group_by', 'groupBy'), where, 'group_by')
  for (const g of groupBy)
    if (!LABEL.test(g) || g === 'function_name')
      bad(where, `group_by label ${JSON.stringify(g)} is not a label name (function_name comes from function_pattern)`)
  const externalLabels = labelsOf(pick(o, 'external_labels', 'externalLabels'), where)
  const filter = pick(o, 'stacktrace_filter', 'stacktraceFilter') as Record<string, unknown> | undefined
  const fnObj =
    filter && typeof filter === 'object'
      ? (pick(filter, 'function_name', 'functionName') as Record<string, unknown> | undefined)
      : undefined
  const functionName =
    pick(o, 'function_name', 'functionName') ??
    (fnObj && typeof fnObj === 'object' ? pick(fnObj, 'function_name', 'functionName') : undefined)
  const functionPattern = pick(o, 'function_pattern', 'functionPattern')
  if (functionName !== undefined && (typeof functionName !== 'string' || !functionName)) bad(where, 'function_name is a function name')
  if (functionPattern !== undefined) {
    if (typeof functionPattern !== 'string' || !functionPattern) bad(where, 'function_pattern is an RE2 regular expression')
    re2Check(functionPattern as string, where)
    if (functionName !== undefined) bad(where, 'give function_name (one function) or function_pattern (each matching function), not both')
  }
  const id = pick(o, 'id')
  if (id !== undefined && (typeof id !== 'string' || !/^[A-Za-z0-9_.:-]{1,128}$/.test(id)))
    bad(where, 'id is up to 128 letters, digits, _ . : -')
  return {
    id: (id as string | undefined) ?? metricName,
    metricName,
    profileType,
    matchers,
    groupBy,
    externalLabels,
    ...(functionName !== undefined ? { functionName: functionName as string } : {}),
    ...(functionPattern !== undefined ? { functionPattern: functionPattern as string } : {}),
  }
}

function parseSelectorAt(src: string, where: string): Matcher[] {
  try {
    return parseSelector(src).matchers
  } catch (e) {
    return bad(where, (e as Error).message)
  }
}

function re2Check(re: string, where: string): void {
  const not = re2Incompatible(re)
  if (not) bad(where, `regex ${JSON.stringify(re)} uses ${not}, which RE2 (the store's regex engine) cannot run`)
  try {
    new RegExp(re)
  } catch (e) {
    bad(where, `regex ${JSON.stringify(re)}: ${(e as Error).message}`)
  }
}

function labelsOf(v: unknown, where: string): Record<string, string> {
  if (v === undefined || v === null) return {}
  const pairs: [unknown, unknown][] = Array.isArray(v)
    ? v.map((x) => [(x as { name?: unknown })?.name, (x as { value?: unknown })?.value])
    : typeof v === 'object'
      ? Object.entries(v as object)
      : bad(where, 'external_labels is a map of label → value')
  const out: Record<string, string> = {}
  for (const [n, val] of pairs) {
    if (typeof n !== 'string' || !LABEL.test(n) || typeof val !== 'string')
      bad(where, `external label ${JSON.stringify(n)}=${JSON.stringify(val)} is not name="value"`)
    out[n as string] = val as string
  }
  return out
}

/** The rule's matchers, ANDed, without `__profile_type__` (the profile type selects that). */
export function ruleMatchers(r: RecordingRule): Matcher[] {
  return r.matchers.flatMap((m) => parseSelector(m).matchers).filter((m) => m.name !== '__profile_type__')
}

/** Factor from the profile type's sample unit to Prometheus' base unit (seconds, bytes, count). */
export function baseUnitFactor(profileType: string): number {
  const unit = profileType.split(':')[2]
  return unit === 'nanoseconds' ? 1e-9 : unit === 'microseconds' ? 1e-6 : unit === 'milliseconds' ? 1e-3 : 1
}

/** One counter: its labels (group-by values, function_name, external labels) and value in base units. */
export interface CounterSample {
  labels: Record<string, string>
  value: number
}

const escapeValue = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')

/** Prometheus text exposition of the rules' counters (one HELP/TYPE block per metric name). */
export function exposition(metrics: { rule: RecordingRule; samples: CounterSample[] }[]): string {
  const byName = new Map<string, { rule: RecordingRule; samples: CounterSample[] }[]>()
  for (const m of metrics) byName.set(m.rule.metricName, [...(byName.get(m.rule.metricName) ?? []), m])
  let out = ''
  for (const [name, ms] of byName) {
    const r = ms[0]!.rule
    out += `# HELP ${name} Recorded from ${r.profileType} profiles by the recording rule ${r.id} (base units: ${baseUnitFactor(r.profileType) === 1 ? r.profileType.split(':')[2] : 'seconds'}).\n`
    out += `# TYPE ${name} counter\n`
    for (const m of ms) {
      for (const s of m.samples) {
        const labels = Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        const text = labels.map(([k, v]) => `${k}="${escapeValue(v)}"`).join(',')
        out += `${name}${text ? `{${text}}` : ''} ${String(s.value)}\n`
      }
    }
  }
  return out
}
