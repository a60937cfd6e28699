/**
 * k6 thresholds: `{ 'metric{tag:v}': ['p(95)<200', { threshold: 'rate<0.01', abortOnFail: true }] }`.
 * Grammar `aggregation operator number`; the aggregations allowed depend on the metric type.
 */
import { KilnError } from '../../model/errors.ts'
import type { MetricType, Registry, Sink } from './metrics.ts'
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
}

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

/** Builds the thresholds of `options.thresholds`, creating submetrics as needed. */
export function buildThresholds(spec: unknown, registry: Registry): Threshold[] {
  if (spec === undefined || spec === null) return []
  if (typeof spec !== 'object' || Array.isArray(spec)) {
    throw new KilnError('KILN_BAD_REQUEST', 'options.thresholds must be an object of metric name → list of expressions')
  }
  const out: Threshold[] = []
  for (const [name, list] of Object.entries(spec as Record<string, unknown>)) {
    let found
    try {
      found = registry.submetric(name)
    } catch (e) {
      throw new KilnError('KILN_BAD_REQUEST', `invalid threshold on '${name}': ${(e as Error).message}`)
    }
    const items = Array.isArray(list) ? list : [list]
    for (const item of items) {
      const obj = typeof item === 'string' ? { threshold: item } : (item as Record<string, unknown>)
      if (!obj || typeof obj.threshold !== 'string') {
        throw new KilnError('KILN_BAD_REQUEST', `threshold on '${name}' must be a string or {threshold: string, abortOnFail?, delayAbortEval?}`)
      }
      const src = obj.threshold
      let parsed
      try {
        parsed = parseExpression(src)
      } catch (e) {
        throw new KilnError('KILN_BAD_REQUEST', `invalid threshold on '${name}': ${(e as Error).message}`)
      }
      const type = found.metric.type
      if (!allowed[type].test(parsed.agg)) {
        throw new KilnError(
          'KILN_BAD_REQUEST',
          `invalid threshold '${src}' on '${name}': '${parsed.agg}' does not apply to a ${type} metric (allowed: ${allowed[type].source.replace(/[\\^$]/g, '')})`,
        )
      }
      const delay = obj.delayAbortEval
      out.push({
        source: src,
        metric: found.sub ? found.sub.name : found.metric.name,
        ...parsed,
        abortOnFail: obj.abortOnFail === true,
        delayAbortEvalMs: typeof delay === 'string' ? parseDuration(delay, `delayAbortEval of '${name}'`) : 0,
        sink: found.sub ? found.sub.sink : found.metric.sink,
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
    t.actual = t.sink.stat(t.agg, elapsedMs / 1000)
    // A threshold on a metric without samples passes, as in k6 (nothing to judge yet).
    t.ok = t.sink.count === 0 ? true : compare(t.actual, t.op, t.value)
    if (!t.ok && !final && t.abortOnFail && elapsedMs >= t.delayAbortEvalMs) abort.push(t)
  }
  return abort
}
