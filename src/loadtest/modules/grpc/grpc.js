// Runs inside each VU's QuickJS runtime (evaluated on first import): `k6/net/grpc`, unary calls.
// The .proto files, the connection and the call live on the host (grpc.ts); a Client
// here is an id. invoke() waits (the VM suspends), asyncInvoke() settles through the event loop.
;(function () {
  const H = globalThis.__kh
  const U = globalThis.__k6util
  const L = globalThis.__k6loop
  const state = globalThis.__k6state
  const ID = Symbol('kiln.grpc.client')
  let nextClient = 1

  /** What the host needs for a call; `request` undefined for a stream. */
  function callSpec(client, method, request, params, stream) {
    if (typeof method !== 'string' || method === '') throw new Error('method to invoke cannot be empty')
    if (!stream && (request === undefined || request === null)) throw new Error('request cannot be nil')
    const metadata = {}
    let tags = U.toTags()
    let timeout = null
    let discard = false
    for (const k of Object.keys(params || {})) {
      const v = params[k]
      if (k === 'metadata' || k === 'headers') {
        if (!v || typeof v !== 'object')
          throw new Error('invalid grpc.invoke() parameters: metadata must be an object with key-value pairs')
        for (const mk of Object.keys(v)) {
          if (typeof v[mk] !== 'string') throw new Error(`invalid grpc.invoke() parameters: metadata "${mk}" value must be a string`)
          metadata[mk] = v[mk]
        }
      } else if (k === 'tags') tags = U.toTags(v)
      else if (k === 'timeout') timeout = v
      else if (k === 'discardResponseMessage') discard = !!v
      else if (k === 'authority') continue
      else throw new Error(`invalid grpc.invoke() parameters: unknown param: "${k}"`)
    }
    return JSON.stringify({
      client: client[ID],
      method,
      message: stream ? undefined : JSON.stringify(request),
      metadata,
      tags,
      timeout,
      discard,
    })
  }
  function invokeSpec(client, method, request, params) {
    if (state.inInit) throw new Error('invoking RPC methods in the init context is not supported')
    return callSpec(client, method, request, params, false)
  }

  class Client {
    constructor() {
      this[ID] = nextClient++
    }
    load(importPaths, ...protoFiles) {
      if (!state.inInit) throw new Error('load must be called in the init context')
      const paths = importPaths === undefined || importPaths === null ? [] : Array.from(importPaths, String)
      return JSON.parse(H.grpcLoad(this[ID], JSON.stringify({ importPaths: paths, files: protoFiles.map(String) })))
    }
    loadProtoset(path) {
      if (!state.inInit) throw new Error('load must be called in the init context')
      return JSON.parse(H.grpcLoadProtoset(this[ID], String(path)))
    }
    connect(address, params) {
      if (state.inInit) throw new Error('connecting to a gRPC server in the init context is not supported')
      H.grpcConnect(this[ID], String(address), JSON.stringify(params || {}))
      return true
    }
    invoke(method, request, params) {
      return JSON.parse(H.grpcInvoke(invokeSpec(this, method, request, params)))
    }
    asyncInvoke(method, request, params) {
      let spec
      try {
        spec = invokeSpec(this, method, request, params)
      } catch (e) {
        return Promise.reject(e)
      }
      return L.op((id) => H.grpcInvokeStart(id, spec), JSON.parse)
    }
    healthCheck(service) {
      return this.invoke('/grpc.health.v1.Health/Check', { service: service === undefined || service === null ? '' : String(service) })
    }
    close() {
      H.grpcClose(this[ID])
    }
  }
  /** A streaming RPC on the VU's event loop: the iteration goes on until the stream ends. */
  class Stream {
    constructor(client, method, params) {
      if (!(client instanceof Client)) throw new Error('new grpc.Stream() needs a grpc.Client as its first argument')
      if (state.inInit) throw new Error('creating a gRPC stream in the init context is not supported')
      const spec = callSpec(client, method, undefined, params, true)
      this._on = { data: [], error: [], end: [] }
      let id = 0
      try {
        this._id = L.stream(
          (_ok, ev) => this._event(ev),
          (sid) => {
            id = sid
            H.grpcStreamStart(sid, spec)
          },
        )
      } catch (e) {
        if (id) L.drop(id)
        throw e
      }
    }
    on(event, handler) {
      if (!this._on[event]) throw new Error(`unknown stream event "${event}" (a gRPC stream has data, error and end)`)
      if (typeof handler !== 'function') throw new TypeError('stream.on() needs a function')
      this._on[event].push(handler)
    }
    write(message) {
      if (message === undefined || message === null) throw new Error('stream.write() needs a message')
      H.grpcStreamWrite(this._id, JSON.stringify(message))
    }
    end() {
      H.grpcStreamEnd(this._id)
    }
    _event(ev) {
      const i = ev.indexOf(' ')
      const kind = ev.slice(0, i)
      const payload = ev.slice(i + 1)
      if (kind === 'data') {
        const j = payload.indexOf(' ')
        const meta = { ts: Number(payload.slice(0, j)) }
        const msg = JSON.parse(payload.slice(j + 1))
        for (const h of this._on.data) h.call(this, msg, meta)
      } else if (kind === 'error') {
        const e = JSON.parse(payload)
        for (const h of this._on.error) h.call(this, e)
      } else if (kind === 'end') {
        L.drop(this._id)
        for (const h of this._on.end) h.call(this)
      }
    }
  }

  const grpc = { Client, Stream }
  // gRPC's status names in code order, from the host's one list (proto.ts).
  const names = JSON.parse(H.grpcStatusNames())
  names.forEach((n, i) => (grpc['Status' + n] = i))
  Object.assign(grpc, {
    HealthCheckUnknown: 'UNKNOWN',
    HealthCheckServing: 'SERVING',
    HealthCheckNotServing: 'NOT_SERVING',
    HealthCheckServiceUnkown: 'SERVICE_UNKNOWN',
  })
  // This file is evaluated on first use: replace the loading getter (vu.ts).
  Object.defineProperty(globalThis.__k6mods, 'k6/net/grpc', {
    value: Object.assign({ default: grpc }, grpc),
    enumerable: true,
    writable: true,
    configurable: true,
  })
})()
