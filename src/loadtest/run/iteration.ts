/**
 * One iteration of a scenario's exec function with k6's bookkeeping around it: the VU's and the
 * scenario's iteration numbers, `iteration_duration` and `iterations`, minIterationDuration and the
 * error line. The same code runs on the main thread (runner.ts) and in a worker thread that loops
 * its VUs' iterations itself (worker-loop.ts), so both count alike.
 */
import { performance } from 'node:perf_hooks'
import type { Tags } from '../results/metrics.ts'
import type { CallResult } from '../engine/vu.ts'
import type { ExecBoard } from './board.ts'
import type { Scenario } from './options.ts'

/** What an iteration needs of its VU (a local VU, or a VU in this worker). */
export interface IteratingVU {
  readonly id: number
  iteration: number
  iterationInScenario: number
  iterationInTest: number
  baseTags: Tags
  call(name: string, argJson?: string, iter?: number, deadline?: number, keepStop?: boolean): Promise<CallResult>
}

/** Where an iteration's results go, on the thread that runs it. */
export interface IterationSite {
  readonly board: ExecBoard
  readonly minIterationDurationMs: number
  readonly vuTags: string[]
  emit(metric: string, value: number, tags: Tags): void
  /** Prints an iteration's error (the runner adds `ERRO[secs]`). */
  iterationError(line: string): void
  /** Waits `ms`, or less when the run or this VU's loop stops. */
  delay(ms: number): Promise<void>
}

/**
 * The tags of an iteration's own samples, made once per VU and scenario when no per-iteration
 * system tag is on: the sample batch interns a tag set by object, so one object costs one lookup.
 */
const tagCache = new WeakMap<Tags, Tags>()

function iterationTags(vu: IteratingVU, vuTags: string[]): Tags {
  const wantVU = vuTags.includes('vu')
  const wantIter = vuTags.includes('iter')
  if (!wantVU && !wantIter) {
    let t = tagCache.get(vu.baseTags)
    if (!t) tagCache.set(vu.baseTags, (t = { ...vu.baseTags, group: '' }))
    return t
  }
  const tags: Tags = { ...vu.baseTags, group: '' }
  if (wantVU) tags.vu = String(vu.id)
  if (wantIter) tags.iter = String(Math.max(0, vu.iteration))
  return tags
}

/**
 * Runs one iteration of scenario `s` (index `si` on the board) on `vu`; returns the call's result.
 * An interrupted or aborted iteration counts as interrupted and makes no samples, as in k6.
 * `keepStop`: the caller has just read the VU's stop word (see VU.call).
 */
export async function runIteration(
  vu: IteratingVU,
  s: Scenario,
  si: number,
  site: IterationSite,
  deadline: number,
  keepStop = false,
): Promise<CallResult> {
  vu.iteration++
  vu.iterationInScenario++
  vu.iterationInTest = site.board.iterationStarted(si)
  const t0 = performance.now()
  const r = await vu.call(s.exec, undefined, vu.iterationInScenario, deadline, keepStop)
  if (r.kind === 'abort' || (r.kind === 'error' && r.value === 'interrupted')) {
    site.board.iterationEnded(si, true)
    return r
  }
  if (r.kind === 'error') site.iterationError(`${r.value}  executor=${s.executor} scenario=${s.name} source=stacktrace`)
  const spent = performance.now() - t0
  if (site.minIterationDurationMs > spent) await site.delay(site.minIterationDurationMs - spent)
  const tags = iterationTags(vu, site.vuTags)
  site.emit('iteration_duration', performance.now() - t0, tags)
  site.emit('iterations', 1, tags)
  site.board.iterationEnded(si, false)
  return r
}
