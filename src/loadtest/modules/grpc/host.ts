/** The host functions of vm/grpc.js, installed into a VU: load (init), connect and invoke (the VM waits), invokeStart and streams (event loop). */
import type { QuickJSAsyncContext, QuickJSHandle } from 'quickjs-emscripten-core'
import type { EventLoop } from './eventloop.ts'
import type { GrpcClients } from './grpc.ts'

/** What of its VU the gRPC host functions use. */
export interface GrpcBridge {
  ctx: QuickJSAsyncContext
  loop: EventLoop
  /** The VU's clients, made on first use. */
  clients(): GrpcClients
  /** The VU's clients if any were made. */
  existing(): GrpcClients | null
  /** Whether the VU was interrupted (a call cut short must not hand the script a value). */
  interrupted(): boolean
  fn: (name: string, f: (...a: QuickJSHandle[]) => QuickJSHandle | undefined) => void
  asyncFn: (name: string, f: (...a: QuickJSHandle[]) => Promise<QuickJSHandle | { error: QuickJSHandle } | undefined>) => void
}

export function installGrpc(b: GrpcBridge): void {
  const { ctx, fn, asyncFn } = b
  const thrown = (e: unknown) => ({ error: ctx.newError((e as Error).message) })
  /** A synchronous call answering a string; what it throws is the script's exception. */
  const syncFn = (name: string, f: (...a: QuickJSHandle[]) => string) =>
    fn(name, (...a) => {
      try {
        return ctx.newString(f(...a))
      } catch (e) {
        return thrown(e) as unknown as QuickJSHandle
      }
    })
  syncFn('grpcLoad', (i, j) => {
    const { importPaths, files } = JSON.parse(ctx.getString(j)) as { importPaths: string[]; files: string[] }
    return b.clients().load(ctx.getNumber(i), importPaths, files)
  })
  syncFn('grpcLoadProtoset', (i, p) => b.clients().loadProtoset(ctx.getNumber(i), ctx.getString(p)))
  // A call cut short by interrupt() must not hand the script a value to go on with.
  asyncFn('grpcConnect', async (i, a, p) => {
    try {
      await b.clients().connect(ctx.getNumber(i), ctx.getString(a), JSON.parse(ctx.getString(p)) as Record<string, unknown>)
      return b.interrupted() ? thrown(new Error('interrupted')) : undefined
    } catch (e) {
      return thrown(b.interrupted() ? new Error('interrupted') : e)
    }
  })
  asyncFn('grpcInvoke', async (j) => {
    try {
      const r = await b.clients().invoke(JSON.parse(ctx.getString(j)))
      return b.interrupted() ? thrown(new Error('interrupted')) : ctx.newString(r)
    } catch (e) {
      return thrown(b.interrupted() ? new Error('interrupted') : e)
    }
  })
  fn('grpcInvokeStart', (id, j) => {
    b.loop.op(ctx.getNumber(id), b.clients().invoke(JSON.parse(ctx.getString(j))))
    return undefined
  })
  // new grpc.Stream(): an event-loop stream (vm/loop.js) fed by the host until 'end'.
  fn('grpcStreamStart', (id, j) => {
    const sid = ctx.getNumber(id)
    b.loop.stream(sid, () => b.existing()?.streamCancel(sid))
    try {
      b.clients().openStream(sid, JSON.parse(ctx.getString(j)), (kind, payload) => {
        b.loop.push(sid, true, `${kind} ${payload}`)
        if (kind === 'end') b.loop.end(sid)
      })
    } catch (e) {
      b.loop.cancel(sid)
      return thrown(e) as unknown as QuickJSHandle
    }
    return undefined
  })
  syncFn('grpcStreamWrite', (id, j) => {
    b.clients().streamWrite(ctx.getNumber(id), ctx.getString(j))
    return ''
  })
  fn('grpcStreamEnd', (id) => {
    b.existing()?.streamEnd(ctx.getNumber(id))
    return undefined
  })
  fn('grpcClose', (i) => {
    b.existing()?.close(ctx.getNumber(i))
    return undefined
  })
}
