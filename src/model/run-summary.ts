/**
 * A load-test run's end-of-test figures as `kiln run` printed them in its summary: the test's own
 * duration (from the first scenario's start, not `kiln run`'s) and each metric's values (counts,
 * rates over that duration, trend statistics). `-o kiln=URL` sends them when the run ends, so the
 * run's page shows what the terminal showed.
 */
import { KilnError } from './errors.ts'
import type { RunInfo } from './run.ts'

export interface RunSummary {
  durationMs: number
  metrics: Record<string, { type: string; values: Record<string, number> }>
}

/** A stored run: its summary once the run has printed one. */
export type StoredRun = RunInfo & { summary?: RunSummary }

/** The figures of k6's summary data (the object handleSummary gets). */
export function toRunSummary(data: {
  metrics: Record<string, { type: string; values: Record<string, number> }>
  state?: { testRunDurationMs?: number }
}): RunSummary {
  const metrics: RunSummary['metrics'] = {}
  for (const [name, m] of Object.entries(data.metrics)) metrics[name] = { type: m.type, values: { ...m.values } }
  return { durationMs: data.state?.testRunDurationMs ?? 0, metrics }
}

const MAX_METRICS = 1000

/** A summary as a client sent it, checked: a 400 that says which field is wrong, never a crash. */
export function readRunSummary(v: unknown): RunSummary {
  const bad = (what: string) =>
    new KilnError('KILN_BAD_REQUEST', `summary${what}: expected {durationMs, metrics: {NAME: {type, values: {STAT: number}}}}`)
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad(' is not an object')
  const { durationMs, metrics } = v as Record<string, unknown>
  if (typeof durationMs !== 'number' || !Number.isFinite(durationMs) || durationMs < 0) throw bad('.durationMs is not a number ≥ 0')
  if (!metrics || typeof metrics !== 'object' || Array.isArray(metrics)) throw bad('.metrics is not an object')
  const entries = Object.entries(metrics as Record<string, unknown>)
  if (entries.length > MAX_METRICS) throw bad(`.metrics has more than ${MAX_METRICS} metrics`)
  const out: RunSummary = { durationMs, metrics: {} }
  for (const [name, m] of entries) {
    const { type, values } = (m ?? {}) as Record<string, unknown>
    if (typeof type !== 'string' || !values || typeof values !== 'object' || Array.isArray(values))
      throw bad(`.metrics[${JSON.stringify(name.slice(0, 100))}] has no type or values`)
    const vals: Record<string, number> = {}
    for (const [k, x] of Object.entries(values as Record<string, unknown>)) {
      // JSON has no NaN or Infinity: a stat k6 could not compute arrives as null and is left out.
      if (x === null) continue
      if (typeof x !== 'number') throw bad(`.metrics[${JSON.stringify(name.slice(0, 100))}].values.${k.slice(0, 50)} is not a number`)
      vals[k] = x
    }
    out.metrics[name] = { type, values: vals }
  }
  return out
}
