/** The host functions of grpc.js, installed into a VU: load (init), connect and invoke (the VM waits), invokeStart and streams (event loop). */
import type { HostBinder } from '../../engine/host-api.ts'
import type { EventLoop } from '../../engine/eventloop.ts'
import type { GrpcClients } from './grpc.ts'
import { CODES } from './proto.ts'

/** What of its VU the gRPC host functions use. */
export interface GrpcBridge {
  loop: EventLoop
  /** The VU's clients, made on first use. */
  clients(): GrpcClients
  /** The VU's clients if any were made. */
  existing(): GrpcClients | null
  /** Whether the VU was interrupted (a call cut short must not hand the script a value). */
  interrupted(): boolean
}

export function installGrpc(b: HostBinder, g: GrpcBridge): void {
  b.def('grpcStatusNames', [], () => JSON.stringify(CODES))
  b.def('grpcLoad', ['n', 's'], (i, j) => {
    const { importPaths, files } = JSON.parse(j) as { importPaths: string[]; files: string[] }
    return g.clients().load(i, importPaths, files)
  })
  b.def('grpcLoadProtoset', ['n', 's'], (i, p) => g.clients().loadProtoset(i, p))
  /** A call cut short by interrupt() must not hand the script a value to go on with. */
  const unlessInterrupted = async <T>(p: () => Promise<T>): Promise<T> => {
    let r: T
    try {
      r = await p()
    } catch (e) {
      throw g.interrupted() ? new Error('interrupted') : e
    }
    if (g.interrupted()) throw new Error('interrupted')
    return r
  }
  b.defAsync('grpcConnect', ['n', 's', 's'], (i, a, p) =>
    unlessInterrupted(() => g.clients().connect(i, a, JSON.parse(p) as Record<string, unknown>)),
  )
  b.defAsync('grpcInvoke', ['s'], (j) => unlessInterrupted(() => g.clients().invoke(JSON.parse(j))))
  b.def('grpcInvokeStart', ['n', 's'], (id, j) => g.loop.op(id, g.clients().invoke(JSON.parse(j))))
  // new grpc.Stream(): an event-loop stream (engine/loop.js) fed by the host until 'end'.
  b.def('grpcStreamStart', ['n', 's'], (sid, j) => {
    g.loop.stream(sid, () => g.existing()?.streamCancel(sid))
    try {
      g.clients().openStream(sid, JSON.parse(j), (kind, payload) => {
        g.loop.push(sid, true, `${kind} ${payload}`)
        if (kind === 'end') g.loop.end(sid)
      })
    } catch (e) {
      g.loop.cancel(sid)
      throw e
    }
  })
  b.def('grpcStreamWrite', ['n', 's'], (id, j) => {
    g.clients().streamWrite(id, j)
    return ''
  })
  b.def('grpcStreamEnd', ['n'], (id) => g.existing()?.streamEnd(id))
  b.def('grpcClose', ['n'], (i) => g.existing()?.close(i))
}
