/**
 * The thresholds of a run as the JUnit and Markdown writers read them, from k6's summary data (the
 * object handleSummary gets): one row per threshold with the value it was judged on, or why not.
 */
import { parseExpression } from './thresholds.ts'

/** The parts of k6's summary data the report writers read. */
export interface SummaryLike {
  metrics: Record<
    string,
    { type: string; contains?: string; values: Record<string, number>; thresholds?: Record<string, { ok: boolean; reason?: string }> }
  >
  state?: { testRunDurationMs?: number }
}

export interface ThresholdRow {
  metric: string
  source: string
  ok: boolean
  /** The aggregate judged (NaN when unknown), and how to show it. */
  value: number
  shown: string
  reason?: string
}

/** Every threshold of the data, sorted by metric (as the text summary lists them). */
export function thresholdRows(data: SummaryLike): ThresholdRow[] {
  const rows: ThresholdRow[] = []
  for (const name of Object.keys(data.metrics ?? {}).sort()) {
    const m = data.metrics[name]!
    for (const [source, t] of Object.entries(m.thresholds ?? {})) {
      let agg = ''
      try {
        agg = parseExpression(source).agg
      } catch {
        /* shown without a value */
      }
      const value = m.values[agg] ?? NaN
      rows.push({
        metric: name,
        source,
        ok: t.ok,
        value,
        shown: show(name, m.type, m.contains ?? 'default', agg, value),
        ...(t.reason ? { reason: t.reason } : {}),
      })
    }
  }
  return rows
}

const num = (v: number): string => String(Number(v.toFixed(4)))

/** A value for people: times in ms, rates and shares in %, changes with a sign. */
export function show(metric: string, type: string, contains: string, agg: string, v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? '—' : String(v)
  const base = metric.split('{')[0]!
  if (base === 'profile_share') return `${(v * 100).toFixed(2)}%`
  if (base === 'profile_share_change') return `${v >= 0 ? '+' : ''}${(v * 100).toFixed(2)} points`
  if (base === 'profile_cpu_seconds') return `${num(v)} s`
  if (base.endsWith('_change'))
    return type === 'rate' ? `${v >= 0 ? '+' : ''}${(v * 100).toFixed(2)} points` : `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}%`
  if (type === 'rate') return `${(v * 100).toFixed(2)}%`
  if (agg === 'rate') return `${num(v)}/s`
  if (contains === 'time' && agg !== 'count') return `${num(v)} ms`
  return num(v)
}
