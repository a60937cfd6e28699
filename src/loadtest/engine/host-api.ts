/**
 * The host functions a VU's JS calls as `__kh.name(…)`: the one contract between the in-VM JS
 * (`modules/<module>/*.js`, type-checked against `HostApi` through JSDoc, see
 * ../modules/tsconfig.json) and the host side (each module's `host.ts`, which binds its part with
 * `bind()` and so is checked against the same signatures). Only strings, numbers and booleans
 * cross; structured values travel as JSON strings. A host function that throws raises that
 * error in the VM. Async ones suspend the VM (asyncify) until their promise settles.
 */
import type { QuickJSAsyncContext, QuickJSHandle } from 'quickjs-emscripten-core'
import { LEAN, type LeanCall } from './host-calls.ts'

export interface HostApi {
  // k6, k6/metrics, k6/execution, k6/data, globals (modules/k6)
  now(): number
  /** A sample of a metric; `tagsJson` is the script's tags, merged over the VU's. */
  emit(metric: string, value: number, tagsJson: string): void
  /** A sample tagged with the VU's tags and `group` only (metric.add without tags, group_duration). */
  sample(metric: string, value: number, group: string): void
  /** A `checks` sample of check() called without tags: 1 passed, 0 failed; tagged with the VU's tags, the group and the check's name. */
  check(name: string, passed: number, group: string): void
  /** Registers a custom metric: '' or the error for the script. */
  metric(name: string, type: string, isTime: boolean): string
  log(level: string, message: string): void
  /** open(): the file's text, or base64 when `binary`. */
  open(path: string, binary: boolean): string
  /** k6/execution's state as JSON. */
  exec(): string
  abort(message: string): void
  markFailed(message: string): void
  /** A SharedArray's JSON ('' when not built yet). */
  shared(name: string): string
  setShared(name: string, json: string): void
  /** A k6/secrets value: `[source|null, key]` as JSON. */
  secret(json: string): string
  /** Evaluates a lazy module's JS in the VM (its loading getter's first read). */
  lazyModule(name: string): void
  sleep(ms: number): Promise<void>
  // the event loop (engine/loop.js)
  timer(id: number, ms: number): void
  cancel(id: number): void
  /** The next event as 'id ok payload', or ''. */
  nextEvent(): string
  loopFailed(): void
  /** A promise was rejected with no handler: the host asks `__k6loop.unhandled()` once the jobs have run. */
  rejection(): void
  // k6/http (modules/http)
  throwOnError(): boolean
  /** A request spec as JSON; the encoded Response. */
  request(specJson: string): Promise<string>
  /** `http.get(url)` without params. */
  requestPlain(method: string, url: string, group: string): Promise<string>
  /** Specs as a JSON array; the encoded Responses as a JSON array. */
  batch(specsJson: string): Promise<string>
  requestStart(id: number, specJson: string): void
  requestPlainStart(id: number, method: string, url: string, group: string): void
  /** A cookie jar operation, `[op, id, url, …]` as JSON. */
  jar(json: string): string
  // k6/html (modules/html)
  htmlParse(src: string, url: string): number
  htmlMethods(): string
  html(json: string): string
  // k6/crypto, crypto.getRandomValues (modules/crypto)
  /** base64 digest, or '!' and why. */
  hash(alg: string, keyB64: string, hasKey: boolean, dataB64: string): string
  random(n: number): string
  // crypto.subtle (modules/webcrypto)
  subtle(id: number, op: string, argsJson: string): void
  keyFree(ids: string): void
  // k6/experimental/csv (modules/fs)
  csv(json: string): string
  // k6/ws and k6/websockets (modules/ws)
  wsConnect(id: number, specJson: string): Promise<string>
  wsWait(id: number, ms: number): Promise<string>
  wsStart(id: number, specJson: string): void
  wsSend(id: number, data: string, binary: boolean): void
  wsPing(id: number): void
  wsClose(id: number, code: number, reason: string): void
  wsDone(id: number): void
  // k6/net/grpc (modules/grpc)
  grpcStatusNames(): string
  grpcLoad(id: number, json: string): string
  grpcLoadProtoset(id: number, path: string): string
  grpcConnect(id: number, address: string, paramsJson: string): Promise<void>
  grpcInvoke(specJson: string): Promise<string>
  grpcInvokeStart(id: number, specJson: string): void
  grpcStreamStart(id: number, specJson: string): void
  grpcStreamWrite(id: number, json: string): string
  grpcStreamEnd(id: number): void
  grpcClose(id: number): void
  // k6/experimental/redis (modules/redis)
  /** A client's spec as JSON (URL or options); throws on a bad one. */
  redisClient(id: number, specJson: string): void
  /** Starts event-loop operation `op`: a command `[name, ...args]` as JSON; settles with the reply as JSON. */
  redisCommand(op: number, id: number, argsJson: string): void
  // k6/browser (modules/browser)
  /** k6's device descriptors for `names` (JSON array), as JSON. */
  browserDevices(namesJson: string): string
  /**
   * Starts event-loop operation `op`: `method` of browser object `ref` (0: k6's browser) with
   * `argsJson`; settles with the encoded result. `group`: the k6 group, the tag of the samples it causes.
   */
  browserCall(op: number, ref: number, method: string, argsJson: string, group: string): void
  /** A method that answers at once (url(), locator(), keyboard…): the encoded result. */
  browserSync(ref: number, method: string, argsJson: string, group: string): string
  /** Delivers object `ref`'s `event`s (page.on) to stream `id` until the iteration ends. */
  browserOn(id: number, ref: number, event: string): void
  /** page.route: requests matching `urlJson` go to stream `id` as Routes; operation `op` settles once the route is set. */
  browserRoute(op: number, id: number, ref: number, urlJson: string): void
  /** page.on('metric'): the tag() calls (JSON rules) the handlers made for sample `seq`. */
  browserMetricTagged(seq: number, rulesJson: string): void
  // k6/x/kiln (modules/kiln)
  /** A report of handleSummary's data: kind junit or markdown, options as JSON. */
  report(kind: string, dataJson: string, optsJson: string): string
}

type Scalar = string | number | boolean | void
type Kind<T> = T extends string ? 's' : T extends number ? 'n' : T extends boolean ? 'b' : never
type Kinds<P extends unknown[]> = { [I in keyof P]: Kind<P[I]> }
type Sync<K extends keyof HostApi> = ReturnType<HostApi[K]> extends Promise<unknown> ? never : K
type Async<K extends keyof HostApi> = ReturnType<HostApi[K]> extends Promise<unknown> ? K : never

/** Binds host functions into `__kh`, each checked against its HostApi signature. */
export interface HostBinder {
  def<K extends keyof HostApi>(name: Sync<K>, kinds: Kinds<Parameters<HostApi[K]>>, f: HostApi[K]): void
  defAsync<K extends keyof HostApi>(name: Async<K>, kinds: Kinds<Parameters<HostApi[K]>>, f: HostApi[K]): void
}

type RawFn = (...a: QuickJSHandle[]) => QuickJSHandle | undefined
type RawAsyncFn = (...a: QuickJSHandle[]) => Promise<QuickJSHandle | { error: QuickJSHandle } | undefined>

/**
 * A binder over the VU's raw `newFunction` / `newAsyncifiedFunction` installers. The argument
 * kinds are given at run time too: reading a handle by its declared kind (getString/getNumber)
 * costs one FFI call, where asking QuickJS for each value's type first would cost two.
 */
export function hostBinder(
  ctx: QuickJSAsyncContext,
  raw: (name: string, f: RawFn) => void,
  rawAsync: (name: string, f: RawAsyncFn) => void,
): HostBinder {
  const read = (kinds: readonly string[], a: QuickJSHandle[]): Scalar[] =>
    kinds.map((k, i) => (k === 's' ? ctx.getString(a[i]!) : k === 'n' ? ctx.getNumber(a[i]!) : ctx.dump(a[i]!) === true))
  const out = (v: unknown): QuickJSHandle | undefined =>
    typeof v === 'string'
      ? ctx.newString(v)
      : typeof v === 'number'
        ? ctx.newNumber(v)
        : typeof v === 'boolean'
          ? v
            ? ctx.true
            : ctx.false
          : undefined
  const fail = (e: unknown) => ({ error: ctx.newError(e instanceof Error ? e.message : String(e)) })
  /** host-calls.ts's shorter path, for functions whose arguments are strings and numbers only. */
  const lean = <F extends object>(fn: F, kinds: readonly string[], f: unknown, async: boolean): F => {
    if (kinds.every((k) => k === 's' || k === 'n'))
      (fn as { [LEAN]?: LeanCall })[LEAN] = { kinds: kinds as LeanCall['kinds'], f: f as LeanCall['f'], async }
    return fn
  }
  return {
    def(name, kinds, f) {
      const g = f as (...a: Scalar[]) => Scalar
      const fn: RawFn = (...a) => {
        try {
          return out(g(...read(kinds as readonly string[], a)))
        } catch (e) {
          return fail(e) as unknown as QuickJSHandle
        }
      }
      raw(name, lean(fn, kinds as readonly string[], f, false))
    },
    defAsync(name, kinds, f) {
      const g = f as (...a: Scalar[]) => Promise<Scalar>
      const fn: RawAsyncFn = async (...a) => {
        try {
          return out(await g(...read(kinds as readonly string[], a)))
        } catch (e) {
          return fail(e)
        }
      }
      rawAsync(name, lean(fn, kinds as readonly string[], f, true))
    },
  }
}
