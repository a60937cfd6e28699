/**
 * One virtual user: its own QuickJS runtime (WebAssembly, asyncify build), so `http.get` and
 * `sleep` suspend the whole VM stack and look synchronous to the script, also inside callbacks,
 * constructors and getters. Each VU runs the script's init code itself, as in k6.
 */
import { performance } from 'node:perf_hooks'
import type { QuickJSAsyncContext, QuickJSAsyncRuntime, QuickJSHandle } from 'quickjs-emscripten-core'
import { asyncEntryPoints, callAsync, newEngine, withoutSuspendStack, type AsyncEntryPoints } from './engine.ts'
import { hostBinder } from './host-api.ts'
import { installLeanCalls, LEAN } from './host-calls.ts'
import { EventLoop } from './eventloop.ts'
import type { Host } from './host.ts'
import { ScriptError } from '../errors.ts'
import { lazyGetters, lazyModules, names, preludes } from '../modules/index.ts'
import { resolveModule } from '../run/remote.ts'
import type { Tags } from '../results/metrics.ts'
import { loadHostSides, VuModules } from './vu-modules.ts'

/** Experimental k6 modules that became stable (k6 still loads them, with a warning). */
const MOVED_MODULES: Record<string, string> = { 'k6/experimental/websockets': 'k6/websockets' }
const warnedMoved = new Set<string>()
/** Experimental k6 modules k6 removed (importing them is an error there too), with what replaced them. */
const REMOVED_MODULES: Record<string, string> = {
  'k6/experimental/timers': "use 'k6/timers' or the global setTimeout/setInterval",
  'k6/experimental/webcrypto': 'use the global crypto (crypto.subtle)',
}

/**
 * Per-module export names, read from the VU that first imports the module and kept for this
 * thread's other VUs. Reading them all at once evaluated every lazy module in each thread's first
 * VU, k6/browser's with them, which loads playwright-core (~0.75 s of CPU, ~86 MB) for its devices.
 */
const moduleExports = new Map<string, string[]>()

export type Phase = 'init' | 'setup' | 'vu' | 'teardown' | 'summary'

export interface CallResult {
  kind: 'ok' | 'error' | 'abort'
  value: string // JSON (ok), error text, or abort message
}

export class VU {
  ctx!: QuickJSAsyncContext
  phase: Phase = 'init'
  iteration = -1
  iterationInScenario = -1
  iterationInTest = -1
  scenario: string | null = null
  baseTags: Tags = {}
  /** The scenario's tags, under the per-iteration `vu`/`iter` system tags. */
  private scenarioTags: Tags | null = null
  exports: string[] = []
  private mods: VuModules
  private interrupted = false
  /**
   * One word per VU, shared with the main thread (run/stops.ts): non-zero stops this VU's call.
   * The interrupt handler reads it, so a VU stuck in CPU-bound JS on a worker thread (whose event
   * loop is held, so no message reaches it) still stops when the main thread says so.
   */
  stopFlags: Int32Array | null = null
  /** A count of Ctrl-Cs bumped by a watcher thread (run/stops.ts); a change stops the call. */
  sigint: Int32Array | null = null
  private sigintSeen = 0
  /** performance.now() after which the current call stops (gracefulStop ended while this thread was held). */
  private deadline = Infinity
  /** Inside call() or handleSummary(): only these can be stopped (evals between calls never are). */
  private inCall = false
  private rt: QuickJSAsyncRuntime | null = null
  private wake: (() => void) | null = null
  private sleepTimer: NodeJS.Timeout | null = null
  private readonly loop = new EventLoop()
  /** Set by the VM when a callback threw or the function's promise was rejected. */
  private loopFailed = false
  /** Set by the VM when a promise was rejected with no handler (see checkRejections). */
  private rejected = false
  private tick: QuickJSHandle | null = null
  /** `__kh`, the object holding the host functions. */
  private kh: QuickJSHandle | null = null
  /** `__k6call`, called with (name, arg, iteration) through the FFI (see invoke()). */
  private caller: QuickJSHandle | null = null
  /** The last call's function name as a VM string: iterations call the same one. */
  private callName: { name: string; h: QuickJSHandle } | null = null
  /** `__k6result`: called by handle (compiling `__k6result()` each time cost more than the call). */
  private result: QuickJSHandle | null = null
  private jobError = ''
  private entryPoints: AsyncEntryPoints | undefined
  /**
   * The last call ended clean (a sync 'R', nothing left for the event loop, no stop): the next
   * call of an export may skip `__k6call` (see direct()). False until the first call has been made
   * through it, and after anything else.
   */
  private clean = false
  /** The script's exported functions by name, as handles (direct calls). */
  private readonly fns = new Map<string, QuickJSHandle | null>()
  /** `__k6state.setup` (the argument of direct calls), fetched again after setSetupData. */
  private setupArg: QuickJSHandle | null = null
  /** `__k6adopt` and `__k6failure`: what `__k6call` does with a result or an exception, for direct calls. */
  private adopt: QuickJSHandle | null = null
  private failure: QuickJSHandle | null = null
  private iterKey: QuickJSHandle | null = null

  constructor(
    readonly id: number,
    private readonly host: Host,
  ) {
    this.mods = new VuModules(host, this, this.loop)
  }

  /**
   * Creates the runtime and runs the script's init code; throws ScriptError (exit 107). The host
   * sides of k6/ws and k6/net/grpc are loaded first when the script names them; when another of
   * its files imports one, the first try fails binding it, and init starts over with it loaded
   * (module imports are bound before any of the script's code runs).
   */
  async init(): Promise<void> {
    await loadHostSides(this.host.script.source)
    // Each try finds at most one more missing (binding stops at the first): a few tries at most.
    for (;;) {
      try {
        return await this.initOnce()
      } catch (e) {
        if (!(await loadHostSides(''))) throw e
        this.close()
        this.fns.clear()
        this.tick = this.kh = this.result = this.caller = this.adopt = this.failure = this.setupArg = this.iterKey = null
        this.callName = null
        this.entryPoints = undefined
        this.loopFailed = this.rejected = false
        this.jobError = ''
        this.mods = new VuModules(this.host, this, this.loop)
      }
    }
  }

  private async initOnce(): Promise<void> {
    const mod = await newEngine()
    const rt = (this.rt = mod.newRuntime())
    rt.setMaxStackSize(1024 * 1024)
    // QuickJS polls the handler about every 10,000 backward jumps and calls (~10 ms of a CPU-bound
    // loop here): unmeasurable per iteration (README, "Stopping CPU-bound JS").
    rt.setInterruptHandler(() => this.shouldStop())
    const ctx = (this.ctx = rt.newContext())
    if (process.env.KILN_LEAN_CALLS !== '0') installLeanCalls(ctx)
    const script = this.host.script
    rt.setModuleLoader(
      (name) => this.loadModule(name),
      (base, requested) => resolveModule(base, requested) ?? requested,
    )
    this.installHost()
    this.evalGlobal(`globalThis.__ENV = ${JSON.stringify(this.host.env)}; globalThis.__VU = ${this.id}; globalThis.__ITER = 0`, 'env')
    for (const p of preludes) if (!p.module || names(script.source, p.module)) this.evalGlobal(p.src, p.name)
    this.evalGlobal(`${lazyGetters}; ''`, 'lazy-modules')
    this.tick = ctx.getProp(ctx.global, '__k6tick')
    this.caller = ctx.getProp(ctx.global, '__k6call')
    this.result = ctx.getProp(ctx.global, '__k6result')
    this.adopt = ctx.getProp(ctx.global, '__k6adopt')
    this.failure = ctx.getProp(ctx.global, '__k6failure')
    const r = ctx.evalCode(script.source, script.path, { type: 'module' })
    if (r.error) throw new ScriptError(this.errorText(r.error, script.path))
    let ns: QuickJSHandle = r.value
    let state = ctx.getPromiseState(ns)
    if (state.type === 'pending' || !this.loop.idle() || rt.hasPendingJob() || this.rejected) {
      // Top-level await, timers or promises in the init code: run the event loop dry first.
      await this.drive()
      if (this.loopFailed) {
        ns.dispose()
        const text = this.jobError || this.evalGlobal('__k6result()', 'init').slice(1)
        throw new ScriptError(text)
      }
      state = ctx.getPromiseState(ns)
      if (state.type === 'pending') {
        ns.dispose()
        throw new ScriptError(`${script.path}: the init code awaits a promise that never settles`)
      }
    }
    if (state.type === 'rejected') {
      ns.dispose()
      throw new ScriptError(this.errorText(state.error, script.path))
    }
    if (state.type === 'fulfilled' && !state.notAPromise) {
      ns.dispose()
      ns = state.value
    }
    ctx.setProp(ctx.global, '__main', ns)
    ns.dispose()
    this.exports = JSON.parse(this.evalGlobal('__k6exports()', 'exports'))
    this.loop.reset()
    this.evalGlobal("__k6state.inInit = false; ''", 'phase')
    this.phase = 'vu'
    this.mods.endInit()
  }

  private loadModule(name: string): string {
    const removed = REMOVED_MODULES[name]
    if (removed) throw new Error(`module '${name}' was removed from k6: ${removed}`)
    const target = MOVED_MODULES[name] ?? name
    if (target !== name && !warnedMoved.has(name)) {
      warnedMoved.add(name)
      this.host.log('warn', `'${name}' is deprecated: import '${target}' instead (Kiln loads it for now)`)
    }
    const known = this.exportsOf(target)
    if (known) {
      const named = known.filter((k) => k !== 'default').map((k) => `export const ${k} = m.${k};`)
      const def = known.includes('default') ? 'm.default' : 'm'
      return `const m = globalThis.__k6mods[${JSON.stringify(target)}]; export default ${def}; ${named.join(' ')}`
    }
    if (name.startsWith('k6'))
      throw new Error(`unknown module '${name}' (Kiln supports: ${this.evalGlobal("Object.keys(__k6mods).join(', ')", 'modules')})`)
    try {
      return this.host.readFile(name)
    } catch (e) {
      throw new Error(e instanceof ScriptError ? e.message : `cannot find module '${name}'`)
    }
  }

  /** A k6 module's export names (evaluating a lazy one), or undefined for a name that is not one. */
  private exportsOf(name: string): string[] | undefined {
    let names = moduleExports.get(name)
    if (!names) {
      const n = JSON.stringify(name)
      const json = this.evalGlobal(`Object.hasOwn(__k6mods, ${n}) ? JSON.stringify(Object.keys(__k6mods[${n}])) : ''`, 'exports')
      if (!json) return undefined
      names = JSON.parse(json) as string[]
      moduleExports.set(name, names)
    }
    return names
  }

  private evalGlobal(code: string, file: string): string {
    const r = this.ctx.evalCode(code, file)
    if (r.error) throw new ScriptError(this.errorText(r.error, file))
    const v = this.ctx.dump(r.value)
    r.value.dispose()
    return typeof v === 'string' ? v : ''
  }

  private errorText(h: QuickJSHandle, file: string): string {
    const e = this.ctx.dump(h) as { name?: string; message?: string; stack?: string } | string
    h.dispose()
    if (typeof e !== 'object' || e === null) return `${file}: ${String(e)}`
    const stack = (e.stack ?? '').trimEnd()
    return `${e.name ?? 'Error'}: ${e.message ?? ''}${stack ? '\n' + stack : ''}`
  }

  private installHost(): void {
    const ctx = this.ctx
    const kh = ctx.newObject()
    const raw = (name: string, f: (...a: QuickJSHandle[]) => QuickJSHandle | undefined) => {
      const h = ctx.newFunction(name, f)
      ctx.setProp(kh, name, h)
      h.dispose()
    }
    /** A host function the VM waits for: the whole WASM stack unwinds until its promise settles. */
    const rawAsync = (name: string, f: (...a: QuickJSHandle[]) => Promise<QuickJSHandle | { error: QuickJSHandle } | undefined>) => {
      const g = (...a: QuickJSHandle[]) => withoutSuspendStack(f(...a))
      // host-calls.ts finds its descriptor on the function the VM calls.
      ;(g as { [LEAN]?: unknown })[LEAN] = (f as { [LEAN]?: unknown })[LEAN]
      const h = ctx.newAsyncifiedFunction(name, g)
      ctx.setProp(kh, name, h)
      h.dispose()
    }
    const b = hostBinder(ctx, raw, rawAsync)
    const interrupted = () => this.interrupted
    // Evaluated from here, not by the VM's eval of the source as a string: that copy of the source
    // in the VM's heap cost ~40 KB more per VU for http.js (its WASM mapping's Rss).
    b.def('lazyModule', ['s'], (m) => {
      const src = lazyModules[m]
      if (src === undefined) return
      this.mods.installFor(m)
      this.evalGlobal(src, m)
    })
    b.defAsync('sleep', ['n'], async (d) => {
      if (this.interrupted || !(d > 0)) return
      await new Promise<void>((r) => {
        this.wake = r
        this.sleepTimer = setTimeout(r, d)
      })
      this.wake = null
    })
    // The event loop (loop.js): timers, async operations, and one event per __k6tick().
    b.def('timer', ['n', 'n'], (id, ms) => this.loop.timer(id, ms))
    b.def('cancel', ['n'], (id) => this.loop.cancel(id))
    b.def('nextEvent', [], () => {
      const e = this.loop.take()
      return e ? `${e[0]} ${e[1] ? 1 : 0} ${e[2]}` : ''
    })
    b.def('loopFailed', [], () => {
      this.loopFailed = true
    })
    b.def('rejection', [], () => {
      this.rejected = true
    })
    this.mods.install(b, interrupted)
    ctx.setProp(ctx.global, '__kh', kh)
    // Kept: a module evaluated on first import binds its host functions here then (installFor).
    this.kh = kh
  }

  /**
   * Runs the event loop until it is empty: the VM's promise jobs, then one host event (a timer, a
   * finished async call, a socket message) at a time. Each step may suspend the VM in a host call
   * (asyncify); the next step starts only when it has finished, so the VM is never re-entered.
   */
  private async drive(): Promise<void> {
    for (;;) {
      await this.runJobs()
      if (this.rejected) this.checkRejections()
      if (this.interrupted || this.loopFailed || this.loop.idle()) break
      await this.loop.next()
      if (this.interrupted) break
      if (this.loop.ready()) await this.callTick()
    }
    this.loop.reset()
  }

  /**
   * A rejection still unhandled once the jobs have run fails the call, as k6's event loop fails
   * the iteration with "Uncaught (in promise) …" (a handler attached later comes too late there too).
   */
  private checkRejections(): void {
    this.rejected = false
    const text = this.evalGlobal('__k6loop.unhandled()', 'rejections')
    if (!text) return
    this.loopFailed = true
    this.jobError ||= text
  }

  private entries(): AsyncEntryPoints {
    this.entryPoints ??= asyncEntryPoints(this.rt!)
    return this.entryPoints
  }

  /** The VM's pending promise jobs, run one by one through asyncify (a job may call http.get). */
  private async runJobs(): Promise<void> {
    const rt = this.rt as unknown as {
      ffi: { QTS_FreeValuePointerRuntime(rt: number, v: number): void }
      rt: { value: number }
      module: { _malloc(n: number): number; _free(p: number): void; HEAPU8: Uint8Array }
      hasPendingJob(): boolean
    }
    const ffi = this.entries()
    while (rt.hasPendingJob() && !this.interrupted) {
      const out = rt.module._malloc(4)
      let valuePtr: number
      let ctxPtr: number
      try {
        new Int32Array(rt.module.HEAPU8.buffer, out, 1)[0] = 0
        valuePtr = await ffi.runJob(rt.rt.value, 1, out)
        ctxPtr = new Int32Array(rt.module.HEAPU8.buffer, out, 1)[0]!
      } finally {
        rt.module._free(out)
      }
      if (ctxPtr === 0) {
        rt.ffi.QTS_FreeValuePointerRuntime(rt.rt.value, valuePtr)
        continue
      }
      const h = (this.ctx as unknown as { getMemory(rt: number): { heapValueHandle(p: number): QuickJSHandle } })
        .getMemory(rt.rt.value)
        .heapValueHandle(valuePtr)
      // A number: jobs run. Anything else: an exception no promise caught (the interrupt).
      if (this.ctx.typeof(h) === 'number') h.dispose()
      else {
        this.loopFailed = true
        this.jobError = this.errorText(h, 'job')
      }
    }
  }

  /** `__k6tick()` through asyncify: the callback it runs may suspend the VM. */
  private async callTick(): Promise<void> {
    const r = await callAsync(this.ctx, this.entries(), this.tick!)
    if (r.error) {
      this.loopFailed = true
      this.jobError = this.errorText(r.error, 'tick')
    } else r.value.dispose()
  }

  /**
   * `__k6call(name, arg, iter)` called through the FFI: evalCodeAsync compiled a snippet for every
   * iteration, and a wrapper reading the three from VM globals cost a frame that asyncify saved and
   * restored at each suspension, plus a property set per iteration.
   */
  private async invoke(
    name: string,
    argJson: string | undefined,
    iter: number,
    clean: boolean,
  ): Promise<{ error: QuickJSHandle } | { text: string }> {
    const ctx = this.ctx
    if (clean && argJson === undefined) {
      const direct = await this.direct(name, iter)
      if (direct) return direct
    }
    if (this.callName?.name !== name) {
      this.callName?.h.dispose()
      this.callName = { name, h: ctx.newString(name) }
    }
    const arg = argJson === undefined ? null : ctx.newString(argJson)
    const it = ctx.newNumber(iter)
    try {
      const r = await callAsync(ctx, this.entries(), this.caller!, [this.callName.h, arg ?? ctx.undefined, it])
      if (r.error) return r
      const text = ctx.getString(r.value)
      r.value.dispose()
      return { text }
    } finally {
      arg?.dispose()
      it.dispose()
    }
  }

  /**
   * The export `name` called straight through the FFI, as `__k6call` would call it after a clean
   * call: `__ITER` set from here, the setup data its argument, the result or exception handed to
   * the VM's `__k6adopt`/`__k6failure` only when there is one. `__k6call`'s own JS was what an
   * iteration saved (−15 % of an `http.get` iteration's CPU; the asyncify build runs the VM's JS
   * ~3.5× slower than the sync one), not its frame: README, "Session 11". Undefined when `name`
   * is not a function the script exports, or is setup/teardown (their group names need `__k6call`).
   */
  private async direct(name: string, iter: number): Promise<{ error: QuickJSHandle } | { text: string } | undefined> {
    const ctx = this.ctx
    if (name === 'setup' || name === 'teardown') return undefined
    let fn = this.fns.get(name)
    if (fn === undefined) {
      const main = ctx.getProp(ctx.global, '__main')
      const h = ctx.getProp(main, name)
      main.dispose()
      if (ctx.typeof(h) === 'function') fn = h
      else {
        h.dispose()
        fn = null
      }
      this.fns.set(name, fn)
    }
    if (fn === null) return undefined
    if (!this.setupArg) {
      const state = ctx.getProp(ctx.global, '__k6state')
      this.setupArg = ctx.getProp(state, 'setup')
      state.dispose()
    }
    // By a key handle made once: a string key is a new VM string each time.
    this.iterKey ??= ctx.newString('__ITER')
    const it = ctx.newNumber(iter)
    ctx.setProp(ctx.global, this.iterKey, it)
    it.dispose()
    const r = await callAsync(ctx, this.entries(), fn, [this.setupArg])
    // An interrupt stays the error it is (callInner reports it); otherwise, for an exception or a
    // result other than undefined, the VM says what __k6call would have.
    if (r.error && this.interrupted) return r
    const given = r.error ?? r.value!
    if (!r.error && ctx.sameValue(given, ctx.undefined)) {
      given.dispose()
      return { text: 'R' }
    }
    const said = ctx.callFunction(r.error ? this.failure! : this.adopt!, ctx.undefined, given)
    if (said.error && r.error) {
      // The script's exception is what to report, not one from describing it.
      said.error.dispose()
      return r
    }
    given.dispose()
    if (said.error) return { error: said.error }
    const text = ctx.getString(said.value)
    said.value.dispose()
    return { text }
  }

  /** Polled by QuickJS while the VM runs JS: interrupt(), the shared stop word, or the deadline. */
  private shouldStop(): boolean {
    if (!this.inCall) return false
    if (this.interrupted) return true
    if (
      (this.stopFlags !== null && Atomics.load(this.stopFlags, this.id) !== 0) ||
      (this.sigint !== null && Atomics.load(this.sigint, 0) !== this.sigintSeen) ||
      performance.now() > this.deadline
    )
      this.interrupt()
    return this.interrupted
  }

  /**
   * Clears a stop left from the previous call; `keepStop` keeps the shared word (a worker's loop
   * read it just before: a stop written since is for this call).
   */
  private rearm(deadline: number, keepStop = false): void {
    this.interrupted = false
    this.deadline = deadline
    if (this.sigint !== null) this.sigintSeen = Atomics.load(this.sigint, 0)
    if (!keepStop && this.stopFlags !== null && this.id < this.stopFlags.length) Atomics.store(this.stopFlags, this.id, 0)
  }

  /**
   * Calls an exported function (`default`, `setup`, a scenario's exec…). `deadline`
   * (performance.now() of this thread) stops it even when this thread's timers cannot run.
   */
  async call(name: string, argJson?: string, iter = 0, deadline = Infinity, keepStop = false): Promise<CallResult> {
    this.rearm(deadline, keepStop)
    this.inCall = true
    try {
      return await this.callInner(name, argJson, iter)
    } finally {
      this.inCall = false
    }
  }

  private async callInner(name: string, argJson: string | undefined, iter: number): Promise<CallResult> {
    // systemTags with vu / iter: every sample of the iteration carries them (a new tag set per iteration then).
    const vt = this.host.options.vuTags
    if (this.scenarioTags && (vt.includes('vu') || vt.includes('iter'))) {
      this.baseTags = {
        ...this.scenarioTags,
        ...(vt.includes('vu') ? { vu: String(this.id) } : {}),
        ...(vt.includes('iter') ? { iter: String(Math.max(0, this.iteration)) } : {}),
      }
    }
    this.mods.startIteration()
    this.loopFailed = false
    this.rejected = false
    this.jobError = ''
    const clean = this.clean
    this.clean = false
    const r = await this.invoke(name, argJson, iter, clean)
    try {
      if ('error' in r) {
        const text = this.errorText(r.error, 'call')
        this.loop.reset()
        return { kind: 'error', value: this.interrupted ? 'interrupted' : text }
      }
      let s = r.text
      // Promises, timers or async calls left: the call ends when the event loop is empty (k6).
      const settle = s === 'P' || (s[0] === 'R' && (!this.loop.idle() || this.rt!.hasPendingJob() || this.rejected))
      if (settle) {
        s = await this.settle('result')
        if (this.interrupted) return { kind: 'error', value: 'interrupted' }
      } else if (s[0] !== 'R') this.loop.reset()
      const kind = s[0] === 'R' ? 'ok' : s[0] === 'A' ? 'abort' : 'error'
      // Nothing kept for the event loop (a result other than undefined is): the next call may go direct.
      this.clean = r.text === 'R' && !settle && !this.interrupted && name !== 'setup' && name !== 'teardown'
      return { kind, value: s.slice(1) }
    } finally {
      await this.mods.endIteration()
    }
  }

  /** Dedicates the VU to a scenario: its tags, and `__ENV` with the scenario's env on top. */
  assign(scenario: string, tags: Tags, env: Record<string, string>): void {
    this.scenario = scenario
    this.baseTags = tags
    this.scenarioTags = tags
    this.iterationInScenario = -1
    if (Object.keys(env).length) this.evalGlobal(`Object.assign(__ENV, ${JSON.stringify(env)}); ''`, 'env')
  }

  /** Gives every VU the JSON result of setup(). */
  setSetupData(json: string): void {
    this.setupArg?.dispose()
    this.setupArg = null
    const r = this.ctx.evalCode(`__k6setSetup(${JSON.stringify(json)})`, 'setup-data')
    if (r.error) throw new ScriptError(this.errorText(r.error, 'setup-data'))
    r.value.dispose()
  }

  /** Runs the event loop dry after a call that left work, then reads the call's outcome ('R…', 'E…', 'A…'). */
  private async settle(which: 'result' | 'summary'): Promise<string> {
    await this.drive()
    if (this.interrupted) return 'Einterrupted'
    if (this.jobError) return 'E' + this.jobError
    if (which === 'summary') return this.evalGlobal('__k6summaryResult()', 'result')
    const r = this.ctx.callFunction(this.result!, this.ctx.undefined)
    if (r.error) return 'E' + this.errorText(r.error, 'result')
    const out = this.ctx.getString(r.value)
    r.value.dispose()
    return out
  }

  async handleSummary(dataJson: string): Promise<CallResult> {
    this.phase = 'summary'
    this.rearm(Infinity)
    this.inCall = true
    try {
      return await this.summaryInner(dataJson)
    } finally {
      this.inCall = false
    }
  }

  private async summaryInner(dataJson: string): Promise<CallResult> {
    this.loopFailed = false
    this.jobError = ''
    const r = await this.ctx.evalCodeAsync(`__k6summary(${JSON.stringify(dataJson)})`, 'summary')
    if (r.error) return { kind: 'error', value: this.errorText(r.error, 'handleSummary') }
    let s = this.ctx.getString(r.value)
    r.value.dispose()
    if (s === 'P') s = await this.settle('summary')
    return { kind: s[0] === 'R' ? 'ok' : 'error', value: s.slice(1) }
  }

  optionsJson(): string {
    return this.evalGlobal('__k6options()', 'options')
  }

  /** Stops the running iteration now: wakes a sleep and interrupts the JS (gracefulStop ran out). */
  interrupt(): void {
    this.interrupted = true
    if (this.sleepTimer) clearTimeout(this.sleepTimer)
    this.wake?.()
    this.mods.interrupt()
    this.loop.interrupt()
  }

  close(): void {
    this.loop.reset()
    this.mods.close()
    this.tick?.dispose()
    this.kh?.dispose()
    this.result?.dispose()
    this.caller?.dispose()
    this.callName?.h.dispose()
    this.adopt?.dispose()
    this.failure?.dispose()
    this.setupArg?.dispose()
    this.iterKey?.dispose()
    for (const h of this.fns.values()) h?.dispose()
  }
}
