/**
 * k6 thresholds: `{ 'metric{tag:v}': ['p(95)<200', { threshold: 'rate<0.01', abortOnFail: true }] }`.
 * Grammar `aggregation operator number`; the aggregations allowed depend on the metric type.
 */
import { KilnError } from '../../model/errors.ts'
import { Sink, type MetricType, type Registry } from './metrics.ts'
import { parseDuration } from '../run/duration.ts'

export interface Threshold {
  source: string // as written, e.g. 'p(95)<200'
  metric: string // full name incl. submetric suffix
  agg: string
  op: string
  value: number
  abortOnFail: boolean
  delayAbortEvalMs: number
  sink: Sink
  ok: boolean
  /** Last evaluated aggregate, shown in the summary. */
  actual: number
  /** Set for a metric Kiln computes once at the end of the run (the target's profile, a baseline). */
  external?: ExternalMetric
  /** Why the threshold could not be judged (then it fails). */
  reason?: string
}

/**
 * A metric without samples, judged once after the run (results/profile-thresholds.ts): its values
 * by aggregation, or why there are none. Shared by the thresholds on it.
 */
export interface ExternalMetric {
  name: string
  type: MetricType
  /** The aggregations it has, e.g. /^value$/. */
  aggs: RegExp
  values: Record<string, number> | null
  reason?: string
}

/** Recognises the names of external metrics (null: not one). */
export type ExternalResolver = (name: string) => ExternalMetric | null

const allowed: Record<MetricType, RegExp> = {
  counter: /^(count|rate)$/,
  gauge: /^value$/,
  rate: /^rate$/,
  trend: /^(avg|min|max|med|p\(\d+(\.\d+)?\))$/,
}
const EXPR = /^\s*([a-z]+(?:\(\s*\d+(?:\.\d+)?\s*\))?)\s*(<=|>=|===|==|!=|<|>)\s*(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*$/i

/** Parses one expression such as `p(95) < 200`; throws a KilnError naming the threshold. */
export function parseExpression(src: string): { agg: string; op: string; value: number } {
  const m = EXPR.exec(src)
  if (!m) {
    throw new KilnError('KILN_BAD_REQUEST', `threshold '${src}' is not 'aggregation operator number' (e.g. 'p(95)<200')`)
  }
  return { agg: m[1]!.replace(/\s+/g, ''), op: m[2]!, value: Number(m[3]) }
}

/** One entry of a metric's list: `'p(95)<200'` or `{ threshold, abortOnFail?, delayAbortEval? }`, parsed. */
function readItem(
  name: string,
  item: unknown,
): { obj: Record<string, unknown>; src: string; parsed: { agg: string; op: string; value: number } } {
  const obj = typeof item === 'string' ? { threshold: item } : (item as Record<string, unknown>)
  if (!obj || typeof obj.threshold !== 'string') {
    throw new KilnError('KILN_BAD_REQUEST', `threshold on '${name}' must be a string or {threshold: string, abortOnFail?, delayAbortEval?}`)
  }
  try {
    return { obj, src: obj.threshold, parsed: parseExpression(obj.threshold) }
  } catch (e) {
    throw new KilnError('KILN_BAD_REQUEST', `invalid threshold on '${name}': ${(e as Error).message}`)
  }
}

const aggList = (re: RegExp): string => re.source.replace(/[\\^$]/g, '')

/** Builds the thresholds of `options.thresholds`, creating submetrics as needed; `externals` recognises metrics judged after the run. */
export function buildThresholds(spec: unknown, registry: Registry, externals?: ExternalResolver): Threshold[] {
  if (spec === undefined || spec === null) return []
  if (typeof spec !== 'object' || Array.isArray(spec)) {
    throw new KilnError('KILN_BAD_REQUEST', 'options.thresholds must be an object of metric name → list of expressions')
  }
  const out: Threshold[] = []
  const byName = new Map<string, ExternalMetric>()
  for (const [name, list] of Object.entries(spec as Record<string, unknown>)) {
    let ext: ExternalMetric | null = null
    let found: ReturnType<Registry['submetric']> | null = null
    try {
      if (!registry.metrics.has(name.split('{')[0]!.trim()) && externals) ext = externals(name)
      if (ext) byName.set(ext.name, (ext = byName.get(ext.name) ?? ext))
      else found = registry.submetric(name)
    } catch (e) {
      throw new KilnError('KILN_BAD_REQUEST', `invalid threshold on '${name}': ${(e as Error).message}`)
    }
    for (const item of Array.isArray(list) ? list : [list]) {
      const { obj, src, parsed } = readItem(name, item)
      const [what, aggs] = ext ? [ext.name.split('{')[0]!, ext.aggs] : [`a ${found!.metric.type} metric`, allowed[found!.metric.type]]
      if (!aggs.test(parsed.agg))
        throw new KilnError(
          'KILN_BAD_REQUEST',
          `invalid threshold '${src}' on '${name}': '${parsed.agg}' does not apply to ${what} (allowed: ${aggList(aggs)})`,
        )
      if (ext) {
        if (obj.abortOnFail === true) {
          throw new KilnError(
            'KILN_BAD_REQUEST',
            `abortOnFail is not supported on '${name}': it is judged once, after the run, from the Kiln server; remove abortOnFail (a failed one still makes kiln run exit 99)`,
          )
        }
        out.push({
          source: src,
          metric: ext.name,
          ...parsed,
          abortOnFail: false,
          delayAbortEvalMs: 0,
          sink: new Sink('gauge'),
          ok: true,
          actual: 0,
          external: ext,
        })
        continue
      }
      const delay = obj.delayAbortEval
      out.push({
        source: src,
        metric: found!.sub ? found!.sub.name : found!.metric.name,
        ...parsed,
        abortOnFail: obj.abortOnFail === true,
        delayAbortEvalMs: typeof delay === 'string' ? parseDuration(delay, `delayAbortEval of '${name}'`) : 0,
        sink: found!.sub ? found!.sub.sink : found!.metric.sink,
        ok: true,
        actual: 0,
      })
    }
  }
  return out
}

function compare(a: number, op: string, b: number): boolean {
  switch (op) {
    case '<':
      return a < b
    case '<=':
      return a <= b
    case '>':
      return a > b
    case '>=':
      return a >= b
    case '!=':
      return a !== b
    default:
      return a === b
  }
}

/** Evaluates every threshold; returns the ones that failed and should abort the test now. */
export function evaluate(ths: Threshold[], elapsedMs: number, final: boolean): Threshold[] {
  const abort: Threshold[] = []
  for (const t of ths) {
    const ext = t.external
    if (ext) {
      // Not judged before the end of the run; at the end, no value is a failure, never a pass.
      if (!final && !ext.values && !ext.reason) continue
      const v = ext.values?.[t.agg]
      t.reason = ext.reason ?? (v === undefined ? `no ${t.agg} of ${ext.name}` : undefined)
      t.actual = v ?? NaN
      t.ok = !t.reason && compare(t.actual, t.op, t.value)
      continue
    }
    t.actual = t.sink.stat(t.agg, elapsedMs / 1000)
    // A threshold on a metric without samples passes, as in k6 (nothing to judge yet).
    t.ok = t.sink.count === 0 ? true : compare(t.actual, t.op, t.value)
    if (!t.ok && !final && t.abortOnFail && elapsedMs >= t.delayAbortEvalMs) abort.push(t)
  }
  return abort
}
