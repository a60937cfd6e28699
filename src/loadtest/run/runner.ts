/**
 * One test run, in k6's order: init (per VU) → setup → scenarios → teardown → summary, with
 * thresholds checked during the run and at the end, and k6's exit codes.
 */
import { writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Registry, type Tags } from '../results/metrics.ts'
import { fetchRemoteModules } from './remote.ts'
import { buildThresholds, evaluate, type Threshold } from '../results/thresholds.ts'
import { profileMetrics } from '../results/profile-thresholds.ts'
import { consolidate, scenarioDuration, scenarioVUs, type Options, type Scenario } from './options.ts'
import { executors, type ExecContext } from './executors.ts'
import { VU } from '../engine/vu.ts'
import { compiledEngine, tierUp } from '../engine/engine.ts'
import type { BoardVU, Host } from '../engine/host.ts'
import { EXIT, ConfigError, ScriptError } from '../errors.ts'
import { ScriptFiles } from './script-files.ts'
import { ExecBoard } from './board.ts'
import { RemoteVU, VuPool, threadCount, type VuHandle } from './pool.ts'
import { startWarmTarget, warmUpFits, warmUpMs, warmUpVUs } from './warm-up.ts'
import { runIteration, type IterationSite } from './iteration.ts'
import { sigintWord, stopWords } from './stops.ts'
import { startBrowser, type BrowserProcess } from '../modules/browser/launch.ts'
import { newGroup, recordCheck, groupNode, summaryData, textSummary, exportSummary, type CheckTree } from '../results/summary.ts'
import { bannerText, progressText } from './ui.ts'
import { startApi, STATUS } from './api.ts'
import { KilnError } from '../../model/errors.ts'
import { redactor, type SecretSource } from '../modules/secrets/secrets.ts'

export interface RunConfig {
  scriptPath: string
  /** Files by absolute path (an archive); absent → read from disk. */
  files?: Map<string, Buffer>
  /** Option layers below the script's `options` (a --config file). */
  configLayer: Record<string, unknown>
  /** Option layer above the script (CLI flags). */
  cliLayer: Record<string, unknown>
  env: Record<string, string>
  /** `--secret-source` sources (k6/secrets); their values are redacted from the log. */
  secrets?: SecretSource[]
  quiet: boolean
  httpDebug: '' | 'headers' | 'full'
  summaryMode: 'compact' | 'full' | 'disabled'
  summaryExport?: string
  noThresholds: boolean
  /** Whether stderr is a terminal (progress redrawn in place). */
  tty?: boolean
  /** Output names for the banner (`json=out.json`). */
  outputs?: string[]
  /** Start the REST API on HOST:PORT (`--address`). */
  address?: string
  /** Wait for a resume (REST API / `kiln resume`) before starting (`--paused`). */
  paused?: boolean
  /**
   * One instance of a coordinated run (`--instance`, run/coordinator.ts): no summary and no
   * handleSummary here, the coordinator makes them from every instance's samples.
   */
  instance?: boolean
  /** Called with the registry before the run starts (outputs subscribe here). */
  attach?: (registry: Registry, runner: Runner) => void | (() => Promise<void>)
  /** Called once the scenarios and teardown are over, before the thresholds' final evaluation: judges the external ones (the target's profile). */
  judge?: (runner: Runner) => Promise<void>
  out: (s: string) => void
  err: (s: string) => void
}

/** The instances of a coordinated run, as the Runner drives them (run/coordinator.ts). */
export interface Instances {
  /** Starts them and resolves once each has initialised its VUs and waits to start. */
  start(): Promise<void>
  /** Starts them together with the setup data (JSON); resolves once all have ended. */
  run(setupJson: string): Promise<{ durationMs: number; code: number }>
  /** Ends what is left of them (always called). */
  close(): Promise<void>
}

interface ScenarioRun {
  scenario: Scenario
  /** The scenario's index on the board. */
  index: number
  vus: VuHandle[]
  ctx: ExecContext | null
  /** Completed and interrupted iterations, wherever they ran (the board counts them). */
  readonly done: number
  readonly interrupted: number
  finished: boolean
}

/** A value without its functions (execution-segment stripes), to send to a worker thread. */
function dataOnly<T>(v: T): T {
  if (Array.isArray(v)) return v.map(dataOnly) as T
  if (v === null || typeof v !== 'object') return v
  return Object.fromEntries(
    Object.entries(v)
      .filter(([, x]) => typeof x !== 'function')
      .map(([k, x]) => [k, dataOnly(x)]),
  ) as T
}

export class Runner implements Host, IterationSite {
  readonly registry = new Registry()
  readonly shared = new Map<string, string>()
  options!: Options['vu']
  httpDebug: '' | 'headers' | 'full'
  script: { path: string; source: string }
  env: Record<string, string>
  readonly secrets: SecretSource[]
  opts!: Options
  thresholds: Threshold[] = []
  /** The end-of-test data handed to handleSummary, once made (end-of-run outputs write it). */
  summaryData: Record<string, unknown> | null = null
  readonly checks: CheckTree = newGroup('', '')
  readonly runs: ScenarioRun[] = []
  readonly vus: VuHandle[] = []
  private readonly files: ScriptFiles
  board = new ExecBoard([], {})
  private pool: VuPool | null = null
  /** The run's Chromium, when a scenario asks for k6/browser (one process for every VU). */
  private browser: BrowserProcess | null = null
  /** The last VU id handed out (ids are reserved before the VU starts: several can start at once). */
  private lastVuId = 0
  private t0 = 0
  private activeVUs = 0
  private stopping = false
  private stopResolve!: () => void
  private stopSignal = new Promise<void>((r) => (this.stopResolve = r))
  private exitCode: number = EXIT.ok
  private failedMark = false
  paused = false
  /** k6's execution status number (see api.ts). */
  status: number = STATUS.created
  private resumeWaiters: (() => void)[] = []
  private setupJson = ''
  /** The scenarios' duration, once over (the REST API's sample stream ends with it). */
  durationMs = 0
  private progressLines = 0

  constructor(private readonly cfg: RunConfig) {
    this.httpDebug = cfg.httpDebug
    this.env = cfg.env
    this.secrets = cfg.secrets ?? []
    if (this.secrets.length) {
      const redact = redactor(this.secrets)
      const write = cfg.err
      this.cfg = { ...cfg, err: (s) => write(redact(s)) }
    }
    const path = resolve(cfg.scriptPath)
    this.files = new ScriptFiles(path, cfg.files)
    let source: string
    try {
      source = this.readFile(path)
    } catch (e) {
      if (e instanceof ScriptError) throw e
      throw new KilnError('KILN_NOT_FOUND', `cannot read the script '${cfg.scriptPath}': check the path`)
    }
    this.script = { path, source }
    // Defaults until the options are known (the first VU's init needs them).
    this.options = consolidate([]).vu
  }

  // ---- Host ----------------------------------------------------------------------------------
  emit(metric: string, value: number, tags: Tags, time?: number): void {
    if (metric === 'checks') recordCheck(this.checks, tags.group ?? '', tags.check ?? '', value !== 0)
    else if (metric === 'group_duration') groupNode(this.checks, tags.group ?? '')
    this.registry.add(metric, value, tags, time)
  }
  defineMetric(name: string, type: string, isTime: boolean): string {
    try {
      this.registry.define(name, type as 'counter', isTime ? 'time' : 'default')
      return ''
    } catch (e) {
      return (e as Error).message
    }
  }
  log(level: string, message: string): void {
    const secs = String(Math.max(0, Math.floor((performance.now() - (this.t0 || performance.now())) / 1000))).padStart(4, '0')
    const tag = { info: 'INFO', warn: 'WARN', error: 'ERRO', debug: 'DEBU' }[level] ?? 'INFO'
    if (level === 'debug') return
    const source = level === 'info' || level === 'error' ? '  source=console' : ''
    this.cfg.err(`${tag}[${secs}] ${message}${source}\n`)
  }
  readFile(path: string): string {
    return this.files.module(path)
  }
  readBytes(path: string): Buffer {
    return this.files.bytes(path)
  }
  execState(vu: BoardVU): unknown {
    return this.board.state(vu)
  }
  abort(message: string): void {
    this.cfg.err(`ERRO[${this.elapsedSecs()}] test aborted: ${message || 'test.abort() was called'}  source=console\n`)
    this.stop(EXIT.aborted)
  }
  workerFailed(why: string): void {
    this.cfg.err(`ERRO[${this.elapsedSecs()}] ${why}: its VUs are gone, so the test stops (exit 109)\n`)
    this.stop(EXIT.panic)
  }
  iterationError(line: string): void {
    this.cfg.err(`ERRO[${this.elapsedSecs()}] ${line}\n`)
  }
  get minIterationDurationMs(): number {
    return this.opts.minIterationDurationMs
  }
  get vuTags(): string[] {
    return this.options.vuTags
  }
  markFailed(message: string): void {
    if (message) this.cfg.err(`ERRO[${this.elapsedSecs()}] test marked as failed: ${message}\n`)
    this.failedMark = true
  }

  // ---- control (Ctrl-C, REST API) ------------------------------------------------------------
  /** Stops every scenario now and interrupts running iterations; teardown and summary still run. */
  stop(code: number): void {
    if (this.stopping) return
    this.stopping = true
    this.exitCode = code
    this.setPaused(false)
    this.stopResolve()
    for (const vu of this.vus) vu.interrupt()
  }

  /** Words that stop a VU held by CPU-bound JS (run/stops.ts); sized once the VUs are known. */
  private stops: Int32Array = stopWords(0)
  /** Bumped by the CLI's SIGINT watcher (watchSigint): stops the main thread's VUs at once. */
  readonly sigint = sigintWord()
  private sigintHandled = 0
  /** Called once per Ctrl-C, on the main thread (the CLI's handler; see pollSigint). */
  onSigint: (() => void) | null = null

  /**
   * Hands each Ctrl-C counted in `sigint` to cfg.onSigint, once. Called by the watcher's message
   * and after any call that was interrupted: a VU that stopped on the count must not start its
   * next iteration before the run has heard of the signal.
   */
  pollSigint(): void {
    const n = Atomics.load(this.sigint, 0)
    while (this.sigintHandled < n) {
      this.sigintHandled++
      this.onSigint?.()
    }
  }
  setPaused(p: boolean): void {
    this.paused = p
    this.board.setPaused(p)
    if (!p) for (const w of this.resumeWaiters.splice(0)) w()
  }
  get elapsedMs(): number {
    return this.t0 ? performance.now() - this.t0 : 0
  }
  get stopped(): boolean {
    return this.stopping
  }
  get setupData(): unknown {
    return this.setupJson ? JSON.parse(this.setupJson) : null
  }
  /** k6's `PUT /v1/setup`: the data VUs get, from elsewhere (a coordinator ran setup once); with --no-setup it stays. */
  set setupData(v: unknown) {
    this.setupJson = v === undefined || v === null ? '' : JSON.stringify(v)
  }
  /** Sets the VU count of the externally-controlled scenario; returns '' or what is wrong. */
  setVUs(n: number | undefined): string {
    const ext = this.runs.find((r) => r.scenario.executor === 'externally-controlled')
    if (!ext?.ctx) return 'changing VUs needs a running externally-controlled scenario'
    if (n === undefined) return ''
    if (!Number.isInteger(n) || n < 0 || n > ext.scenario.maxVUs)
      return `vus must be an integer from 0 to ${ext.scenario.maxVUs} (the scenario's maxVUs)`
    ext.ctx.targetVUs = n
    return ''
  }
  get active(): number {
    return this.activeVUs
  }
  /** Sleeps `ms`, or less when the test stops; leaves no timer behind (it would keep Node alive). */
  async delay(ms: number): Promise<void> {
    if (ms <= 0 || this.stopping) return
    let timer: NodeJS.Timeout | undefined
    await Promise.race([new Promise((r) => (timer = setTimeout(r, ms))), this.stopSignal])
    clearTimeout(timer)
  }
  private elapsedSecs(): string {
    return String(Math.floor(this.elapsedMs / 1000)).padStart(4, '0')
  }

  // ---- the run -------------------------------------------------------------------------------
  private async newVU(id: number): Promise<VuHandle> {
    if (this.pool) return this.pool.newVU(id)
    const vu = new VU(id, this)
    await vu.init()
    vu.stopFlags = this.stops
    vu.sigint = this.sigint
    return vu
  }

  /** Files the script's init read (modules and open()), by absolute path or URL: what an archive holds. */
  get filesRead(): Set<string> {
    return this.files.read
  }
  /** Remote modules by URL, fetched once before the first VU (see remote.ts). */
  get remote(): Map<string, string> {
    return this.files.remote
  }

  /**
   * Runs the init code once (VU 0, which later runs setup, teardown and handleSummary) and
   * resolves the options; throws ScriptError (107) or ConfigError (104) before any request.
   */
  async prepare(): Promise<VU> {
    const cfg = this.cfg
    await fetchRemoteModules(
      this.script,
      (p) => this.readFile(p),
      this.remote,
      this.files.remoteFailed,
      (u) => this.cfg.files?.get(u)?.toString('utf8'),
    )
    const vu0 = new VU(0, this)
    await vu0.init()
    vu0.sigint = this.sigint
    let scriptOptions: Record<string, unknown>
    try {
      scriptOptions = JSON.parse(vu0.optionsJson()) as Record<string, unknown>
    } catch {
      throw new ConfigError(`${this.script.path}: the exported options can't be serialised to JSON`)
    }
    try {
      this.opts = consolidate([cfg.configLayer, scriptOptions, cfg.cliLayer])
      this.options = this.opts.vu
      // One clock for the run's requests, wherever their VU runs (a SharedArrayBuffer crosses to the workers shared).
      if (this.options.rps > 0) this.options = { ...this.options, rpsNext: new BigInt64Array(new SharedArrayBuffer(8)) }
      this.registry.keepSystemTags(this.opts.systemTags)
      if (!cfg.noThresholds)
        this.thresholds = buildThresholds(
          this.opts.thresholds,
          this.registry,
          profileMetrics((n) => this.registry.metrics.get(n)?.type),
        )
      this.board = new ExecBoard(this.opts.scenarios, this.opts.raw)
    } catch (e) {
      if (e instanceof ConfigError) throw e
      throw new ConfigError((e as Error).message)
    }
    const o = this.opts
    for (const s of o.scenarios) {
      if (!vu0.exports.includes(s.exec)) {
        throw new ConfigError(
          `scenario '${s.name}': the script exports no function '${s.exec}'${s.exec === 'default' ? ' (export default function () { … })' : ''}`,
        )
      }
    }
    return vu0
  }

  /** Runs the whole test; returns k6's exit code. */
  async run(): Promise<number> {
    const cfg = this.cfg
    const vu0 = await this.prepare()
    this.browser = await startBrowser(this.opts.raw)
    if (this.browser) this.options = { ...this.options, browser: this.browser.info }
    const finishOutputs = cfg.attach?.(this.registry, this)
    this.banner()
    this.status = STATUS.initVUs
    const closeApi = cfg.address ? await startApi(cfg.address, this, { keepSamples: !!cfg.instance }) : null
    try {
      return await this.runWith(vu0, closeApi, finishOutputs)
    } finally {
      await this.pool?.close()
      await this.browser?.close()
    }
  }

  /**
   * A coordinated run (run/coordinator.ts): init, setup, teardown, thresholds, summary and outputs
   * happen here, the scenarios in `instances`: started (initialised and paused) before setup, run
   * with its data (JSON), they add their samples through `emit` and resolve to the scenarios'
   * duration and the exit code the instances gave.
   */
  async runCoordinated(instances: Instances): Promise<number> {
    const vu0 = await this.prepare()
    const finishOutputs = this.cfg.attach?.(this.registry, this)
    this.banner()
    try {
      this.status = STATUS.initVUs
      await instances.start()
      this.t0 = performance.now()
      await this.setup(vu0)
      this.status = STATUS.running
      if (!this.stopping) {
        const r = await instances.run(this.setupJson)
        this.durationMs = r.durationMs
        if (r.code !== EXIT.ok && this.exitCode === EXIT.ok) this.exitCode = r.code
      }
      return await this.finish(vu0, finishOutputs)
    } finally {
      await instances.close()
    }
  }

  private async runWith(
    vu0: VU,
    closeApi: ((code: number) => Promise<void>) | null,
    finishOutputs: void | (() => Promise<void>),
  ): Promise<number> {
    const o = this.opts
    const maxVUs = o.scenarios.reduce(
      (a, s) => a + Math.max(scenarioVUs(s), s.executor.endsWith('arrival-rate') || s.executor === 'externally-controlled' ? s.maxVUs : 0),
      0,
    )
    // A smoke test's few iterations are over before TurboFan's compiles of the engine would pay
    // (engine.ts holdTierUp), and before worker threads would: each loads Kiln's modules again
    // (`-u 10 -i 10`: 0.65-0.78 s on the main thread against 1.06-1.16 s on two workers).
    // Anything longer gets both, before its VUs are made; KILN_RUN_THREADS, when set, decides.
    const few = fewIterations(o.scenarios)
    if (!few) await tierUp()
    const threads = threadCount(maxVUs, few ? 1 : undefined)
    this.stops = stopWords(maxVUs)
    vu0.stopFlags = this.stops
    if (threads > 1) {
      this.pool = new VuPool(
        threads,
        {
          stops: this.stops.buffer as SharedArrayBuffer,
          script: this.script,
          env: this.env,
          secrets: this.secrets,
          options: this.options,
          httpDebug: this.httpDebug,
          shared: [...this.shared],
          files: this.cfg.files,
          remote: [...this.remote],
          board: this.board.buffer,
          scenarios: o.scenarios.map(dataOnly),
          rawOptions: o.raw,
          minIterationDurationMs: o.minIterationDurationMs,
          engine: compiledEngine(),
        },
        this,
      )
    }
    for (const s of o.scenarios) {
      const n = scenarioVUs(s)
      const first = this.lastVuId + 1
      this.lastVuId += n
      // Worker threads start their VUs side by side; on the main thread they start one by one.
      const vus = this.pool ? await Promise.all(Array.from({ length: n }, (_, i) => this.newVU(first + i))) : []
      if (!this.pool) for (let i = 0; i < n; i++) vus.push(await this.newVU(first + i))
      for (const vu of vus) {
        vu.assign(s.name, { ...o.tags, ...s.tags, scenario: s.name }, s.env)
        this.vus.push(vu)
      }
      this.board.initializedVUs(this.vus.length)
      const board = this.board
      const index = board.index(s.name)
      this.runs.push({
        scenario: s,
        index,
        vus,
        ctx: null,
        get done() {
          return board.done(index)
        },
        get interrupted() {
          return board.interrupted(index)
        },
        finished: false,
      })
    }
    vu0.baseTags = { ...o.tags }
    // The JIT warmed before the clock starts (warm-up.ts), against a server of Kiln's own.
    const warmMs = this.pool && !few && warmUpFits(this.options) ? warmUpMs(o.scenarios) : 0
    if (warmMs > 0 && !this.stopping) {
      const target = await startWarmTarget()
      let iterations = 0
      try {
        iterations = await this.pool!.warmUp(target.url, warmMs, warmUpVUs(maxVUs, threads))
      } finally {
        await target.close()
      }
      if (!this.cfg.quiet)
        this.cfg.err(
          `INFO[0000] warm-up: ${(warmMs / 1000).toFixed(1)}s, ${iterations} throwaway iterations (${target.requests} requests) against Kiln's own server on 127.0.0.1, none to the test's target (KILN_RUN_WARMUP=0 skips it)\n`,
        )
    }
    if (this.cfg.paused) {
      this.status = STATUS.pausedBeforeRun
      this.setPaused(true)
      await new Promise<void>((r) => this.resumeWaiters.push(r))
    }
    this.t0 = performance.now()
    this.board.testStarted(Date.now())
    await this.setup(vu0)
    for (const vu of this.vus) vu.setSetupData(this.setupJson)
    vu0.setSetupData(this.setupJson)
    this.status = STATUS.running
    const ticker = this.startTicker()
    if (!this.stopping) await Promise.all(this.runs.map((r) => this.runScenario(r)))
    await this.pool?.flush()
    clearInterval(ticker)
    this.durationMs = this.elapsedMs
    const code = await this.finish(vu0, finishOutputs)
    await closeApi?.(code)
    return code
  }

  /** setup() on VU 0 (unless --no-setup); its data go to every VU. */
  private async setup(vu0: VU): Promise<void> {
    this.status = STATUS.setup
    if (vu0.exports.includes('setup') && !this.opts.noSetup && !this.stopping) {
      vu0.phase = 'setup'
      const r = await vu0.call('setup', '')
      this.pollSigint()
      if (r.kind === 'error' && this.stopping && r.value === 'interrupted') r.kind = 'abort'
      if (r.kind === 'error') throw new ScriptError(`setup() failed: ${r.value}`)
      else if (r.kind === 'abort') this.stop(EXIT.aborted)
      this.setupJson = r.kind === 'ok' ? r.value : ''
    }
  }

  /** After the scenarios: teardown, thresholds, summary, outputs; returns the exit code. */
  private async finish(vu0: VU, finishOutputs: void | (() => Promise<void>)): Promise<number> {
    this.status = STATUS.teardown
    if (vu0.exports.includes('teardown') && !this.opts.noTeardown) {
      vu0.phase = 'teardown'
      const r = await vu0.call('teardown', this.setupJson)
      if (r.kind === 'error') {
        this.cfg.err(`ERRO[${this.elapsedSecs()}] teardown() failed: ${r.value}\n`)
        if (this.exitCode === EXIT.ok) this.exitCode = EXIT.script
      }
    }
    await this.cfg.judge?.(this)
    evaluate(this.thresholds, this.durationMs, true)
    if (!this.cfg.instance) await this.summary(vu0, this.durationMs)
    this.status = this.stopping ? STATUS.interrupted : STATUS.ended
    if (typeof finishOutputs === 'function') await finishOutputs()
    for (const vu of [vu0, ...this.vus]) vu.close()
    const crossed = this.thresholds.filter((t) => !t.ok)
    if (crossed.length) {
      const names = [...new Set(crossed.map((t) => t.metric))].join("', '")
      this.cfg.err(`ERRO[${this.elapsedSecs()}] thresholds on metrics '${names}' have been crossed\n`)
      if (this.exitCode === EXIT.ok) this.exitCode = EXIT.thresholds
    }
    if (this.failedMark && this.exitCode === EXIT.ok) this.exitCode = EXIT.failed
    return this.exitCode
  }

  private async runScenario(run: ScenarioRun): Promise<void> {
    const s = run.scenario
    await this.delay(s.startTimeMs)
    if (this.stopping) return
    const vus = run.vus
    const tags = { ...this.opts.tags, ...s.tags, scenario: s.name }
    this.board.scenarioStarted(s.name, Date.now())
    const ctx: ExecContext = {
      scenario: s,
      start: performance.now(),
      vus,
      newVU: async () => {
        if (this.stopping) return null
        const vu = await this.newVU(++this.lastVuId)
        vu.assign(s.name, tags, s.env)
        vu.setSetupData(this.setupJson)
        this.vus.push(vu)
        this.board.initializedVUs(this.vus.length)
        this.registry.add('vus_max', this.vus.length, { ...this.opts.tags })
        return vu
      },
      iterate: (vu) => this.iterate(vu, run),
      loopAway: (vu, plan) => {
        if (!(vu instanceof RemoteVU)) return null
        return vu.loop(run.index, plan).then((interrupted) => {
          if (interrupted) this.pollSigint()
        })
      },
      claim: () => this.board.claim(run.index),
      stopped: () => this.stopping,
      stopSignal: this.stopSignal,
      unpaused: () => (this.paused ? new Promise<void>((r) => this.resumeWaiters.push(r)) : Promise.resolve()),
      active: (d) => {
        this.activeVUs += d
        this.board.activeVUs(d)
        // Looping executors change the count rarely: record each change, so short runs show it too.
        if (d > 0 && !s.executor.endsWith('arrival-rate')) this.registry.add('vus', this.activeVUs, { ...this.opts.tags })
      },
      dropped: (n) => this.registry.add('dropped_iterations', n, tags),
      targetVUs: 0,
    }
    run.ctx = ctx
    await executors[s.executor](ctx)
    run.finished = true
  }

  private async iterate(vu: VuHandle, run: ScenarioRun): Promise<void> {
    // Past the scenario's end + gracefulStop, a VU holding the main thread stops by itself: its
    // executor's timer cannot fire while the thread is held (a VU on a worker is stopped through its word).
    const s = run.scenario
    const deadline = run.ctx ? run.ctx.start + scenarioDuration(s) + s.gracefulStopMs : Infinity
    const r = await runIteration(vu, s, run.index, this, deadline)
    if (r.value === 'interrupted') this.pollSigint()
    if (r.kind === 'abort') this.stop(EXIT.aborted)
  }

  /** Every second: the vus gauge and a progress line; every 2 s: thresholds with abortOnFail. */
  private startTicker(): NodeJS.Timeout {
    const tags = { ...this.opts.tags }
    // No `vus` sample here: no VU has started yet, and k6 shows min=active VUs for a steady test.
    this.registry.add('vus_max', this.vus.length, tags)
    let n = 0
    return setInterval(() => {
      n++
      this.registry.add('vus', this.activeVUs, tags)
      this.registry.add('vus_max', this.vus.length, tags)
      if (n % 2 === 0 && this.thresholds.length) {
        const abort = evaluate(this.thresholds, this.elapsedMs, false)
        if (abort.length) {
          this.cfg.err(
            `ERRO[${this.elapsedSecs()}] thresholds on metrics '${[...new Set(abort.map((t) => t.metric))].join("', '")}' were crossed; at least one has abortOnFail enabled, stopping test prematurely\n`,
          )
          this.stop(EXIT.thresholds)
        }
      }
      if (!this.cfg.quiet) {
        const text = this.progress()
        // On a terminal the progress block is redrawn in place; otherwise plain lines, as k6 does.
        this.cfg.err(this.cfg.tty && this.progressLines ? `\x1b[${this.progressLines}A\x1b[0J${text}` : text)
        this.progressLines = text.split('\n').length - 1
      }
    }, 1000)
  }

  /** k6's plain progress lines (used when stdout is not a terminal). */
  progress(): string {
    return progressText(this.elapsedMs, this.activeVUs, this.vus.length, this.runs)
  }

  private banner(): void {
    if (!this.cfg.quiet) this.cfg.out(bannerText(this.cfg.scriptPath, this.opts.scenarios, this.cfg.outputs ?? []))
  }

  private async summary(vu0: VU, durationMs: number): Promise<void> {
    const o = this.opts
    const inp = {
      registry: this.registry,
      thresholds: this.thresholds,
      checks: this.checks,
      durationMs,
      trendStats: o.summaryTrendStats,
      timeUnit: o.summaryTimeUnit,
      setupData: this.setupJson ? JSON.parse(this.setupJson) : undefined,
    }
    const data = summaryData(inp, { isStdOutTTY: !!process.stdout.isTTY, isStdErrTTY: !!process.stderr.isTTY })
    this.summaryData = data
    if (this.cfg.summaryExport) writeFileSync(this.cfg.summaryExport, JSON.stringify(exportSummary(data), null, 4))
    if (vu0.exports.includes('handleSummary')) {
      const r = await vu0.handleSummary(JSON.stringify(data))
      if (r.kind === 'error') {
        this.cfg.err(`ERRO[${this.elapsedSecs()}] handleSummary() failed: ${r.value}\n`)
      } else {
        for (const [key, v] of Object.entries(JSON.parse(r.value) as Record<string, { s?: string; b?: string }>)) {
          const buf = v.s !== undefined ? Buffer.from(v.s) : Buffer.from(v.b ?? '', 'base64')
          if (key === 'stdout') this.cfg.out(buf.toString())
          else if (key === 'stderr') this.cfg.err(buf.toString())
          else writeFileSync(resolve(key), buf)
        }
        return
      }
    }
    if (this.cfg.summaryMode !== 'disabled') this.cfg.out(textSummary(data, inp, this.cfg.summaryMode))
  }
}

/** Iterations a run may do at most for the engine to stay without tier-up (engine.ts holdTierUp). */
export const FEW_ITERATIONS = 10

/** Whether every scenario is a count of iterations and they add up to at most FEW_ITERATIONS. */
export function fewIterations(scenarios: readonly Scenario[]): boolean {
  let n = 0
  for (const s of scenarios) {
    if (s.executor === 'shared-iterations') n += s.iterations
    else if (s.executor === 'per-vu-iterations') n += s.iterations * s.vus
    else return false
  }
  return n <= FEW_ITERATIONS
}
