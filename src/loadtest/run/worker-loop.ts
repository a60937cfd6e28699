/**
 * A worker thread looping a VU's iterations itself (executors.ts LoopPlan): the main thread sends
 * one message when the loop starts and gets one when it ends, instead of a call and a result per
 * iteration. Everything the main thread's loop decides between iterations is read from shared
 * memory here: the pause (board), the VU's stop word (stops.ts), the scenario's iteration
 * numbers and, for shared-iterations, its claimed count (board); the end is a time, and so is
 * ramping-vus' target (computed from the stages here, as the main thread computes it).
 */
import { performance } from 'node:perf_hooks'
import type { VU } from '../engine/vu.ts'
import type { Tags } from '../results/metrics.ts'
import type { ExecBoard } from './board.ts'
import { underTarget, type LoopPlan } from './executors.ts'
import { runIteration, type IterationSite } from './iteration.ts'
import type { Scenario } from './options.ts'
import type { FromWorker } from './worker.ts'

/** Test seam: the thread ends as a crash would at this VU's iteration (test/loadtest/threads.test.ts). */
const EXIT_AT = process.env.KILN_TEST_WORKER_EXIT

interface LoopState {
  stop: boolean
  /** Ends a minIterationDuration wait early. */
  wake: (() => void) | null
}

interface LoopHost {
  readonly board: ExecBoard
  readonly aborted: boolean
  readonly options: { vuTags: string[] }
  emit(metric: string, value: number, tags: Tags): void
}

export class WorkerLoops {
  private readonly running = new Map<number, LoopState>()
  private readonly scenarios: Scenario[]
  private readonly minIterationDurationMs: number

  constructor(
    private readonly host: LoopHost,
    init: { scenarios: Scenario[]; minIterationDurationMs: number },
    private readonly stops: Int32Array,
    private readonly send: (m: FromWorker) => void,
    /** Called after each iteration (the worker sends its samples when many wait). */
    readonly afterIteration: () => void,
  ) {
    this.scenarios = init.scenarios
    this.minIterationDurationMs = init.minIterationDurationMs
  }

  /** Stops VU `id`'s loop before its next iteration (its running call is interrupted by the VU itself). */
  interrupt(id: number): void {
    const st = this.running.get(id)
    if (!st) return
    st.stop = true
    st.wake?.()
  }

  /** Runs `vu`'s iterations of scenario `si` until `plan` or a stop ends them, then tells the main thread. */
  async run(vu: VU, si: number, plan: LoopPlan): Promise<void> {
    const st: LoopState = { stop: false, wake: null }
    this.running.set(vu.id, st)
    // A word left from an earlier stop (ramping-vus interrupted the VU above its target) would end
    // this loop at once; a stop meant for this loop comes after it, as the 'interrupt' message.
    if (vu.id < this.stops.length) Atomics.store(this.stops, vu.id, 0)
    let interrupted = false
    try {
      interrupted = await this.iterations(vu, si, plan, st)
    } catch (e) {
      this.send({ t: 'iterationError', line: `a VU's loop failed: ${(e as Error).message}` })
      interrupted = true
    } finally {
      this.running.delete(vu.id)
    }
    const { iteration, iterationInScenario, iterationInTest } = vu
    this.send({ t: 'looped', id: vu.id, iteration, iterationInScenario, iterationInTest, interrupted })
  }

  private async iterations(vu: VU, si: number, plan: LoopPlan, st: LoopState): Promise<boolean> {
    const s = this.scenarios[si]!
    const board = this.host.board
    const end = plan.end - performance.timeOrigin
    const ramp = plan.ramp && { ...plan.ramp, start: plan.ramp.start - performance.timeOrigin }
    const site = this.site(st)
    let n = 0
    for (;;) {
      const paused = board.unpaused()
      if (paused) {
        await paused
        continue
      }
      if (st.stop || this.host.aborted || Atomics.load(this.stops, vu.id) !== 0 || !(performance.now() < end)) return false
      if (plan.count !== undefined && n++ >= plan.count) return false
      if (plan.shared !== undefined && board.claim(si) >= plan.shared) return false
      if (ramp && !underTarget(ramp, performance.now())) return false
      if (EXIT_AT === String(vu.id)) process.exit(3)
      const r = await runIteration(vu, s, si, site, Infinity, true)
      this.afterIteration()
      // In a loop, only a stop interrupts an iteration (gracefulStop over, the run stopping).
      if (r.kind === 'abort' || (r.kind === 'error' && r.value === 'interrupted')) return true
      // The next iteration waits for the event loop's next turn: started at once, in the
      // microtasks of the response that ended this one, it ran before the other VUs' responses
      // were read (50 VUs, 4 interleaved pairs: 2.5-3.9k -> 3.6-4.9k req/s, 235-302 -> 179-252 us
      // CPU per request). A loop that never waits for I/O would also starve timers and messages.
      await new Promise((r) => setImmediate(r))
    }
  }

  private site(st: LoopState): IterationSite {
    const host = this.host
    return {
      board: host.board,
      minIterationDurationMs: this.minIterationDurationMs,
      vuTags: host.options.vuTags,
      emit: (metric, value, tags) => host.emit(metric, value, tags),
      iterationError: (line) => this.send({ t: 'iterationError', line }),
      delay: (ms) =>
        st.stop
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              const timer = setTimeout(done, ms)
              function done(): void {
                clearTimeout(timer)
                st.wake = null
                resolve()
              }
              st.wake = done
            }),
    }
  }
}
