/**
 * A worker thread hosting a share of the run's VUs, so every core generates load. The main
 * thread keeps the schedule (executors), the metrics and VU 0 (init, setup, teardown,
 * handleSummary); this thread runs a VU's iterations when told — one at a time, or a whole loop
 * by itself (worker-loop.ts) — and sends back the results with the samples it made. Started
 * through worker-boot.mjs (TypeScript via tsx).
 */
import { parentPort, workerData } from 'node:worker_threads'
import { Registry, type Tags } from '../results/metrics.ts'
import { VU } from '../engine/vu.ts'
import { useEngineModule } from '../engine/engine.ts'
import type { Host, VuOptions } from '../engine/host.ts'
import { ScriptError } from '../errors.ts'
import { ScriptFiles } from './script-files.ts'
import { ExecBoard } from './board.ts'
import { SampleBatch, type PackedSamples } from '../results/samples.ts'
import { Outbox } from './outbox.ts'
import type { SecretSource } from '../modules/secrets/secrets.ts'
import type { Scenario } from './options.ts'
import type { LoopPlan } from './executors.ts'
import { WorkerLoops } from './worker-loop.ts'
import { warmUpScript } from './warm-up.ts'

export interface WorkerInit {
  script: { path: string; source: string }
  env: Record<string, string>
  secrets: SecretSource[]
  options: VuOptions
  httpDebug: '' | 'headers' | 'full'
  shared: [string, string][]
  files?: Map<string, Buffer>
  /** Remote modules by URL, fetched by the main thread before the first VU. */
  remote: [string, string][]
  board: SharedArrayBuffer
  /** A word per VU that stops its call (run/stops.ts). */
  stops: SharedArrayBuffer
  scenarios: Scenario[]
  rawOptions: Record<string, unknown>
  minIterationDurationMs: number
  /** The engine as the main thread compiled it (engine.ts useEngineModule), when it had. */
  engine?: WebAssembly.Module
}

export type ToWorker =
  | { t: 'new'; id: number }
  | { t: 'assign'; id: number; scenario: string; tags: Tags; env: Record<string, string> }
  | { t: 'setup'; json: string }
  | { t: 'call'; id: number; name: string; iter: number; iteration: number; iterationInScenario: number; iterationInTest: number }
  | { t: 'loop'; id: number; scenario: number; plan: LoopPlan }
  | { t: 'interrupt'; id: number }
  | { t: 'flush' }
  | { t: 'warm'; url: string; ms: number; vus: number }

export type FromWorker =
  | { t: 'ready'; id: number }
  | { t: 'failed'; id: number; message: string; script: boolean }
  | { t: 'result'; id: number; kind: 'ok' | 'error' | 'abort'; value: string }
  | { t: 'looped'; id: number; iteration: number; iterationInScenario: number; iterationInTest: number; interrupted: boolean }
  | { t: 'iterationError'; line: string }
  | { t: 'samples'; samples: PackedSamples | null; flushed: boolean }
  | { t: 'log'; level: string; message: string }
  | { t: 'define'; name: string; type: string; isTime: boolean }
  | { t: 'abort'; message: string }
  | { t: 'markFailed'; message: string }
  | { t: 'warmed'; iterations: number }

/**
 * Samples go to the main thread in batches, at least this often (live thresholds and outputs),
 * or sooner when MAX_BATCH are waiting: a message per iteration cost ~8% of a worker's time.
 */
const FLUSH_MS = 100
const MAX_BATCH = 4096

class WorkerHost implements Host {
  readonly options: VuOptions
  readonly httpDebug: '' | 'headers' | 'full'
  readonly script: { path: string; source: string }
  readonly env: Record<string, string>
  readonly secrets: SecretSource[]
  readonly registry = new SampleBatch()
  readonly shared: Map<string, string>
  private readonly definitions = new Registry()
  private readonly files: ScriptFiles
  readonly board: ExecBoard
  /** Set once test.abort() ran here: this worker's loops start no more iterations. */
  aborted = false

  constructor(
    init: WorkerInit,
    private readonly send: (m: FromWorker) => void,
  ) {
    this.options = init.options
    this.httpDebug = init.httpDebug
    this.script = init.script
    this.env = init.env
    this.secrets = init.secrets
    this.shared = new Map(init.shared)
    this.files = new ScriptFiles(init.script.path, init.files, init.remote)
    this.board = new ExecBoard(init.scenarios, init.rawOptions, init.board)
  }

  emit(metric: string, value: number, tags: Tags): void {
    this.registry.add(metric, value, tags)
  }
  defineMetric(name: string, type: string, isTime: boolean): string {
    try {
      this.definitions.define(name, type as 'counter', isTime ? 'time' : 'default')
    } catch (e) {
      return (e as Error).message
    }
    this.send({ t: 'define', name, type, isTime })
    return ''
  }
  log(level: string, message: string): void {
    this.send({ t: 'log', level, message })
  }
  readFile(path: string): string {
    return this.files.module(path)
  }
  readBytes(path: string): Buffer {
    return this.files.bytes(path)
  }
  execState(vu: VU): unknown {
    return this.board.state(vu)
  }
  abort(message: string): void {
    this.aborted = true
    this.send({ t: 'abort', message })
  }
  markFailed(message: string): void {
    this.send({ t: 'markFailed', message })
  }
}

const port = parentPort
if (port) {
  const init = workerData as WorkerInit
  if (init.engine) useEngineModule(init.engine)
  const outbox = new Outbox<FromWorker>((items, transfer) => port.postMessage(items, transfer))
  const send = (m: FromWorker): void => outbox.send(m, m.t === 'samples' && m.samples ? (m.samples.nums.buffer as ArrayBuffer) : undefined)
  const flushSamples = (flushed: boolean): void => {
    const samples = host.registry.take()
    if (samples || flushed) send({ t: 'samples', samples, flushed })
  }
  const host = new WorkerHost(init, send)
  const vus = new Map<number, VU>()
  const stops = new Int32Array(init.stops)
  let setupJson: string | null = null
  const loops = new WorkerLoops(host, init, stops, send, () => {
    if (host.registry.size >= MAX_BATCH) flushSamples(false)
  })
  const flush = setInterval(() => flushSamples(false), FLUSH_MS)
  flush.unref()
  port.on('message', (batch: ToWorker[]) => {
    for (const m of batch) receive(m)
  })
  /**
   * Throwaway VUs of the warm-up script loop against Kiln's own loopback server for `ms`, through
   * the same loop, VU and client as the test's (warm-up.ts); a host of their own drops their
   * samples. Returns their iterations.
   */
  async function warmUp(url: string, ms: number, count: number): Promise<number> {
    // Moving a buffer to another thread detaches it, which throws away every optimised function
    // that relied on no buffer ever being detached: the first sample batch the test sends would
    // otherwise undo the warm-up. Detaching one now has that happen before the optimising.
    const spent = new ArrayBuffer(8)
    structuredClone(spent, { transfer: [spent] })
    // A host of their own (the test's options: the same object, so code optimised on it fits the
    // test's): their samples go nowhere, their iterations count on a board of their own.
    const warmHost = new WorkerHost(
      {
        ...init,
        script: { path: init.script.path, source: warmUpScript(url) },
        board: new SharedArrayBuffer(init.board.byteLength),
      },
      () => {},
    )
    const scenario = init.scenarios[0]!.name
    const warmVUs: VU[] = []
    const warmStops = new Int32Array(new SharedArrayBuffer(4 * (stops.length + count)))
    try {
      for (let i = 0; i < count; i++) {
        // Ids past every real VU's stop word.
        const vu = new VU(stops.length + i, warmHost)
        vu.stopFlags = warmStops
        warmVUs.push(vu)
        await vu.init()
        // As the test's VUs are set up, so that code optimised on these fits those.
        vu.assign(scenario, { scenario }, {})
        vu.setSetupData('')
      }
      const warmLoops = new WorkerLoops(
        warmHost,
        init,
        warmStops,
        () => {},
        () => {
          if (warmHost.registry.size >= MAX_BATCH) warmHost.registry.take()
        },
      )
      // Shaped as the main thread's plans arrive (a structured clone).
      const plan = structuredClone({ end: performance.timeOrigin + performance.now() + ms })
      await Promise.all(warmVUs.map((vu) => warmLoops.run(vu, 0, plan)))
    } finally {
      for (const vu of warmVUs) vu.close()
    }
    return warmVUs.reduce((n, vu) => n + vu.iteration + 1, 0)
  }
  function receive(m: ToWorker): void {
    switch (m.t) {
      case 'new': {
        const vu = new VU(m.id, host)
        vu.stopFlags = stops
        vu.init().then(
          () => {
            if (setupJson !== null) vu.setSetupData(setupJson)
            vus.set(m.id, vu)
            send({ t: 'ready', id: m.id })
          },
          (e: Error) => send({ t: 'failed', id: m.id, message: e.message, script: e instanceof ScriptError }),
        )
        break
      }
      case 'assign':
        vus.get(m.id)?.assign(m.scenario, m.tags, m.env)
        break
      case 'setup':
        setupJson = m.json
        for (const vu of vus.values()) vu.setSetupData(m.json)
        break
      case 'call': {
        const vu = vus.get(m.id)
        if (!vu) return
        // Test seam: the thread ends as a crash would (test/loadtest/threads.test.ts).
        if (process.env.KILN_TEST_WORKER_EXIT === String(m.id)) process.exit(3)
        vu.iteration = m.iteration
        vu.iterationInScenario = m.iterationInScenario
        vu.iterationInTest = m.iterationInTest
        vu.call(m.name, undefined, m.iter).then(
          (r) => {
            loops.afterIteration()
            send({ t: 'result', id: m.id, kind: r.kind, value: r.value })
          },
          (e: Error) => send({ t: 'result', id: m.id, kind: 'error', value: e.message }),
        )
        break
      }
      case 'loop': {
        const vu = vus.get(m.id)
        if (vu) void loops.run(vu, m.scenario, m.plan)
        break
      }
      case 'interrupt':
        vus.get(m.id)?.interrupt()
        loops.interrupt(m.id)
        break
      case 'flush':
        flushSamples(true)
        break
      case 'warm':
        warmUp(m.url, m.ms, m.vus).then(
          (iterations) => send({ t: 'warmed', iterations }),
          // A warm-up that fails costs the test its head start, nothing else.
          () => send({ t: 'warmed', iterations: 0 }),
        )
        break
    }
  }
}
