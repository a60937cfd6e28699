/**
 * The JS engine of a VU: QuickJS compiled to WebAssembly with asyncify (quickjs-emscripten), and
 * the asyncify-aware calls into it that quickjs-emscripten does not offer. vu.ts builds a VU on
 * these and the modules' VM sources (../modules/index.ts).
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import {
  QuickJSAsyncWASMModule,
  newVariant,
  type QuickJSAsyncContext,
  type QuickJSAsyncRuntime,
  type QuickJSAsyncVariant,
  type QuickJSHandle,
} from 'quickjs-emscripten-core'
import baseVariant from '@jitl/quickjs-wasmfile-release-asyncify'

// Compiling the 1 MB engine once and instantiating it per VU keeps VU start-up to a few ms.
let compiled: Promise<WebAssembly.Module> | null = null
let compiledModule: WebAssembly.Module | undefined
let variantPromise: Promise<QuickJSAsyncVariant> | null = null

/** The engine's compiled WebAssembly module: compiled here once, or the one given by useEngineModule. */
export function engineModule(): Promise<WebAssembly.Module> {
  compiled ??= (async () => {
    const pkg = createRequire(import.meta.url).resolve('@jitl/quickjs-wasmfile-release-asyncify/package.json')
    let bytes: Buffer = readFileSync(join(dirname(pkg), 'dist', 'emscripten-module.wasm'))
    // A second copy after tierUp(): an empty custom section ("kiln") makes other bytes, so V8
    // compiles them anew instead of sharing the first copy's code, compiled without tier-up.
    if (copies > 0) bytes = Buffer.concat([bytes, Buffer.from([0, 5, 4, 0x6b, 0x69, 0x6c, 0x6e])])
    return (compiledModule = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>))
  })()
  return compiled
}

/**
 * V8 tiers the engine's hot WASM functions up from its baseline compiler (Liftoff) to TurboFan as
 * they run: a CPU-bound script ran 473 against 372 iterations/s for it. But that is ~3 s of
 * background CPU in a run's first seconds (JS_CallInternal alone 0.4–0.6 s), begun during the
 * script's init, and a process cannot exit while a compile is under way: a one-iteration
 * `kiln run` spent 0.3–0.5 s of its ~1 s waiting at exit for one. So `kiln run` holds tier-up back
 * (V8's per-function budget, counted down as a function runs, set out of reach: Liftoff code takes
 * the budget it is compiled with) until it knows the run, and a run of more than a few iterations
 * calls tierUp() before its VUs start. Process-wide V8 flags, set before any WASM is compiled.
 */
const HELD_BUDGET = 2_000_000_000
// V8 11.3's default (`node --v8-options`: --wasm-tiering-budget).
const DEFAULT_BUDGET = 1_800_000
let held = false
let copies = 0

export function holdTierUp(): void {
  if (held || compiled) return
  setFlagsFromString(`--wasm-tiering-budget=${HELD_BUDGET}`)
  held = true
}

/**
 * Lets V8 tier the engine up again, for the VUs made from here on: they run a second copy of the
 * module, compiled with the usual budget (VUs made before, the init one among them, keep the
 * first). A no-op unless holdTierUp() held it.
 */
export async function tierUp(): Promise<void> {
  if (!held) return
  held = false
  setFlagsFromString(`--wasm-tiering-budget=${DEFAULT_BUDGET}`)
  copies++
  compiled = null
  compiledModule = undefined
  variantPromise = null
  partsPromise = null
  await engineModule()
}

/** The module if this thread has compiled (or was given) it: a worker thread is handed it (run/pool.ts). */
export function compiledEngine(): WebAssembly.Module | undefined {
  return compiledModule
}

/**
 * Uses a module compiled by another thread of this process: a Module posted to a worker is not
 * compiled again, and the threads run one copy of its code, the functions V8 optimised included
 * (a VU's first second runs ~2× the CPU an iteration while they are optimised). Whether V8 already
 * shared the code of threads compiling the same bytes themselves was not measured apart.
 */
export function useEngineModule(m: WebAssembly.Module): void {
  if (compiled) return
  compiledModule = m
  compiled = Promise.resolve(m)
}

function variant(): Promise<QuickJSAsyncVariant> {
  variantPromise ??= (async () => {
    const wasm = await engineModule()
    // The package's default export is the variant; under CommonJS interop it may sit in `.default`.
    const v = ((baseVariant as unknown as { default?: QuickJSAsyncVariant }).default ?? baseVariant) as unknown as QuickJSAsyncVariant
    return newVariant(v, { wasmModule: wasm }) as QuickJSAsyncVariant
  })()
  return variantPromise
}

type EmscriptenLoader = () => Promise<{ type?: string }>
type FFIClass = new (m: unknown) => unknown
/** A module namespace's default export, through CommonJS interop's extra `default` levels. */
function unwrap(m: unknown): unknown {
  while (m && typeof m === 'object' && 'default' in m) m = (m as { default: unknown }).default
  return m
}
let partsPromise: Promise<[EmscriptenLoader, FFIClass]> | null = null

/**
 * A new WASM instance of the engine. newQuickJSAsyncWASMModuleFromVariant does three dynamic
 * import() calls per instance; under tsx each goes through the module-hooks thread and back
 * (29 ms of a VU's start-up, most of it waiting). Here they happen once per thread.
 */
export async function newEngine(): Promise<QuickJSAsyncWASMModule> {
  partsPromise ??= variant().then((v) =>
    Promise.all([v.importModuleLoader().then((l) => unwrap(l) as EmscriptenLoader), v.importFFI().then((f) => unwrap(f) as FFIClass)]),
  )
  const [loader, FFI] = await partsPromise
  const em = await loader()
  em.type = 'async'
  return new QuickJSAsyncWASMModule(em as never, new FFI(em) as never)
}

/**
 * quickjs-emscripten records every suspension as an Error (kept for its "already suspended"
 * message), built right after the host function hands back its promise. Capturing that Error's
 * stack through the deep WASM frames cost about half of a suspension (`kiln run` of 10 `sleep(0)`
 * per iteration: 1.8–2.4k → 4.6–5.4k iterations/s without it), so no stack is captured from here
 * until the current job ends. Nested uses (several VUs resuming in one job) restore once.
 */
let quietDepth = 0
let savedLimit = 0
export function withoutSuspendStack<T>(p: T): T {
  if (quietDepth++ === 0) {
    savedLimit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
  }
  queueMicrotask(() => {
    if (--quietDepth === 0) Error.stackTraceLimit = savedLimit
  })
  return p
}

/**
 * The asyncify-aware entry points of a VU's WASM module. quickjs-emscripten's `…_MaybeAsync` FFI
 * functions for these take numbers only, and emscripten's cwrap then returns the bare export,
 * which does not wait when the VM suspends; `{ async: true }` gives the wrapper that does.
 */
export interface AsyncEntryPoints {
  runJob(rt: number, n: number, out: number): Promise<number>
  call(ctx: number, fn: number, self: number, argc: number, argv: number): Promise<number>
}

export function asyncEntryPoints(rt: QuickJSAsyncRuntime): AsyncEntryPoints {
  const m = (
    rt as unknown as {
      module: { cwrap(name: string, ret: string, args: string[], opts: { async: boolean }): (...a: number[]) => Promise<number> }
    }
  ).module
  return {
    runJob: m.cwrap('QTS_ExecutePendingJob', 'number', ['number', 'number', 'number'], { async: true }),
    call: m.cwrap('QTS_Call', 'number', ['number', 'number', 'number', 'number', 'number'], { async: true }),
  }
}

export type CallOutcome = { error: QuickJSHandle; value?: undefined } | { error?: undefined; value: QuickJSHandle }

/**
 * Calls `fn(...args)` (`this` undefined) so that host functions inside it may suspend the VM.
 * Calling a function this way instead of evalCodeAsync of a snippet saves compiling the snippet
 * each time and gives asyncify a shallower stack to save at each suspension (−12% CPU per request
 * of a plain http.get iteration). The handles in `args` stay the caller's.
 */
export async function callAsync(
  ctx: QuickJSAsyncContext,
  entries: AsyncEntryPoints,
  fn: QuickJSHandle,
  args: QuickJSHandle[] = [],
): Promise<CallOutcome> {
  const c = ctx as unknown as {
    ffi: { QTS_ResolveException(ctx: number, p: number): number; QTS_FreeValuePointer(ctx: number, p: number): void }
    ctx: { value: number }
    memory: { heapValueHandle(p: number): QuickJSHandle }
    module: { _malloc(n: number): number; _free(p: number): void; HEAPU8: Uint8Array }
  }
  // QTS_Call takes the arguments as an array of JSValue pointers (the handles' values).
  const argv = args.length ? c.module._malloc(4 * args.length) : 0
  if (argv) new Int32Array(c.module.HEAPU8.buffer, argv, args.length).set(args.map((h) => h.value as unknown as number))
  let res: number
  try {
    res = await entries.call(c.ctx.value, fn.value as unknown as number, ctx.undefined.value as unknown as number, args.length, argv)
  } finally {
    if (argv) c.module._free(argv)
  }
  const err = c.ffi.QTS_ResolveException(c.ctx.value, res)
  if (err) {
    c.ffi.QTS_FreeValuePointer(c.ctx.value, res)
    return { error: c.memory.heapValueHandle(err) }
  }
  return { value: c.memory.heapValueHandle(res) }
}
