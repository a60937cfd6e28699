/**
 * One virtual user: its own QuickJS runtime (WebAssembly, asyncify build), so `http.get` and
 * `sleep` suspend the whole VM stack and look synchronous to the script, also inside callbacks,
 * constructors and getters. Each VU runs the script's init code itself, as in k6.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { QuickJSAsyncContext, QuickJSAsyncRuntime, QuickJSHandle } from 'quickjs-emscripten-core'
import { asyncEntryPoints, callAsync, lazyGetters, lazyModules, newEngine, preludes, withoutSuspendStack, type AsyncEntryPoints, type CallOutcome } from './engine.ts'
import { lookupSecret } from './secrets.ts'
import { csvOptions, csvRows } from './csv.ts'
import { closeTransport } from './transport.ts'
import { request, newClient, closeClient, encodeResponse, type HttpClient, type RequestSpec, type ResponseData } from './http.ts'
import type { Tags } from './metrics.ts'
import { ScriptError, type Host } from './host.ts'
import { HtmlStore } from './html.ts'
import { resolveModule } from './remote.ts'
import { JarStore } from './cookies.ts'
import { ELEMENT_METHODS } from './html-element.ts'
import { EventLoop } from './eventloop.ts'
import { WsConn, type WsSpec } from './ws.ts'
import { KeyStore } from './webcrypto.ts'
import { GrpcClients } from './grpc.ts'
import { installGrpc } from './vu-grpc.ts'

/** Experimental k6 modules that became stable (k6 still loads them, with a warning). */
const MOVED_MODULES: Record<string, string> = { 'k6/experimental/websockets': 'k6/websockets' }
const warnedMoved = new Set<string>()
/** Experimental k6 modules k6 removed (importing them is an error there too), with what replaced them. */
const REMOVED_MODULES: Record<string, string> = {
  'k6/experimental/timers': "use 'k6/timers' or the global setTimeout/setInterval",
  'k6/experimental/webcrypto': 'use the global crypto (crypto.subtle)',
}

/** Per-module export names, read once from the first VU's prelude. */
let moduleExports: Record<string, string[]> | null = null

export type Phase = 'init' | 'setup' | 'vu' | 'teardown' | 'summary'

/** k6's `batch` option: at most `limit` of the items in flight at once; results in order. */
async function inBatches<T, R>(items: T[], limit: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      out[i] = await f(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, lane))
  return out
}

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
  exports: string[] = []
  private client: HttpClient
  private readonly html = new HtmlStore()
  private readonly jars: JarStore
  private interrupted = false
  private rt: QuickJSAsyncRuntime | null = null
  private wake: (() => void) | null = null
  private sleepTimer: NodeJS.Timeout | null = null
  private readonly loop = new EventLoop()
  /** Open WebSockets by the VM's id; `k6/ws` ones also queue their events here for wsWait. */
  private sockets = new Map<number, { conn: WsConn; queue?: string[] }>()
  private readonly keys = new KeyStore()
  /** `k6/net/grpc` clients by the VM's id (created on first use). */
  private grpcClients: GrpcClients | null = null
  /** Wakes a `k6/ws` wait (not `wake`: a message must not cut short a sleep() in a handler). */
  private wsWake: (() => void) | null = null
  /** Set by the VM when a callback threw or the function's promise was rejected. */
  private loopFailed = false
  private tick: QuickJSHandle | null = null
  /** `__k6invoke`, through which exported functions are called (see invoke()). */
  private invoker: QuickJSHandle | null = null
  private lastCallName: string | null = null
  private lastCallArg: string | undefined = undefined
  /** `__k6result`: called by handle (compiling `__k6result()` each time cost more than the call). */
  private result: QuickJSHandle | null = null
  private jobError = ''
  private entryPoints: AsyncEntryPoints | undefined

  constructor(
    readonly id: number,
    private readonly host: Host,
  ) {
    const o = host.options
    this.client = newClient({ userAgent: o.userAgent, insecure: o.insecureSkipTLSVerify, discardBodies: o.discardResponseBodies, maxSockets: o.batchPerHost, net: o.net })
    this.jars = new JarStore(this.client.jar)
    if (host.httpDebug) {
      // k6's fields after the dump, in logrus's (alphabetical) order.
      this.client.debug = (l, group, id) => host.log('http-debug', `${l}  group=${group} iter=${Math.max(0, this.iteration)} request_id=${id} scenario=${this.scenario ?? ''} source=http-debug vu=${this.id}`)
      this.client.debugBodies = host.httpDebug === 'full'
    }
  }

  /** Creates the runtime and runs the script's init code; throws ScriptError (exit 107). */
  async init(): Promise<void> {
    const mod = await newEngine()
    const rt = (this.rt = mod.newRuntime())
    rt.setMaxStackSize(1024 * 1024)
    // No interrupt handler until interrupt(): QuickJS polls it every few thousand bytecodes, a call
    // out of WASM each time, which cost ~30% of a JSON-heavy iteration. The VM cannot be stopped
    // while it runs JS anyway (it holds the thread); interrupt() happens while it is suspended in a
    // host call, and the handler then stops it as soon as it resumes.
    const ctx = (this.ctx = rt.newContext())
    const script = this.host.script
    rt.setModuleLoader(
      (name) => this.loadModule(name),
      (base, requested) => resolveModule(base, requested) ?? requested,
    )
    this.installHost()
    this.evalGlobal(`globalThis.__ENV = ${JSON.stringify(this.host.env)}; globalThis.__VU = ${this.id}; globalThis.__ITER = 0`, 'env')
    for (const p of preludes) this.evalGlobal(p.src, p.name)
    this.evalGlobal(`${lazyGetters}; ''`, 'lazy-modules')
    this.tick = ctx.getProp(ctx.global, '__k6tick')
    this.evalGlobal("globalThis.__k6callArg = undefined; globalThis.__k6invoke = function () { return __k6call(__k6callName, __k6callArg) }; ''", 'invoke')
    this.invoker = ctx.getProp(ctx.global, '__k6invoke')
    this.result = ctx.getProp(ctx.global, '__k6result')
    if (!moduleExports) {
      moduleExports = JSON.parse(this.evalGlobal('JSON.stringify(Object.fromEntries(Object.entries(__k6mods).map(([k, v]) => [k, Object.keys(v)])))', 'exports'))
    }
    const r = ctx.evalCode(script.source, script.path, { type: 'module' })
    if (r.error) throw new ScriptError(this.errorText(r.error, script.path))
    let ns: QuickJSHandle = r.value
    let state = ctx.getPromiseState(ns)
    if (state.type === 'pending' || !this.loop.idle() || rt.hasPendingJob()) {
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
    this.html.keepNew = false
    this.jars.keepNew = false
  }

  private loadModule(name: string): string {
    const removed = REMOVED_MODULES[name]
    if (removed) throw new Error(`module '${name}' was removed from k6: ${removed}`)
    const target = MOVED_MODULES[name] ?? name
    if (target !== name && !warnedMoved.has(name)) {
      warnedMoved.add(name)
      this.host.log('warn', `'${name}' is deprecated: import '${target}' instead (Kiln loads it for now)`)
    }
    const known = moduleExports?.[target]
    if (known) {
      const named = known.filter((k) => k !== 'default').map((k) => `export const ${k} = m.${k};`)
      const def = known.includes('default') ? 'm.default' : 'm'
      return `const m = globalThis.__k6mods[${JSON.stringify(target)}]; export default ${def}; ${named.join(' ')}`
    }
    if (name.startsWith('k6')) throw new Error(`unknown module '${name}' (Kiln supports: ${Object.keys(moduleExports ?? {}).join(', ')})`)
    try {
      return this.host.readFile(name)
    } catch (e) {
      throw new Error(e instanceof ScriptError ? e.message : `cannot find module '${name}'`)
    }
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
    const fn = (name: string, f: (...a: QuickJSHandle[]) => QuickJSHandle | undefined) => {
      const h = ctx.newFunction(name, f)
      ctx.setProp(kh, name, h)
      h.dispose()
    }
    const host = this.host
    fn('now', () => ctx.newNumber(performance.now()))
    fn('emit', (n, v, t) => {
      host.emit(ctx.getString(n), ctx.getNumber(v), { ...this.baseTags, ...(JSON.parse(ctx.getString(t)) as Tags) })
      return undefined
    })
    fn('metric', (n, t, isTime) => ctx.newString(host.defineMetric(ctx.getString(n), ctx.getString(t), ctx.dump(isTime) === true)))
    fn('log', (l, m) => {
      host.log(ctx.getString(l), ctx.getString(m))
      return undefined
    })
    fn('open', (p, b) => {
      try {
        const buf = host.readBytes(ctx.getString(p))
        return ctx.newString(ctx.dump(b) === true ? buf.toString('base64') : buf.toString('utf8'))
      } catch (e) {
        return { error: ctx.newError((e as Error).message) } as unknown as QuickJSHandle
      }
    })
    fn('exec', () => ctx.newString(JSON.stringify(host.execState(this))))
    fn('abort', (m) => {
      host.abort(ctx.getString(m))
      return undefined
    })
    fn('markFailed', (m) => {
      host.markFailed(ctx.getString(m))
      return undefined
    })
    fn('shared', (n) => ctx.newString(host.shared.get(ctx.getString(n)) ?? ''))
    fn('setShared', (n, j) => {
      host.shared.set(ctx.getString(n), ctx.getString(j))
      return undefined
    })
    fn('hash', (a, k, hasKey, d) => {
      const alg = ctx.getString(a).replace('sha512_224', 'sha512-224').replace('sha512_256', 'sha512-256')
      const data = Buffer.from(ctx.getString(d), 'base64')
      try {
        const h = ctx.dump(hasKey) === true ? createHmac(alg, Buffer.from(ctx.getString(k), 'base64')) : createHash(alg)
        return ctx.newString(h.update(data).digest('base64'))
      } catch (e) {
        return ctx.newString(`!${ctx.getString(a)} is not available here: ${(e as Error).message}`)
      }
    })
    fn('htmlParse', (src, url) => ctx.newNumber(this.html.parse(ctx.getString(src), ctx.getString(url))))
    fn('lazyModule', (m) => ctx.newString(lazyModules[ctx.getString(m)] ?? ''))
    fn('htmlMethods', () => ctx.newString(JSON.stringify(ELEMENT_METHODS)))
    /** A synchronous host call taking and returning a string; an Error it throws is the script's. */
    const strFn = (name: string, f: (s: string) => string) =>
      fn(name, (j) => {
        try {
          return ctx.newString(f(ctx.getString(j)))
        } catch (e) {
          return { error: ctx.newError((e as Error).message) } as unknown as QuickJSHandle
        }
      })
    strFn('html', (j) => this.html.call(j))
    strFn('jar', (j) => this.jars.call(j))
    strFn('csv', (j) => {
      const [path, options] = JSON.parse(j) as [string, Record<string, unknown> | null]
      return JSON.stringify(csvRows(host.readBytes(path).toString('utf8'), csvOptions(options)))
    })
    strFn('secret', (j) => {
      const [source, key] = JSON.parse(j) as [string | null, string]
      const r = lookupSecret(host.secrets, source, key)
      if ('error' in r) throw new Error(r.error)
      return r.value
    })
    fn('random', (n) => ctx.newString(randomBytes(Math.max(0, Math.min(65536, ctx.getNumber(n)))).toString('base64')))
    fn('throwOnError', () => (host.options.throw ? ctx.true : ctx.false))
    const one = async (spec: RequestSpec): Promise<ResponseData | string> => {
      if (spec.redirects < 0) spec.redirects = host.options.maxRedirects
      if (!spec.responseType) spec.responseType = host.options.discardResponseBodies ? 'none' : 'text'
      try {
        new URL(spec.url)
      } catch {
        return `invalid URL '${spec.url}'`
      }
      if (spec.jar !== undefined) {
        try {
          spec.cookieJar = spec.jar === null ? null : this.jars.get(spec.jar)
        } catch (e) {
          return (e as Error).message
        }
      }
      const res = await request(this.client, spec, host.registry, this.baseTags)
      if (res.error) host.log('warn', `Request Failed error="${res.error}"`)
      return res
    }
    /** A host function the VM waits for: the whole WASM stack unwinds until its promise settles. */
    const asyncFn = (name: string, f: (...a: QuickJSHandle[]) => Promise<QuickJSHandle | { error: QuickJSHandle } | undefined>) => {
      const h = ctx.newAsyncifiedFunction(name, (...a) => withoutSuspendStack(f(...a)))
      ctx.setProp(kh, name, h)
      h.dispose()
    }
    const answer = async (spec: RequestSpec) => {
      const res = await one(spec)
      return typeof res === 'string' ? { error: ctx.newError(res) } : ctx.newString(encodeResponse(res))
    }
    asyncFn('request', (j) => answer(JSON.parse(ctx.getString(j)) as RequestSpec))
    // `http.get(url)` without params: what vm/http.js buildSpec gives for no params, built here.
    const plainSpec = (m: QuickJSHandle, u: QuickJSHandle, g: QuickJSHandle): RequestSpec => ({ method: ctx.getString(m), url: ctx.getString(u), headers: {}, tags: { group: ctx.getString(g) }, timeoutMs: 60000, redirects: -1, responseType: host.options.discardResponseBodies ? 'none' : 'text', expected: null })
    asyncFn('requestPlain', (m, u, g) => answer(plainSpec(m, u, g)))
    asyncFn('batch', async (j) => {
      const all = await inBatches(JSON.parse(ctx.getString(j)) as RequestSpec[], host.options.batch, one)
      const bad = all.find((r): r is string => typeof r === 'string')
      return bad ? { error: ctx.newError(bad) } : ctx.newString(JSON.stringify(all.map((r) => encodeResponse(r as ResponseData))))
    })
    asyncFn('sleep', async (ms) => {
      const d = ctx.getNumber(ms)
      if (this.interrupted || !(d > 0)) return
      await new Promise<void>((r) => {
        this.wake = r
        this.sleepTimer = setTimeout(r, d)
      })
      this.wake = null
      return undefined
    })
    // The event loop (vm/loop.js): timers, async operations, and one event per __k6tick().
    fn('timer', (id, ms) => {
      this.loop.timer(ctx.getNumber(id), ctx.getNumber(ms))
      return undefined
    })
    fn('cancel', (id) => {
      this.loop.cancel(ctx.getNumber(id))
      return undefined
    })
    fn('nextEvent', () => {
      const e = this.loop.take()
      return ctx.newString(e ? `${e[0]} ${e[1] ? 1 : 0} ${e[2]}` : '')
    })
    fn('loopFailed', () => {
      this.loopFailed = true
      return undefined
    })
    // http.asyncRequest: the request goes out now; its Response comes back as an event-loop event.
    const start = (id: QuickJSHandle, spec: RequestSpec) => {
      this.loop.op(ctx.getNumber(id), one(spec).then((r) => (typeof r === 'string' ? Promise.reject(new Error(r)) : encodeResponse(r))))
      return undefined
    }
    fn('requestStart', (id, j) => start(id, JSON.parse(ctx.getString(j)) as RequestSpec))
    fn('requestPlainStart', (id, m, u, g) => start(id, plainSpec(m, u, g)))
    fn('keyFree', (id) => {
      this.keys.free(ctx.getString(id))
      return undefined
    })
    fn('subtle', (id, op, args) => {
      this.loop.op(ctx.getNumber(id), this.keys.run(ctx.getString(op), ctx.getString(args)))
      return undefined
    })
    this.installWs(fn, asyncFn)
    installGrpc({ ctx, loop: this.loop, clients: () => this.grpc, existing: () => this.grpcClients, interrupted: () => this.interrupted, fn, asyncFn })
    ctx.setProp(ctx.global, '__kh', kh)
    kh.dispose()
  }

  private get grpc(): GrpcClients {
    const host = this.host
    this.grpcClients ??= new GrpcClients({
      readBytes: (p) => host.readBytes(p),
      emit: (m, v, t) => host.emit(m, v, { ...this.baseTags, ...t }),
      insecure: host.options.insecureSkipTLSVerify,
      userAgent: host.options.userAgent,
      net: host.options.net,
      // k6 logs gRPC calls with --http-debug too (its fields after the text, as for HTTP).
      debug: host.httpDebug ? { log: (t) => host.log('http-debug', `${t}  iter=${Math.max(0, this.iteration)} scenario=${this.scenario ?? ''} source=http-debug vu=${this.id}`), full: host.httpDebug === 'full' } : undefined,
    })
    return this.grpcClients
  }

  /** Host functions of vm/ws.js: `k6/ws` waits on a socket's own queue, `k6/websockets` on the event loop. */
  private installWs(fn: (name: string, f: (...a: QuickJSHandle[]) => QuickJSHandle | undefined) => void, asyncFn: (name: string, f: (...a: QuickJSHandle[]) => Promise<QuickJSHandle | { error: QuickJSHandle } | undefined>) => void): void {
    const ctx = this.ctx
    const host = this.host
    const open = (specJson: string, sink: (kind: string, payload: string) => void): WsConn => {
      const spec = JSON.parse(specJson) as WsSpec
      const emit = (m: string, v: number, t: Tags) => host.emit(m, v, { ...this.baseTags, ...t })
      // The handshake is an HTTP request: the jar's cookies go with it and its Set-Cookie comes back.
      const jar = spec.jar === null ? null : spec.jar === undefined ? this.client.jar : this.jars.get(spec.jar)
      let httpUrl: URL | null = null
      try {
        httpUrl = new URL(spec.url.replace(/^ws/i, 'http'))
      } catch {
        // WsConn reports the bad URL.
      }
      const extra = spec.cookies ?? {}
      const cookies = jar && httpUrl ? jar.header(httpUrl, extra) : Object.entries(extra).map(([n, c]) => `${n}=${c.value}`).join('; ')
      if (cookies) spec.headers['Cookie'] = [cookies, spec.headers['Cookie']].filter(Boolean).join('; ')
      return new WsConn(spec, emit, sink, host.options.insecureSkipTLSVerify, (h) => jar && httpUrl && jar.store(httpUrl, h['set-cookie']))
    }
    const waitEvent = async (id: number, ms: number): Promise<string | null> => {
      const s = this.sockets.get(id)
      if (!s?.queue) return null
      if (!s.queue.length && !this.interrupted) {
        let timer: NodeJS.Timeout | undefined
        await new Promise<void>((r) => {
          this.wsWake = r
          if (ms >= 0) timer = setTimeout(r, ms)
        })
        clearTimeout(timer)
        this.wsWake = null
      }
      if (this.interrupted) return null
      return s.queue.shift() ?? ''
    }
    asyncFn('wsConnect', async (i, j) => {
      const id = ctx.getNumber(i)
      const queue: string[] = []
      const conn = open(ctx.getString(j), (kind, payload) => {
        queue.push(`${kind} ${payload}`)
        this.wsWake?.()
      })
      this.sockets.set(id, { conn, queue })
      const first = await waitEvent(id, -1)
      if (first?.startsWith('open ')) return ctx.newString(first.slice(5))
      this.sockets.delete(id)
      conn.destroy()
      return { error: ctx.newError(first === null ? 'interrupted' : first.startsWith('error ') ? first.slice(6) : `websocket: ${first}`) }
    })
    asyncFn('wsWait', async (i, ms) => {
      const ev = await waitEvent(ctx.getNumber(i), ctx.getNumber(ms))
      return ev === null ? { error: ctx.newError('interrupted') } : ctx.newString(ev)
    })
    fn('wsStart', (i, j) => {
      const id = ctx.getNumber(i)
      const conn = open(ctx.getString(j), (kind, payload) => {
        this.loop.push(id, true, `${kind} ${payload}`)
        if (kind === 'close') {
          this.sockets.delete(id)
          this.loop.end(id)
        }
      })
      this.sockets.set(id, { conn })
      this.loop.stream(id, () => {
        this.sockets.delete(id)
        conn.destroy()
      })
      return undefined
    })
    const withConn = (name: string, f: (c: WsConn, ...a: QuickJSHandle[]) => void) =>
      fn(name, (i, ...a) => {
        const s = this.sockets.get(ctx.getNumber(i))
        if (!s) return undefined
        try {
          f(s.conn, ...a)
        } catch (e) {
          return { error: ctx.newError((e as Error).message) } as unknown as QuickJSHandle
        }
        return undefined
      })
    withConn('wsSend', (c, d, b) => c.send(ctx.getString(d), ctx.dump(b) === true))
    withConn('wsPing', (c) => c.ping())
    withConn('wsClose', (c, code, reason) => c.close(ctx.getNumber(code), ctx.getString(reason)))
    fn('wsDone', (i) => {
      const id = ctx.getNumber(i)
      this.sockets.get(id)?.conn.destroy()
      this.sockets.delete(id)
      return undefined
    })
  }

  /**
   * Runs the event loop until it is empty: the VM's promise jobs, then one host event (a timer, a
   * finished async call, a socket message) at a time. Each step may suspend the VM in a host call
   * (asyncify); the next step starts only when it has finished, so the VM is never re-entered.
   */
  private async drive(): Promise<void> {
    for (;;) {
      await this.runJobs()
      if (this.interrupted || this.loopFailed || this.loop.idle()) break
      await this.loop.next()
      if (this.interrupted) break
      if (this.loop.ready()) await this.callTick()
    }
    this.loop.reset()
  }

  private entries(): AsyncEntryPoints {
    this.entryPoints ??= asyncEntryPoints(this.rt!)
    return this.entryPoints
  }

  /** The VM's pending promise jobs, run one by one through asyncify (a job may call http.get). */
  private async runJobs(): Promise<void> {
    const rt = this.rt as unknown as { ffi: { QTS_FreeValuePointerRuntime(rt: number, v: number): void }; rt: { value: number }; module: { _malloc(n: number): number; _free(p: number): void; HEAPU8: Uint8Array }; hasPendingJob(): boolean }
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
      const h = (this.ctx as unknown as { getMemory(rt: number): { heapValueHandle(p: number): QuickJSHandle } }).getMemory(rt.rt.value).heapValueHandle(valuePtr)
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
   * `__k6call(name[, arg])` with `__ITER = iter`, called through the FFI: evalCodeAsync compiled
   * that snippet for every iteration.
   */
  private async invoke(name: string, argJson: string | undefined, iter: number): Promise<CallOutcome> {
    const ctx = this.ctx
    const set = (k: string, h: QuickJSHandle): void => {
      ctx.setProp(ctx.global, k, h)
      h.dispose()
    }
    set('__ITER', ctx.newNumber(iter))
    // Iterations call the same function without an argument: set those only when they change.
    if (name !== this.lastCallName) {
      set('__k6callName', ctx.newString(name))
      this.lastCallName = name
    }
    if (argJson !== undefined || this.lastCallArg !== undefined) {
      if (argJson === undefined) ctx.setProp(ctx.global, '__k6callArg', ctx.undefined)
      else set('__k6callArg', ctx.newString(argJson))
      this.lastCallArg = argJson
    }
    return callAsync(ctx, this.entries(), this.invoker!)
  }

  /** Calls an exported function (`default`, `setup`, a scenario's exec…). */
  async call(name: string, argJson?: string, iter = 0): Promise<CallResult> {
    if (this.interrupted) this.rt?.removeInterruptHandler()
    this.interrupted = false
    // k6 resets each VU's cookie jar between iterations unless noCookiesReset.
    if (!this.host.options.noCookiesReset) this.client.jar.clear()
    this.loopFailed = false
    this.jobError = ''
    const r = await this.invoke(name, argJson, iter)
    try {
      if (r.error) {
        const text = this.errorText(r.error, 'call')
        this.loop.reset()
        return { kind: 'error', value: this.interrupted ? 'interrupted' : text }
      }
      let s = this.ctx.getString(r.value)
      r.value.dispose()
      // Promises, timers or async calls left: the call ends when the event loop is empty (k6).
      if (s === 'P' || (s[0] === 'R' && (!this.loop.idle() || this.rt!.hasPendingJob()))) {
        s = await this.settle('result')
        if (this.interrupted) return { kind: 'error', value: 'interrupted' }
      } else if (s[0] !== 'R') this.loop.reset()
      const kind = s[0] === 'R' ? 'ok' : s[0] === 'A' ? 'abort' : 'error'
      return { kind, value: s.slice(1) }
    } finally {
      this.html.endIteration()
      this.jars.endIteration()
      // noVUConnectionReuse: the next iteration opens new connections.
      if (this.host.options.noVUConnectionReuse) closeTransport(this.client.transport)
    }
  }

  /** Dedicates the VU to a scenario: its tags, and `__ENV` with the scenario's env on top. */
  assign(scenario: string, tags: Tags, env: Record<string, string>): void {
    this.scenario = scenario
    this.baseTags = tags
    this.iterationInScenario = -1
    if (Object.keys(env).length) this.evalGlobal(`Object.assign(__ENV, ${JSON.stringify(env)}); ''`, 'env')
  }

  /** Gives every VU the JSON result of setup(). */
  setSetupData(json: string): void {
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
    if (!this.interrupted) this.rt?.setInterruptHandler(() => true)
    this.interrupted = true
    if (this.sleepTimer) clearTimeout(this.sleepTimer)
    this.wake?.()
    this.wsWake?.()
    this.grpcClients?.interrupt()
    this.loop.interrupt()
  }

  close(): void {
    this.loop.reset()
    for (const s of this.sockets.values()) s.conn.destroy()
    this.sockets.clear()
    this.grpcClients?.closeAll()
    this.tick?.dispose()
    this.result?.dispose()
    closeClient(this.client)
  }
}
