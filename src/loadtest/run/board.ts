/**
 * The run's live counters that `k6/execution` reads, in one SharedArrayBuffer: the main thread
 * writes them, VUs on any worker thread read them synchronously (a script may read
 * `exec.scenario.iterationInTest` on every iteration; a round trip to the main thread would stall
 * every VU of that worker).
 */
import { scenarioDuration, type Scenario } from './options.ts'
import type { BoardVU } from '../engine/host.ts'

const T0 = 0
const COMPLETED = 1
const INTERRUPTED = 2
const ACTIVE = 3
const INITIALIZED = 4
const PER_SCENARIO = 2 // start (epoch ms, 0 = not started), iterations started

export class ExecBoard {
  readonly cells: Float64Array

  constructor(
    readonly scenarios: Scenario[],
    readonly rawOptions: Record<string, unknown>,
    shared?: SharedArrayBuffer,
  ) {
    this.cells = new Float64Array(shared ?? new SharedArrayBuffer(8 * (5 + PER_SCENARIO * scenarios.length)))
  }

  get buffer(): SharedArrayBuffer {
    return this.cells.buffer as SharedArrayBuffer
  }

  private slot(name: string | null): number {
    const i = this.scenarios.findIndex((s) => s.name === name)
    return i < 0 ? -1 : 5 + PER_SCENARIO * i
  }

  testStarted(epochMs: number): void {
    this.cells[T0] = epochMs
  }
  scenarioStarted(name: string, epochMs: number): void {
    const i = this.slot(name)
    if (i >= 0) this.cells[i] = epochMs
  }
  /** One more iteration of `name` starts; returns its number within the scenario (from 0). */
  iterationStarted(name: string): number {
    const i = this.slot(name)
    return i < 0 ? 0 : this.cells[i + 1]!++
  }
  iterationEnded(interrupted: boolean): void {
    this.cells[interrupted ? INTERRUPTED : COMPLETED]!++
  }
  activeVUs(delta: number): void {
    this.cells[ACTIVE]! += delta
  }
  initializedVUs(n: number): void {
    this.cells[INITIALIZED] = n
  }

  /** What `k6/execution` shows to `vu` now (id 0: the VU running init, setup and teardown). */
  state(vu: BoardVU): unknown {
    const c = this.cells
    const now = Date.now()
    const i = this.slot(vu.scenario)
    const s = i >= 0 ? this.scenarios[(i - 5) / PER_SCENARIO] : undefined
    const start = i >= 0 ? c[i]! : 0
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
        iterationsCompleted: c[COMPLETED],
        iterationsInterrupted: c[INTERRUPTED],
        vusActive: c[ACTIVE],
        vusInitialized: c[INITIALIZED],
      },
      options: this.rawOptions,
    }
  }
}
