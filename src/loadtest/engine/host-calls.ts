/**
 * A shorter path for the VM's calls of Kiln's host functions (`__kh.*`). quickjs-emscripten runs
 * every call through a generator (Scope.withScopeMaybeAsync), wraps `this` and each argument in a
 * Lifetime, copies the result once more, and records each suspension as an Error; a worker's
 * profile of `http.get(url)` iterations put ~10% of its busy time there, for one call per request.
 * Here the module's C → JS entry reads the arguments straight from the WASM heap by their declared
 * kind and hands the result back as a new JSValue, suspending through asyncify's handleSleep as
 * quickjs-emscripten does. Functions without a descriptor (the library's own, or ones taking
 * booleans) still go the library's way, and so does a VM whose module was not set up here.
 */
import type { QuickJSAsyncContext, QuickJSHandle } from 'quickjs-emscripten-core'

/** How a host function wants its arguments and whether it returns a promise. */
export interface LeanCall {
  kinds: readonly ('s' | 'n')[]
  f: (...a: (string | number)[]) => unknown
  async: boolean
}

/** The descriptor's key on the function registered with newFunction (which stays the fallback). */
export const LEAN = Symbol('kiln.leanCall')

type Ptr = number
// Through globalThis: this file is also checked with the VM's types (modules/tsconfig.json), which have no TextEncoder.
type Utf8Encoder = { encodeInto(s: string, into: Uint8Array): { read: number; written: number } }
const utf8 = new (globalThis as unknown as { TextEncoder: new () => Utf8Encoder }).TextEncoder()
type Sleep = (start: (done: (v: Ptr) => void) => void) => Ptr
type CallFunction = (asyncify: { handleSleep: Sleep } | undefined, ctx: Ptr, self: Ptr, argc: number, argv: Ptr, fnId: number) => Ptr

interface Internals {
  ctx: { value: Ptr }
  module: {
    callbacks: { callFunction: CallFunction }
    UTF8ToString(p: Ptr): string
    lengthBytesUTF8(s: string): number
    _malloc(n: number): Ptr
    _free(p: Ptr): void
    HEAPU8: Uint8Array
  }
  ffi: {
    QTS_ArgvGetJSValueConstPointer(argv: Ptr, i: number): Ptr
    QTS_GetString(ctx: Ptr, v: Ptr): Ptr
    QTS_FreeCString(ctx: Ptr, p: Ptr): void
    QTS_GetFloat64(ctx: Ptr, v: Ptr): number
    QTS_NewString(ctx: Ptr, p: Ptr): Ptr
    QTS_NewFloat64(ctx: Ptr, n: number): Ptr
    QTS_DupValuePointer(ctx: Ptr, v: Ptr): Ptr
    QTS_Throw(ctx: Ptr, v: Ptr): Ptr
  }
  runtime: { hostRefs: { get(id: number): unknown } }
}

/**
 * Takes over the C → JS calls of `vm`'s module (one module per VU, see engine.ts) for functions
 * carrying a LEAN descriptor.
 */
export function installLeanCalls(vm: QuickJSAsyncContext): void {
  const c = vm as unknown as Internals
  const { module: m, ffi, runtime } = c
  const ctx = c.ctx.value
  const fallback = m.callbacks.callFunction
  const truePtr = (vm.true as QuickJSHandle).value as unknown as Ptr
  const falsePtr = (vm.false as QuickJSHandle).value as unknown as Ptr

  const readArgs = (d: LeanCall, argc: number, argv: Ptr): (string | number)[] => {
    // A missing argument failed the library's reading of it too.
    if (argc < d.kinds.length) throw new TypeError(`a host function taking ${d.kinds.length} arguments was given ${argc}`)
    const out = new Array<string | number>(d.kinds.length)
    for (let i = 0; i < d.kinds.length; i++) {
      const p = ffi.QTS_ArgvGetJSValueConstPointer(argv, i)
      if (d.kinds[i] === 'n') out[i] = ffi.QTS_GetFloat64(ctx, p)
      else {
        const cs = ffi.QTS_GetString(ctx, p)
        out[i] = m.UTF8ToString(cs)
        ffi.QTS_FreeCString(ctx, cs)
      }
    }
    return out
  }
  /** A new JSValue for the result (the C side takes it over), 0 for undefined. */
  const toValue = (v: unknown): Ptr => {
    if (typeof v === 'string') {
      // Encoded natively into the heap (a Response is one string of ~0.3–1 KB): emscripten's
      // stringToUTF8 walks it a character at a time in JS. Room for the worst case (3 bytes a
      // UTF-16 unit) when that is small, else the exact length.
      const n = v.length < 65536 ? 3 * v.length + 1 : m.lengthBytesUTF8(v) + 1
      const p = m._malloc(n)
      const { written } = utf8.encodeInto(v, m.HEAPU8.subarray(p, p + n - 1))
      m.HEAPU8[p + written] = 0
      try {
        return ffi.QTS_NewString(ctx, p)
      } finally {
        m._free(p)
      }
    }
    if (typeof v === 'number') return ffi.QTS_NewFloat64(ctx, v)
    if (typeof v === 'boolean') return ffi.QTS_DupValuePointer(ctx, v ? truePtr : falsePtr)
    return 0
  }
  /** Raises `e` in the VM: the pointer the call returns. */
  const toThrow = (e: unknown): Ptr => {
    const h = vm.newError(e instanceof Error ? e.message : String(e))
    try {
      return ffi.QTS_Throw(ctx, h.value as unknown as Ptr)
    } finally {
      h.dispose()
    }
  }

  m.callbacks.callFunction = (asyncify, ctxPtr, self, argc, argv, fnId) => {
    const d = ctxPtr === ctx ? ((runtime.hostRefs.get(fnId) as { [LEAN]?: LeanCall })[LEAN] ?? null) : null
    if (d === null) return fallback(asyncify, ctxPtr, self, argc, argv, fnId)
    if (!d.async || asyncify === undefined) {
      try {
        return toValue(d.f(...readArgs(d, argc, argv)))
      } catch (e) {
        return toThrow(e)
      }
    }
    // The first pass starts the call and unwinds the VM; asyncify calls this again to rewind, and
    // handleSleep then returns what `done` was given without calling the start function.
    return asyncify.handleSleep((done) => {
      let p: Promise<unknown>
      try {
        p = d.f(...readArgs(d, argc, argv)) as Promise<unknown>
      } catch (e) {
        done(toThrow(e))
        return
      }
      p.then(
        (v) => done(toValue(v)),
        (e: unknown) => done(toThrow(e)),
      )
    })
  }
}
