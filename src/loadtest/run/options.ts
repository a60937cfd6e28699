/**
 * k6 options: layering (config file < script `options` < CLI flags), the shortcut rules that turn
 * vus/duration/iterations/stages into one `default` scenario, and scenario validation.
 */
import type { VuOptions } from '../engine/host.ts'
import { ConfigError } from '../errors.ts'
import { parseDuration, formatDuration } from './duration.ts'
import { SYSTEM_TAGS, type Tags } from '../results/metrics.ts'
import { executionSegment, type Segment } from './segments.ts'
import { netOptions, stringList } from '../modules/http/netrules.ts'

export const EXECUTORS = [
  'shared-iterations',
  'per-vu-iterations',
  'constant-vus',
  'ramping-vus',
  'constant-arrival-rate',
  'ramping-arrival-rate',
  'externally-controlled',
] as const
export type ExecutorName = (typeof EXECUTORS)[number]

export interface Stage {
  durationMs: number
  target: number
}

export interface Scenario {
  name: string
  executor: ExecutorName
  startTimeMs: number
  gracefulStopMs: number
  exec: string
  env: Record<string, string>
  tags: Tags
  vus: number
  iterations: number
  maxDurationMs: number
  durationMs: number
  startVUs: number
  stages: Stage[]
  gracefulRampDownMs: number
  rate: number
  startRate: number
  timeUnitMs: number
  preAllocatedVUs: number
  maxVUs: number
  /** This instance's execution segment (absent: the whole test). */
  segment?: Segment
}

export interface Options {
  /** The consolidated options object, as `exec.test.options` shows it. */
  raw: Record<string, unknown>
  scenarios: Scenario[]
  thresholds: unknown
  tags: Tags
  summaryTrendStats: string[]
  summaryTimeUnit: string
  /** The system tags samples keep (`systemTags`). */
  systemTags: string[]
  noSetup: boolean
  noTeardown: boolean
  minIterationDurationMs: number
  vu: VuOptions
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

function int(v: unknown, what: string, def: number, min = 0): number {
  if (v === undefined || v === null) return def
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min)
    throw new ConfigError(`${what} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`)
  return n
}
function dur(v: unknown, what: string, def: number): number {
  if (v === undefined || v === null || v === '') return def
  try {
    return parseDuration(v, what)
  } catch (e) {
    throw new ConfigError((e as Error).message)
  }
}
function stages(v: unknown, what: string): Stage[] {
  if (!Array.isArray(v) || v.length === 0) throw new ConfigError(`${what} must be a non-empty list of {duration, target}`)
  return v.map((s, i) => {
    if (!isObj(s)) throw new ConfigError(`${what}[${i}] must be {duration, target}`)
    return { durationMs: dur(s.duration, `${what}[${i}].duration`, NaN), target: int(s.target, `${what}[${i}].target`, 0) }
  })
}
const strMap = (v: unknown, what: string): Record<string, string> => {
  if (v === undefined) return {}
  if (!isObj(v)) throw new ConfigError(`${what} must be an object of strings`)
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]))
}

const known: Record<ExecutorName, string[]> = {
  'shared-iterations': ['vus', 'iterations', 'maxDuration'],
  'per-vu-iterations': ['vus', 'iterations', 'maxDuration'],
  'constant-vus': ['vus', 'duration'],
  'ramping-vus': ['startVUs', 'stages', 'gracefulRampDown'],
  'constant-arrival-rate': ['rate', 'timeUnit', 'duration', 'preAllocatedVUs', 'maxVUs'],
  'ramping-arrival-rate': ['startRate', 'timeUnit', 'stages', 'preAllocatedVUs', 'maxVUs'],
  'externally-controlled': ['vus', 'maxVUs', 'duration'],
}
const common = ['executor', 'startTime', 'gracefulStop', 'exec', 'env', 'tags', 'options']

/** Validates one `scenarios` entry and fills k6's defaults. */
export function scenario(name: string, s: unknown): Scenario {
  const w = `scenario '${name}'`
  if (!/^[0-9a-zA-Z_-]+$/.test(name)) throw new ConfigError(`${w}: the name may contain only letters, digits, '_' and '-'`)
  if (!isObj(s)) throw new ConfigError(`${w} must be an object`)
  const ex = s.executor
  if (typeof ex !== 'string' || !(EXECUTORS as readonly string[]).includes(ex)) {
    throw new ConfigError(`${w}: executor must be one of ${EXECUTORS.join(', ')} (got ${JSON.stringify(ex)})`)
  }
  const executor = ex as ExecutorName
  for (const k of Object.keys(s)) {
    if (!common.includes(k) && !known[executor].includes(k)) throw new ConfigError(`${w}: unknown field '${k}' for executor ${executor}`)
  }
  const arrival = executor.endsWith('arrival-rate')
  const sc: Scenario = {
    name,
    executor,
    startTimeMs: dur(s.startTime, `${w}.startTime`, 0),
    gracefulStopMs: dur(s.gracefulStop, `${w}.gracefulStop`, 30_000),
    exec: s.exec === undefined ? 'default' : String(s.exec),
    env: strMap(s.env, `${w}.env`),
    tags: strMap(s.tags, `${w}.tags`),
    vus: int(s.vus, `${w}.vus`, 1, executor === 'externally-controlled' ? 0 : 1),
    iterations: int(s.iterations, `${w}.iterations`, 1, 1),
    maxDurationMs: dur(s.maxDuration, `${w}.maxDuration`, 600_000),
    durationMs: dur(s.duration, `${w}.duration`, executor === 'externally-controlled' ? 0 : NaN),
    startVUs: int(s.startVUs, `${w}.startVUs`, 1),
    stages: executor === 'ramping-vus' || executor === 'ramping-arrival-rate' ? stages(s.stages, `${w}.stages`) : [],
    gracefulRampDownMs: dur(s.gracefulRampDown, `${w}.gracefulRampDown`, 30_000),
    rate: arrival && executor === 'constant-arrival-rate' ? int(s.rate, `${w}.rate`, NaN, 1) : 0,
    startRate: int(s.startRate, `${w}.startRate`, 0),
    timeUnitMs: dur(s.timeUnit, `${w}.timeUnit`, 1000),
    preAllocatedVUs: arrival ? int(s.preAllocatedVUs, `${w}.preAllocatedVUs`, NaN) : 0,
    maxVUs: 0,
  }
  if ((executor === 'constant-vus' || executor === 'constant-arrival-rate') && !Number.isFinite(sc.durationMs)) {
    throw new ConfigError(`${w}: duration is required for ${executor}`)
  }
  if (executor === 'constant-vus' && sc.durationMs <= 0) throw new ConfigError(`${w}: duration must be more than 0`)
  if (executor === 'constant-arrival-rate' && Number.isNaN(sc.rate))
    throw new ConfigError(`${w}: rate is required for constant-arrival-rate`)
  if (arrival && Number.isNaN(sc.preAllocatedVUs)) throw new ConfigError(`${w}: preAllocatedVUs is required for ${executor}`)
  if (executor === 'shared-iterations' && sc.iterations < sc.vus) {
    throw new ConfigError(`${w}: the number of iterations (${sc.iterations}) can't be less than the number of VUs (${sc.vus})`)
  }
  if (executor === 'externally-controlled' && s.duration === undefined)
    throw new ConfigError(`${w}: duration is required for externally-controlled`)
  sc.maxVUs = arrival
    ? int(s.maxVUs, `${w}.maxVUs`, sc.preAllocatedVUs)
    : executor === 'externally-controlled'
      ? int(s.maxVUs, `${w}.maxVUs`, sc.vus)
      : 0
  if (arrival && sc.maxVUs < sc.preAllocatedVUs) throw new ConfigError(`${w}: maxVUs can't be less than preAllocatedVUs`)
  return sc
}

/** How many VUs a scenario needs at most (VUs initialised before the test starts). */
export function scenarioVUs(s: Scenario): number {
  switch (s.executor) {
    case 'ramping-vus': {
      const most = Math.max(s.startVUs, ...s.stages.map((x) => x.target))
      return s.segment ? s.segment.scale(most) : most
    }
    case 'constant-arrival-rate':
    case 'ramping-arrival-rate':
      return s.preAllocatedVUs
    case 'externally-controlled':
      return s.maxVUs
    default:
      return s.vus
  }
}

/** The scheduled length of a scenario without its graceful stop. */
export function scenarioDuration(s: Scenario): number {
  switch (s.executor) {
    case 'ramping-vus':
    case 'ramping-arrival-rate':
      return s.stages.reduce((a, x) => a + x.durationMs, 0)
    case 'shared-iterations':
    case 'per-vu-iterations':
      return s.maxDurationMs
    default:
      return s.durationMs
  }
}

/** k6's one-line description of a scenario, as printed in the banner. */
export function describe(s: Scenario): string {
  const d = formatDuration(scenarioDuration(s))
  const gs = `gracefulStop: ${formatDuration(s.gracefulStopMs)}`
  const extra = [s.exec !== 'default' ? `exec: ${s.exec}` : '', s.startTimeMs ? `startTime: ${formatDuration(s.startTimeMs)}` : ''].filter(
    Boolean,
  )
  const tail = (parts: string[]) => `(${[...extra, ...parts].join(', ')})`
  const rate = (r: number) => `${((r * (s.segment?.length ?? 1)) / (s.timeUnitMs / 1000)).toFixed(2)} iterations/s`
  switch (s.executor) {
    case 'shared-iterations':
      return `${s.iterations} iterations shared among ${s.vus} VUs ${tail([`maxDuration: ${d}`, gs])}`
    case 'per-vu-iterations':
      return `${s.iterations} iterations for each of ${s.vus} VUs ${tail([`maxDuration: ${d}`, gs])}`
    case 'constant-vus':
      return `${s.vus} looping VUs for ${d} ${tail([gs])}`
    case 'ramping-vus':
      return `Up to ${scenarioVUs(s)} looping VUs for ${d} over ${s.stages.length} stages ${tail([`gracefulRampDown: ${formatDuration(s.gracefulRampDownMs)}`, gs])}`
    case 'constant-arrival-rate':
      return `${rate(s.rate)} for ${d} ${tail([`maxVUs: ${s.preAllocatedVUs}-${s.maxVUs}`, gs])}`
    case 'ramping-arrival-rate':
      return `Up to ${rate(Math.max(s.startRate, ...s.stages.map((x) => x.target)))} for ${d} over ${s.stages.length} stages ${tail([`maxVUs: ${s.preAllocatedVUs}-${s.maxVUs}`, gs])}`
    case 'externally-controlled':
      return `Externally controlled execution with ${s.vus} VUs, ${s.maxVUs} max VUs, ${d} duration`
  }
}

const SHORTCUTS = ['duration', 'iterations', 'stages'] as const
const has = (o: Obj, k: string): boolean => o[k] !== undefined && o[k] !== null

/** Applies k6's shortcut rules to one consolidated options object. */
function toScenarios(o: Obj): Scenario[] {
  const given = SHORTCUTS.filter((k) => has(o, k) && !(k === 'stages' && Array.isArray(o.stages) && o.stages.length === 0))
  if (has(o, 'scenarios') && given.length) {
    throw new ConfigError(
      `using 'scenarios' together with '${given.join("', '")}' is not allowed: put everything in scenarios, or drop scenarios`,
    )
  }
  if (given.includes('stages') && given.length > 1) {
    throw new ConfigError(`'stages' can't be combined with '${given.filter((g) => g !== 'stages').join("', '")}': use one of them`)
  }
  if (has(o, 'scenarios')) {
    if (!isObj(o.scenarios)) throw new ConfigError('options.scenarios must be an object of name → scenario')
    const list = Object.entries(o.scenarios).map(([n, s]) => scenario(n, s))
    if (!list.length) throw new ConfigError('options.scenarios is empty: add a scenario or remove the option')
    return list
  }
  const vus = has(o, 'vus') ? o.vus : undefined
  if (given.includes('stages'))
    return [scenario('default', { executor: 'ramping-vus', startVUs: vus ?? 1, stages: o.stages, gracefulRampDown: '30s' })]
  if (given.includes('iterations')) {
    const d = has(o, 'duration') ? { maxDuration: o.duration } : {}
    return [scenario('default', { executor: 'shared-iterations', vus: vus ?? 1, iterations: o.iterations, ...d })]
  }
  if (given.includes('duration')) {
    if (dur(o.duration, 'duration', 0) === 0) throw new ConfigError("duration must be more than 0 (an endless run isn't supported)")
    return [scenario('default', { executor: 'constant-vus', vus: vus ?? 1, duration: o.duration })]
  }
  if (vus !== undefined) return [scenario('default', { executor: 'shared-iterations', vus, iterations: vus })]
  return [scenario('default', { executor: 'per-vu-iterations', vus: 1, iterations: 1 })]
}

/**
 * A scenario's share for this instance's execution segment: fixed counts are scaled here; a
 * ramping-vus target and arrival-rate starts follow `segment` while running (executors.ts).
 */
function segmented(s: Scenario, segment: Segment): Scenario {
  const out = { ...s, segment }
  if (s.executor === 'shared-iterations') out.iterations = segment.scale(s.iterations)
  if (s.executor !== 'ramping-vus') {
    out.vus = segment.scale(s.vus)
    out.preAllocatedVUs = segment.scale(s.preAllocatedVUs)
    out.maxVUs = segment.scale(s.maxVUs)
  }
  return out
}

const DEFAULT_SYSTEM_TAGS = SYSTEM_TAGS.filter((t) => !['vu', 'iter', 'ip', 'ocsp_status'].includes(t))

/** `systemTags` as a list (array, or comma-separated from --system-tags / K6_SYSTEM_TAGS). */
function systemTags(v: unknown): string[] {
  if (v === undefined || v === null) return DEFAULT_SYSTEM_TAGS
  const list = stringList(v, 'systemTags')
  for (const t of list)
    if (!SYSTEM_TAGS.includes(t)) throw new ConfigError(`systemTags: unknown system tag '${t}'; known: ${SYSTEM_TAGS.join(', ')}`)
  return list
}

/**
 * Consolidates the layers, lowest first. A layer that sets a shortcut (duration, iterations,
 * stages) replaces the execution settings of the layers below it, as a k6 CLI flag does.
 */
export function consolidate(layers: Obj[]): Options {
  let o: Obj = {}
  for (const layer of layers) {
    if (SHORTCUTS.some((k) => has(layer, k))) {
      o = { ...o }
      delete o.scenarios
      for (const k of SHORTCUTS) delete o[k]
    }
    for (const [k, v] of Object.entries(layer)) {
      // Tags from --tag add to the script's tags instead of replacing them.
      if (k === 'tags' && isObj(v) && isObj(o.tags)) o.tags = { ...o.tags, ...v }
      else if (v !== undefined) o[k] = v
    }
  }
  const segment = executionSegment(o.executionSegment, o.executionSegmentSequence)
  const scenarios = segment ? toScenarios(o).map((s) => segmented(s, segment)) : toScenarios(o)
  const stats = o.summaryTrendStats === undefined ? ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)'] : o.summaryTrendStats
  if (!Array.isArray(stats) || stats.some((s) => typeof s !== 'string' || !/^(avg|min|med|max|count|p\(\d+(\.\d+)?\))$/.test(s))) {
    throw new ConfigError(`summaryTrendStats must list avg, min, med, max, count or p(N), got ${JSON.stringify(stats)}`)
  }
  const unit = o.summaryTimeUnit === undefined ? '' : String(o.summaryTimeUnit)
  if (!['', 's', 'ms', 'us'].includes(unit)) throw new ConfigError(`summaryTimeUnit must be s, ms or us, got '${unit}'`)
  return {
    raw: o,
    scenarios,
    thresholds: o.thresholds,
    tags: strMap(o.tags, 'options.tags'),
    summaryTrendStats: stats as string[],
    summaryTimeUnit: unit,
    systemTags: systemTags(o.systemTags),
    noSetup: o.noSetup === true,
    noTeardown: o.noTeardown === true,
    minIterationDurationMs: dur(o.minIterationDuration, 'minIterationDuration', 0),
    vu: {
      userAgent: o.userAgent === undefined ? 'Kiln/0.1.0 (k6 compatible)' : String(o.userAgent),
      insecureSkipTLSVerify: o.insecureSkipTLSVerify === true,
      discardResponseBodies: o.discardResponseBodies === true,
      batchPerHost: int(o.batchPerHost, 'batchPerHost', 6, 1),
      maxRedirects: int(o.maxRedirects, 'maxRedirects', 10),
      throw: o.throw === true,
      noCookiesReset: o.noCookiesReset === true,
      batch: int(o.batch, 'batch', 20, 1),
      noVUConnectionReuse: o.noVUConnectionReuse === true,
      net: netOptions(o),
      rps: int(o.rps, 'rps', 0),
      vuTags: ['vu', 'iter', 'ip'].filter((t) => systemTags(o.systemTags).includes(t)) as ('vu' | 'iter' | 'ip')[],
    },
  }
}
