/**
 * The run's live counters that `k6/execution` reads, in one SharedArrayBuffer: the main thread
 * writes them, VUs on any worker thread read them synchronously (a script may read
 * `exec.scenario.iterationInTest` on every iteration; a round trip to the main thread would stall
 * every VU of that worker).
 */
import { scenarioDuration, type Scenario } from './options.ts'
import type { BoardVU } from '../engine/host.ts'

// Float64 cells (epoch ms): the test's start, then each scenario's (0 = not started).
const T0 = 0
// Int32 cells, after the Float64 ones: counters that worker threads change too (Atomics).
const COMPLETED = 0
const INTERRUPTED = 1
const ACTIVE = 2
const INITIALIZED = 3
const PAUSED = 4
const COUNTERS = 5
// Per scenario: iterations started, iterations claimed (shared-iterations), completed, interrupted.
const PER_SCENARIO = 4
const STARTED = 0
const CLAIMED = 1
const DONE = 2
const STOPPED = 3

/** Atomics.waitAsync (Node 16+; TypeScript types it from lib es2024 on). */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<unknown> | string }
  }
).waitAsync

export class ExecBoard {
  readonly cells: Float64Array
  /** Counters: a VU looping on a worker thread starts and ends its iterations itself. */
  readonly counts: Int32Array

  constructor(
    readonly scenarios: Scenario[],
    readonly rawOptions: Record<string, unknown>,
    shared?: SharedArrayBuffer,
  ) {
    const floats = 8 * (1 + scenarios.length)
    const buffer = shared ?? new SharedArrayBuffer(floats + 4 * (COUNTERS + PER_SCENARIO * scenarios.length))
    this.cells = new Float64Array(buffer, 0, 1 + scenarios.length)
    this.counts = new Int32Array(buffer, floats)
  }

  get buffer(): SharedArrayBuffer {
    return this.cells.buffer as SharedArrayBuffer
  }

  /** The scenario's index, or -1. */
  index(name: string | null): number {
    return this.scenarios.findIndex((s) => s.name === name)
  }
  private counter(i: number, which: number): number {
    return COUNTERS + PER_SCENARIO * i + which
  }

  testStarted(epochMs: number): void {
    this.cells[T0] = epochMs
  }
  scenarioStarted(name: string, epochMs: number): void {
    const i = this.index(name)
    if (i >= 0) this.cells[1 + i] = epochMs
  }
  /** One more iteration of scenario `i` starts; returns its number within the scenario (from 0). */
  iterationStarted(i: number): number {
    return i < 0 ? 0 : Atomics.add(this.counts, this.counter(i, STARTED), 1)
  }
  iterationEnded(i: number, interrupted: boolean): void {
    Atomics.add(this.counts, interrupted ? INTERRUPTED : COMPLETED, 1)
    if (i >= 0) Atomics.add(this.counts, this.counter(i, interrupted ? STOPPED : DONE), 1)
  }
  /** shared-iterations: claims the next of scenario `i`'s iterations; returns how many were claimed before. */
  claim(i: number): number {
    return Atomics.add(this.counts, this.counter(i, CLAIMED), 1)
  }
  /** Scenario `i`'s completed and interrupted iterations (the progress lines). */
  done(i: number): number {
    return Atomics.load(this.counts, this.counter(i, DONE))
  }
  interrupted(i: number): number {
    return Atomics.load(this.counts, this.counter(i, STOPPED))
  }
  activeVUs(delta: number): void {
    Atomics.add(this.counts, ACTIVE, delta)
  }
  initializedVUs(n: number): void {
    Atomics.store(this.counts, INITIALIZED, n)
  }

  /** Pauses or resumes the run's iterations, on every thread. */
  setPaused(p: boolean): void {
    Atomics.store(this.counts, PAUSED, p ? 1 : 0)
    if (!p) Atomics.notify(this.counts, PAUSED)
  }
  /** Resolves when the run is not paused (a worker's loop waits here before each iteration). */
  unpaused(): Promise<unknown> | null {
    if (Atomics.load(this.counts, PAUSED) === 0) return null
    const w = waitAsync(this.counts, PAUSED, 1)
    return w.async ? (w.value as Promise<unknown>) : null
  }

  /** What `k6/execution` shows to `vu` now (id 0: the VU running init, setup and teardown). */
  state(vu: BoardVU): unknown {
    const c = this.cells
    const now = Date.now()
    const i = this.index(vu.scenario)
    const s = this.scenarios[i]
    const start = i >= 0 ? c[1 + i]! : 0
    return {
      vu:
        vu.id > 0
          ? {
              idInInstance: vu.id,
              idInTest: vu.id,
              iterationInInstance: vu.iteration,
              iterationInScenario: vu.iterationInScenario,
              tags: vu.baseTags,
              metrics: { tags: {}, metadata: {} },
            }
          : null,
      scenario:
        s && start > 0
          ? {
              name: s.name,
              executor: s.executor,
              startTime: start,
              progress: Math.min(1, (now - start) / (scenarioDuration(s) || 1)),
              iterationInInstance: vu.iterationInTest,
              iterationInTest: vu.iterationInTest,
            }
          : null,
      instance: {
        currentTestRunDuration: c[T0]! > 0 ? now - c[T0]! : 0,
        iterationsCompleted: this.counts[COMPLETED],
        iterationsInterrupted: this.counts[INTERRUPTED],
        vusActive: this.counts[ACTIVE],
        vusInitialized: this.counts[INITIALIZED],
      },
      options: this.rawOptions,
    }
  }
}
