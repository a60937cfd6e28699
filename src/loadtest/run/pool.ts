/**
 * VUs on worker threads, seen from the main thread: a RemoteVU stands for a VU living in one of
 * the pool's workers (worker.ts) and is driven like a local VU by the executors. VUs go to the
 * worker that holds the fewest, so a run's load is spread over every core.
 */
import { Worker } from 'node:worker_threads'
import { availableParallelism } from 'node:os'
import type { Tags } from '../results/metrics.ts'
import type { CallResult } from '../engine/vu.ts'
import type { Host } from '../engine/host.ts'
import { ConfigError, ScriptError } from '../errors.ts'
import { SampleTables } from '../results/samples.ts'
import { Outbox } from './outbox.ts'
import { stopVU } from './stops.ts'
import type { FromWorker, ToWorker, WorkerInit } from './worker.ts'
import type { LoopPlan } from './executors.ts'
import { performance } from 'node:perf_hooks'

/** What the runner and executors need of a VU, wherever it runs. */
export interface VuHandle {
  readonly id: number
  iteration: number
  iterationInScenario: number
  iterationInTest: number
  scenario: string | null
  baseTags: Tags
  /** `deadline`: performance.now() of the main thread after which a VU holding it stops by itself. */
  call(name: string, argJson?: string, iter?: number, deadline?: number): Promise<CallResult>
  assign(scenario: string, tags: Tags, env: Record<string, string>): void
  setSetupData(json: string): void
  interrupt(): void
  close(): void
}

/** Where a worker's messages go: the runner, through the Host methods its VUs call. */
export interface PoolSink extends Pick<Host, 'emit' | 'defineMetric' | 'log' | 'abort' | 'markFailed'> {
  /** An iteration's error line, from a VU looping in a worker. */
  iterationError(line: string): void
  /** A worker thread died during the run: its VUs are gone. */
  workerFailed(why: string): void
}

/**
 * Worker threads for a run of `maxVUs`: one per core, or `otherwise` (KILN_RUN_THREADS overrides
 * either; 0 or 1 keeps every VU on the main thread), never more than the VUs.
 */
export function threadCount(maxVUs: number, otherwise = availableParallelism()): number {
  const env = process.env.KILN_RUN_THREADS
  const n = env !== undefined && env !== '' ? Number(env) : otherwise
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`KILN_RUN_THREADS must be a whole number, not '${env}'`)
  return Math.min(n, maxVUs)
}

class PoolWorker {
  readonly worker: Worker
  readonly vus = new Map<number, RemoteVU>()
  readonly starting = new Map<number, { resolve: (v: RemoteVU) => void; reject: (e: Error) => void }>()
  private tables = new SampleTables()
  private setupJson: string | null = null
  dead: string | null = null
  private readonly outbox: Outbox<ToWorker>
  /** Set by VuPool.close: the exit that follows is the end of the run, not a failure. */
  closing = false
  /** Waiting for the answers to 'flush'. */
  readonly flushed: (() => void)[] = []
  /** Waiting for the answers to 'warm'. */
  readonly warmed: ((iterations: number) => void)[] = []

  readonly stops: Int32Array
  constructor(init: WorkerInit, sink: PoolSink) {
    this.stops = new Int32Array(init.stops)
    this.worker = new Worker(new URL('./worker-boot.mjs', import.meta.url), { workerData: init, transferList: [] })
    this.outbox = new Outbox<ToWorker>((items) => this.worker.postMessage(items))
    this.worker.on('message', (batch: FromWorker[]) => {
      for (const m of batch) this.receive(m, sink)
    })
    const die = (why: string): void => {
      if (this.dead) return
      this.dead = why
      for (const s of this.starting.values()) s.reject(new Error(why))
      this.starting.clear()
      for (const vu of this.vus.values()) {
        vu.settle({ kind: 'error', value: why })
        vu.looped(true)
      }
      for (const f of this.flushed.splice(0)) f()
      for (const f of this.warmed.splice(0)) f(0)
      if (!this.closing) sink.workerFailed(why)
    }
    this.worker.on('error', (e) => die(`a VU worker thread failed: ${e.message}`))
    this.worker.on('exit', (code) => die(`a VU worker thread exited (code ${code})`))
  }

  post(m: ToWorker): void {
    if (!this.dead) this.outbox.send(m)
  }

  setup(json: string): void {
    if (json === this.setupJson) return
    this.setupJson = json
    this.post({ t: 'setup', json })
  }

  private receive(m: FromWorker, sink: PoolSink): void {
    switch (m.t) {
      case 'ready': {
        const vu = new RemoteVU(m.id, this)
        this.vus.set(m.id, vu)
        this.starting.get(m.id)?.resolve(vu)
        this.starting.delete(m.id)
        break
      }
      case 'failed':
        this.starting.get(m.id)?.reject(m.script ? new ScriptError(m.message) : new Error(m.message))
        this.starting.delete(m.id)
        break
      case 'result':
        this.vus.get(m.id)?.settle({ kind: m.kind, value: m.value })
        break
      case 'looped': {
        const vu = this.vus.get(m.id)
        if (!vu) break
        vu.iteration = m.iteration
        vu.iterationInScenario = m.iterationInScenario
        vu.iterationInTest = m.iterationInTest
        vu.looped(m.interrupted)
        break
      }
      case 'iterationError':
        sink.iterationError(m.line)
        break
      case 'samples':
        if (m.samples) this.tables.unpack(m.samples, (n, v, t, time) => sink.emit(n, v, t, time))
        if (m.flushed) this.flushed.shift()?.()
        break
      case 'log':
        sink.log(m.level, m.message)
        break
      case 'define':
        sink.defineMetric(m.name, m.type, m.isTime)
        break
      case 'abort':
        sink.abort(m.message)
        break
      case 'markFailed':
        sink.markFailed(m.message)
        break
      case 'warmed':
        this.warmed.shift()?.(m.iterations)
        break
    }
  }
}

export class RemoteVU implements VuHandle {
  iteration = -1
  iterationInScenario = -1
  iterationInTest = -1
  scenario: string | null = null
  baseTags: Tags = {}
  private pending: ((r: CallResult) => void) | null = null
  private looping: ((interrupted: boolean) => void) | null = null

  constructor(
    readonly id: number,
    private readonly home: PoolWorker,
  ) {}

  call(name: string, argJson?: string, iter = 0): Promise<CallResult> {
    if (argJson !== undefined) throw new Error('VUs on worker threads run iterations only; setup and teardown run on VU 0')
    if (this.home.dead) return Promise.resolve({ kind: 'error', value: this.home.dead })
    return new Promise((resolve) => {
      this.pending = resolve
      this.home.post({
        t: 'call',
        id: this.id,
        name,
        iter,
        iteration: this.iteration,
        iterationInScenario: this.iterationInScenario,
        iterationInTest: this.iterationInTest,
      })
    })
  }

  /**
   * Runs the VU's iterations in its worker until `plan` ends or the VU is interrupted, counted on
   * the board as the main thread counts them; resolves to whether an iteration was interrupted.
   */
  loop(scenario: number, plan: LoopPlan): Promise<boolean> {
    if (this.home.dead) return Promise.resolve(true)
    return new Promise((resolve) => {
      this.looping = resolve
      // The worker's clock has another origin: the end crosses as an epoch time.
      const epoch = (t: number): number => performance.timeOrigin + t
      const ramp = plan.ramp && { ...plan.ramp, start: epoch(plan.ramp.start) }
      this.home.post({ t: 'loop', id: this.id, scenario, plan: { ...plan, end: epoch(plan.end), ramp } })
    })
  }

  looped(interrupted: boolean): void {
    const p = this.looping
    this.looping = null
    p?.(interrupted)
  }

  settle(r: CallResult): void {
    const p = this.pending
    this.pending = null
    p?.(r)
  }

  assign(scenario: string, tags: Tags, env: Record<string, string>): void {
    this.scenario = scenario
    this.baseTags = tags
    this.iterationInScenario = -1
    this.home.post({ t: 'assign', id: this.id, scenario, tags, env })
  }

  setSetupData(json: string): void {
    this.home.setup(json)
  }

  interrupt(): void {
    // The word reaches a VU stuck in CPU-bound JS; the message wakes one waiting in a host call.
    stopVU(this.home.stops, this.id)
    this.home.post({ t: 'interrupt', id: this.id })
  }

  close(): void {}
}

export class VuPool {
  private readonly workers: PoolWorker[]

  constructor(threads: number, init: WorkerInit, sink: PoolSink) {
    this.workers = Array.from({ length: threads }, () => new PoolWorker(init, sink))
  }

  /** Starts VU `id` (its init code runs in the worker); rejects with ScriptError as a local VU would. */
  newVU(id: number): Promise<RemoteVU> {
    const w = this.workers.reduce((a, b) => (b.vus.size + b.starting.size < a.vus.size + a.starting.size ? b : a))
    if (w.dead) return Promise.reject(new Error(w.dead))
    return new Promise((resolve, reject) => {
      w.starting.set(id, { resolve, reject })
      w.post({ t: 'new', id })
    })
  }

  /** Every worker warms up for `ms` with `vus` throwaway VUs against `url` (warm-up.ts); resolves to their iterations. */
  async warmUp(url: string, ms: number, vus: number): Promise<number> {
    const done = this.workers.map((w) =>
      w.dead
        ? 0
        : new Promise<number>((resolve) => {
            w.warmed.push(resolve)
            w.post({ t: 'warm', url, ms, vus })
          }),
    )
    return (await Promise.all(done)).reduce((a, b) => a + b, 0)
  }

  /** Resolves when every sample the workers made so far has been emitted. */
  async flush(): Promise<void> {
    await Promise.all(
      this.workers.map((w) =>
        w.dead
          ? undefined
          : new Promise<void>((r) => {
              w.flushed.push(r)
              w.post({ t: 'flush' })
            }),
      ),
    )
  }

  async close(): Promise<void> {
    for (const w of this.workers) w.closing = true
    await Promise.all(this.workers.map((w) => w.worker.terminate()))
  }
}
