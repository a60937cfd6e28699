/**
 * The host side of `k6/net/grpc` (unary calls and streams): .proto files parsed by protobufjs (once
 * per thread and set of files), or a protoset, or the server's reflection service; messages as
 * ProtoJSON (protobufjs's ext/protojson, with unpopulated fields filled in as k6's protojson
 * `EmitUnpopulated` does); gRPC over Node's http2: 5-byte length-prefixed messages,
 * `te: trailers`, `grpc-timeout`, the status in `grpc-status` / `grpc-message`. k6's
 * `grpc_req_duration` (tags name, method, service, status, url), `grpc_streams*`, and
 * data_sent / data_received from the connection's byte counters.
 */
import http2 from 'node:http2'
import net from 'node:net'
import tls from 'node:tls'
import { performance } from 'node:perf_hooks'
import { isAbsolute, join } from 'node:path'
import zlib from 'node:zlib'
import protobuf from 'protobufjs'
import protojson from 'protobufjs/ext/protojson.js'
import descriptor from 'protobufjs/ext/descriptor.js' // also adds Root.fromDescriptor
import type { Tags } from './metrics.ts'
import { parseDuration } from './duration.ts'
import { netRules, type NetOptions, type NetRules } from './netrules.ts'
import { checkedLookup } from './transport.ts'

/** gRPC status codes by k6's constant names (`grpc.StatusOK` …). */
const CODES = ['OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied', 'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable', 'DataLoss', 'Unauthenticated'] as const
const S = Object.fromEntries(CODES.map((n, i) => [n, i])) as Record<(typeof CODES)[number], number>

interface MethodDef {
  request: protobuf.Type
  response: protobuf.Type
  stream: boolean
}
type Methods = Map<string, MethodDef>

/** Parsed sets of .proto files on this thread, by import paths + files: VUs on a thread share them. */
const loaded = new Map<string, Methods>()

const HEALTH_PROTO = `syntax = "proto3"; package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse { enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; } ServingStatus status = 1; }
service Health { rpc Check(HealthCheckRequest) returns (HealthCheckResponse); }`
const HEALTH_CHECK = '/grpc.health.v1.Health/Check'
let healthMethods: Methods | null = null

function methodsOf(root: protobuf.Root): Methods {
  root.resolveAll()
  const out: Methods = new Map()
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const o of ns.nestedArray) {
      if (o instanceof protobuf.Service) {
        for (const m of o.methodsArray) {
          m.resolve()
          out.set(`/${o.fullName.slice(1)}/${m.name}`, { request: m.resolvedRequestType!, response: m.resolvedResponseType!, stream: !!(m.requestStream || m.responseStream) })
        }
      }
      if (o instanceof protobuf.Namespace) walk(o)
    }
  }
  walk(root)
  return out
}

/**
 * `client.load(importPaths, ...files)`: each file (and each file it imports) is looked up in the
 * import paths (the script's folder when there are none; relative ones against it, as `read` does);
 * google/protobuf/*.proto come with protobufjs. Throws with the file and line of a parse error.
 */
export function loadProtos(read: (path: string) => Buffer, importPaths: string[], files: string[]): Methods {
  const key = JSON.stringify([importPaths, files])
  const known = loaded.get(key)
  if (known) return known
  const paths = importPaths.length ? importPaths : ['.']
  const root = new protobuf.Root()
  const seen = new Set<string>()
  const find = (name: string): [string, Buffer] => {
    const tried: string[] = []
    for (const p of isAbsolute(name) ? [''] : paths) {
      const full = p ? join(p, name) : name
      try {
        return [full, read(full)]
      } catch (e) {
        tried.push((e as Error).message)
      }
    }
    throw new Error(`${name}: cannot find the file in the import paths [${paths.join(', ')}] (${tried.join('; ')})`)
  }
  const add = (name: string): void => {
    if (seen.has(name)) return
    seen.add(name)
    const common = protobuf.common.get(name)
    if (common) {
      root.addJSON(common.nested!)
      return
    }
    const [full, src] = find(name)
    let parsed: protobuf.IParserResult
    try {
      parsed = protobuf.parse(src.toString('utf8'), root, { keepCase: true, alternateCommentMode: true })
    } catch (e) {
      throw new Error(`${full}: ${(e as Error).message}`)
    }
    for (const i of [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])]) add(i)
  }
  for (const f of files) add(f)
  let methods: Methods
  try {
    methods = methodsOf(root)
  } catch (e) {
    throw new Error(`${files.join(', ')}: ${(e as Error).message}`)
  }
  loaded.set(key, methods)
  return methods
}

/** `client.loadProtoset(path)`: a serialised FileDescriptorSet (`protoc --descriptor_set_out --include_imports`). */
export function loadProtoset(read: (path: string) => Buffer, path: string): Methods {
  const key = `protoset:${path}`
  const known = loaded.get(key)
  if (known) return known
  let buf: Buffer
  try {
    buf = read(path)
  } catch (e) {
    throw new Error(`couldn't open protoset: ${(e as Error).message}`)
  }
  let methods: Methods
  try {
    methods = methodsOf(protobuf.Root.fromDescriptor(buf, { keepCase: true }))
  } catch (e) {
    throw new Error(`couldn't unmarshal protoset file ${path}: ${(e as Error).message}`)
  }
  loaded.set(key, methods)
  return methods
}

// The server reflection protocol (grpc.reflection.v1, same messages as v1alpha): what Kiln asks.
const REFLECTION_PROTO = `syntax = "proto3"; package grpc.reflection.v1;
message ServerReflectionRequest { string host = 1; oneof message_request { string file_by_filename = 3; string file_containing_symbol = 4; string list_services = 7; } }
message ServerReflectionResponse { string valid_host = 1; oneof message_response { FileDescriptorResponse file_descriptor_response = 4; ListServiceResponse list_services_response = 6; ErrorResponse error_response = 7; } }
message FileDescriptorResponse { repeated bytes file_descriptor_proto = 1; }
message ListServiceResponse { repeated ServiceResponse service = 1; }
message ServiceResponse { string name = 1; }
message ErrorResponse { int32 error_code = 1; string error_message = 2; }`
let reflectionTypes: [protobuf.Type, protobuf.Type] | null = null

interface ReflectionReply {
  file_descriptor_response?: { file_descriptor_proto: Uint8Array[] }
  list_services_response?: { service: { name: string }[] }
  error_response?: { error_code: number; error_message: string }
}

/** protojson with `EmitUnpopulated`: every field that is not in a oneof, at its default when unset. */
function withDefaults(type: protobuf.Type, json: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const f of type.fieldsArray) {
    f.resolve()
    const k = f.jsonName ?? f.name
    const rt = f.resolvedType
    const msg = rt instanceof protobuf.Type && !rt.fullName.startsWith('.google.protobuf.') ? rt : null
    if (k in json) {
      const v = json[k]
      if (msg && v && typeof v === 'object') {
        if (f.map) out[k] = Object.fromEntries(Object.entries(v as Record<string, Record<string, unknown>>).map(([mk, mv]) => [mk, withDefaults(msg, mv)]))
        else if (Array.isArray(v)) out[k] = v.map((x) => withDefaults(msg, x as Record<string, unknown>))
        else out[k] = withDefaults(msg, v as Record<string, unknown>)
      } else out[k] = v
      continue
    }
    if (f.partOf) continue // oneof members and proto3 `optional` fields stay absent when unset
    if (f.map) out[k] = {}
    else if (f.repeated) out[k] = []
    else if (rt instanceof protobuf.Enum) out[k] = rt.valuesById[0] ?? 0
    else if (rt) out[k] = null
    else if (f.type === 'bool') out[k] = false
    else if (f.type === 'string' || f.type === 'bytes') out[k] = ''
    else out[k] = f.long ? '0' : 0
  }
  return out
}

/** A reply message as k6 shows it: protojson with lowerCamelCase names and unpopulated fields. */
function replyJson(type: protobuf.Type, bytes: Uint8Array): Record<string, unknown> {
  return withDefaults(type, protojson.toJson(type, type.decode(bytes)) as Record<string, unknown>)
}

export interface ConnectParams {
  plaintext: boolean
  timeoutMs: number
  maxReceiveSize: number
  maxSendSize: number
  tls: { cert?: string; key?: string; cacerts?: string | string[] } | null
  authority: string
  reflect: boolean
  reflectMetadata: Record<string, string>
}

/** `client.connect()` params, checked as k6 checks them (unknown names are errors). */
function connectParams(raw: Record<string, unknown>): ConnectParams {
  const p: ConnectParams = { plaintext: false, timeoutMs: 60_000, maxReceiveSize: 4 * 1024 * 1024, maxSendSize: 2 ** 31 - 1, tls: null, authority: '', reflect: false, reflectMetadata: {} }
  const size = (k: string, v: unknown): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Error(`invalid ${k} value: '${String(v)}', it needs to be a positive integer`)
    return v
  }
  for (const [k, v] of Object.entries(raw)) {
    if (k === 'plaintext' || k === 'reflect') {
      if (typeof v !== 'boolean') throw new Error(`invalid ${k} value: '${String(v)}', it needs to be boolean`)
      if (k === 'plaintext') p.plaintext = v
      else p.reflect = v
    } else if (k === 'timeout') p.timeoutMs = parseDuration(v, 'invalid timeout value')
    else if (k === 'maxReceiveSize') p.maxReceiveSize = size(k, v) || p.maxReceiveSize
    else if (k === 'maxSendSize') p.maxSendSize = size(k, v) || p.maxSendSize
    else if (k === 'tls') p.tls = v && typeof v === 'object' ? (v as ConnectParams['tls']) : null
    else if (k === 'authority') p.authority = String(v)
    else if (k === 'reflectMetadata') {
      if (!v || typeof v !== 'object') throw new Error('invalid reflectMetadata value: it needs to be an object with string values')
      p.reflectMetadata = Object.fromEntries(Object.entries(v).map(([mk, mv]) => [mk, String(mv)]))
    } else if (k === 'connectionSharing') continue
    else throw new Error(`unknown connect param: "${k}"`)
  }
  return p
}

/** host:port as Go's net.SplitHostPort reads it. */
function splitAddress(addr: string): [string, number] {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(addr)
  if (!m) throw new Error(`address ${addr}: ${addr.includes(':') ? 'invalid address' : 'missing port in address'} (write host:port, e.g. 127.0.0.1:50051)`)
  return [m[1] ?? m[2] ?? '', Number(m[3])]
}

/** HTTP status → gRPC status when a reply has no grpc-status (gRPC's http-grpc-status-mapping). */
const HTTP_STATUS: Record<number, number> = { 400: S.Internal, 401: S.Unauthenticated, 403: S.PermissionDenied, 404: S.Unimplemented, 429: S.Unavailable, 502: S.Unavailable, 503: S.Unavailable, 504: S.Unavailable }

interface Reply {
  status: number
  statusMessage: string
  message: Buffer | null
  headers: Record<string, string[]>
  trailers: Record<string, string[]>
}

/** grpc-message is percent-encoded; a malformed escape stays as sent (grpc-go does the same). */
function percentDecoded(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

const RESERVED = new Set(['grpc-status', 'grpc-message', 'grpc-status-details-bin', 'grpc-encoding', 'grpc-accept-encoding', 'te'])
function metadataOf(h: http2.IncomingHttpHeaders, into: Record<string, string[]>): void {
  for (const [k, v] of Object.entries(h)) {
    if (k.startsWith(':') || RESERVED.has(k) || v === undefined) continue
    const vals = Array.isArray(v) ? v : k.endsWith('-bin') ? v.split(',') : [v]
    into[k] = vals.map((x) => (k.endsWith('-bin') ? Buffer.from(x.trim(), 'base64').toString('utf8') : x))
  }
}

/** One connection (an HTTP/2 session) to a gRPC server. */
class GrpcConn {
  private session: http2.ClientHttp2Session | null = null
  private sent = 0
  private received = 0

  constructor(
    readonly addr: string,
    private readonly p: ConnectParams,
    private readonly insecure: boolean,
    private readonly rules: NetRules,
  ) {}

  /**
   * Opens the session; rejects with k6-like text when it cannot within the connect timeout. The
   * network options apply as to HTTP: `hosts`, `blockHostnames`, `blacklistIPs`, `tlsVersion`, `tlsAuth`.
   */
  open(cancels: Set<() => void>): Promise<void> {
    const [host, port] = splitAddress(this.addr)
    const dialError = (why: string) => new Error(`connection error: desc = "transport: error while dialing: dial tcp ${this.addr}: ${why}"`)
    const pattern = this.rules.blockedBy(host)
    if (pattern) return Promise.reject(dialError(`hostname (${host}) is in a blocked pattern (${pattern})`))
    const to = this.rules.target(host, port)
    const lookup = checkedLookup(this.rules)
    const tlsOpts = this.p.tls
    const servername = this.p.authority ? this.p.authority.replace(/:\d+$/, '') : net.isIP(host) ? undefined : host
    const s = http2.connect(`${this.p.plaintext ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${port}`, {
      createConnection: () =>
        this.p.plaintext
          ? net.connect({ host: to.host, port: to.port, lookup })
          : tls.connect({
              host: to.host,
              port: to.port,
              lookup,
              servername,
              ALPNProtocols: ['h2'],
              rejectUnauthorized: !this.insecure,
              ...(tlsOpts?.cacerts ? { ca: tlsOpts.cacerts } : {}),
              ...this.rules.tls(host),
              ...(tlsOpts?.cert && tlsOpts.key ? { cert: tlsOpts.cert, key: tlsOpts.key } : {}),
            }),
    })
    this.session = s
    s.on('error', () => {}) // reported through the pending connect or call
    // Connected once the server's SETTINGS arrive (grpc-go waits for the server preface too), so a
    // server that does not speak HTTP/2 fails connect() rather than the first call.
    return new Promise<void>((resolve, reject) => {
      const done = (err?: string) => {
        clearTimeout(timer)
        cancels.delete(cancel)
        s.off('remoteSettings', ok)
        s.off('error', bad)
        s.off('close', closed)
        if (err === undefined) return resolve()
        s.destroy()
        this.session = null
        reject(new Error(err))
      }
      const ok = () => done()
      const bad = (e: Error) => done(dialError(e.message.trim()).message)
      const closed = () => done(`connection error: desc = "error reading server preface: the connection to ${this.addr} closed before an HTTP/2 SETTINGS frame (is it a gRPC server${this.p.plaintext ? ' speaking plaintext' : ' speaking TLS'}?)"`)
      const cancel = () => done('context canceled')
      const timer = setTimeout(() => done(`context deadline exceeded: could not connect to ${this.addr} within ${this.p.timeoutMs} ms`), this.p.timeoutMs)
      cancels.add(cancel)
      s.once('remoteSettings', ok)
      s.once('error', bad)
      s.once('close', closed)
    })
  }

  /** The server's address as dialled (`--http-debug`). */
  remote(): string {
    const sock = this.session?.socket
    return sock?.remoteAddress ? `${sock.remoteAddress}:${sock.remotePort}` : this.addr
  }

  /** Bytes written and read since the last call. */
  traffic(): [number, number] {
    const sock = this.session?.socket as { bytesWritten?: number; bytesRead?: number } | undefined
    if (!sock) return [0, 0]
    const w = sock.bytesWritten ?? 0
    const r = sock.bytesRead ?? 0
    const out: [number, number] = [w - this.sent, r - this.received]
    this.sent = w
    this.received = r
    return out
  }

  /**
   * Starts a call: its request stream (null when the call failed at once) and its end as a status;
   * each reply message goes to `onMessage` as it arrives. Never rejects: transport failures are
   * statuses, as grpc-go reports them.
   */
  async start(path: string, metadata: Record<string, string>, timeoutMs: number, userAgent: string, cancels: Set<() => void>, onMessage: (m: Buffer) => void): Promise<{ req: http2.ClientHttp2Stream | null; done: Promise<Reply> }> {
    const reply: Reply = { status: S.OK, statusMessage: '', message: null, headers: {}, trailers: {} }
    const fail = (status: number, msg: string): Reply => Object.assign(reply, { status, statusMessage: msg, message: null })
    if (!this.session || this.session.closed || this.session.destroyed) {
      this.sent = this.received = 0
      try {
        await this.open(cancels)
      } catch (e) {
        return { req: null, done: Promise.resolve(fail(S.Unavailable, (e as Error).message)) }
      }
    }
    const headers: http2.OutgoingHttpHeaders = { ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', 'user-agent': userAgent }
    if (this.p.authority) headers[':authority'] = this.p.authority
    if (timeoutMs > 0) headers['grpc-timeout'] = timeoutMs < 1e8 ? `${Math.ceil(timeoutMs)}m` : `${Math.min(99_999_999, Math.ceil(timeoutMs / 1000))}S`
    for (const [k, v] of Object.entries(metadata)) headers[k.toLowerCase()] = k.toLowerCase().endsWith('-bin') ? Buffer.from(v).toString('base64') : v
    let req: http2.ClientHttp2Stream
    try {
      req = this.session!.request(headers)
    } catch (e) {
      return { req: null, done: Promise.resolve(fail(S.Unavailable, (e as Error).message)) }
    }
    const done = new Promise<Reply>((resolve) => {
      let pending: Buffer = Buffer.alloc(0)
      let httpStatus = 200
      let grpcStatus: string | undefined
      let grpcMessage = ''
      let encoding = ''
      let settled = false
      const finish = (r: Reply) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        cancels.delete(cancel)
        resolve(r)
      }
      const abort = (status: number, msg: string) => {
        req.close(http2.constants.NGHTTP2_CANCEL)
        finish(fail(status, msg))
      }
      const statusFrom = (h: http2.IncomingHttpHeaders) => {
        if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status'])
        if (h['grpc-message'] !== undefined) grpcMessage = percentDecoded(String(h['grpc-message']))
      }
      const cancel = () => abort(S.Canceled, 'context canceled')
      const timer = setTimeout(() => abort(S.DeadlineExceeded, 'context deadline exceeded'), timeoutMs > 0 ? timeoutMs : 2 ** 31 - 1)
      cancels.add(cancel)
      req.on('response', (h, flags) => {
        httpStatus = Number(h[':status'] ?? 200)
        encoding = String(h['grpc-encoding'] ?? '')
        // A trailers-only reply (an error without a message): its metadata are trailers.
        const trailersOnly = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0 || h['grpc-status'] !== undefined
        metadataOf(h, trailersOnly ? reply.trailers : reply.headers)
        statusFrom(h)
      })
      req.on('trailers', (h) => {
        metadataOf(h, reply.trailers)
        statusFrom(h)
      })
      // Length-prefixed messages, split across DATA frames however the server sent them.
      req.on('data', (c: Buffer) => {
        pending = pending.length ? Buffer.concat([pending, c]) : c
        while (!settled && pending.length >= 5) {
          const len = pending.readUInt32BE(1)
          if (len > this.p.maxReceiveSize) return abort(S.ResourceExhausted, `grpc: received message larger than max (${len} vs. ${this.p.maxReceiveSize})`)
          if (pending.length < 5 + len) break
          let msg = pending.subarray(5, 5 + len)
          if (pending[0] === 1) {
            try {
              msg = encoding === 'gzip' ? zlib.gunzipSync(msg) : encoding === 'deflate' ? zlib.inflateSync(msg) : msg
            } catch (e) {
              return abort(S.Internal, `grpc: failed to decompress the received message: ${(e as Error).message}`)
            }
          }
          pending = pending.subarray(5 + len)
          onMessage(msg)
        }
      })
      req.on('error', (e) => finish(fail(S.Unavailable, e.message)))
      req.on('close', () => {
        if (grpcStatus !== undefined) {
          const code = /^\d+$/.test(grpcStatus) ? Number(grpcStatus) : S.Unknown
          return finish(code === S.OK ? reply : fail(code, grpcMessage))
        }
        if (httpStatus !== 200) return finish(fail(HTTP_STATUS[httpStatus] ?? S.Unknown, `unexpected HTTP status code received from server: ${httpStatus}`))
        finish(fail(req.rstCode ? S.Unavailable : S.Internal, req.rstCode ? `stream closed with error code ${req.rstCode}` : 'server closed the stream without sending trailers'))
      })
    })
    return { req, done }
  }

  /** A message as gRPC frames it: a compressed flag, a 4-byte length, the bytes. */
  frame(body: Uint8Array): Buffer {
    if (body.length > this.p.maxSendSize) throw new Error(`grpc: trying to send message larger than max (${body.length} vs. ${this.p.maxSendSize})`)
    const frame = Buffer.alloc(5 + body.length)
    frame.writeUInt32BE(body.length, 1)
    frame.set(body, 5)
    return frame
  }

  /** One unary call: one message each way. */
  async call(path: string, body: Uint8Array, metadata: Record<string, string>, timeoutMs: number, userAgent: string, cancels: Set<() => void>): Promise<Reply> {
    let frame: Buffer
    try {
      frame = this.frame(body)
    } catch (e) {
      return { status: S.ResourceExhausted, statusMessage: (e as Error).message, message: null, headers: {}, trailers: {} }
    }
    const msgs: Buffer[] = []
    const { req, done } = await this.start(path, metadata, timeoutMs, userAgent, cancels, (m) => msgs.push(m))
    req?.end(frame)
    const r = await done
    if (r.status === S.OK) {
      if (msgs.length !== 1) Object.assign(r, { status: S.Internal, statusMessage: msgs.length ? `grpc: ${msgs.length} reply messages to a unary call (cardinality violation)` : 'grpc: the server sent no reply message' })
      else r.message = msgs[0]!
    }
    return r
  }

  /**
   * `reflect: true`: the server's services and their files through the reflection protocol (v1,
   * then v1alpha), one request per stream, as a Methods table.
   */
  async reflect(userAgent: string, cancels: Set<() => void>): Promise<Methods> {
    const [Req, Res] = (reflectionTypes ??= (() => {
      const root = protobuf.parse(REFLECTION_PROTO, { keepCase: true }).root
      return [root.lookupType('grpc.reflection.v1.ServerReflectionRequest'), root.lookupType('grpc.reflection.v1.ServerReflectionResponse')] as [protobuf.Type, protobuf.Type]
    })())
    let path = '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo'
    const ask = async (req: Record<string, string>): Promise<ReflectionReply> => {
      const body = Req.encode(Req.create(req)).finish()
      let r = await this.call(path, body, this.p.reflectMetadata, this.p.timeoutMs, userAgent, cancels)
      if (r.status === S.Unimplemented && !path.includes('v1alpha')) {
        path = '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo'
        r = await this.call(path, body, this.p.reflectMetadata, this.p.timeoutMs, userAgent, cancels)
      }
      if (r.status !== S.OK || !r.message) throw new Error(`can't get method info through reflection: rpc error: code = ${CODES[r.status] ?? r.status} desc = ${r.statusMessage}`)
      const out = Res.decode(r.message) as unknown as ReflectionReply
      if (out.error_response) throw new Error(`can't get method info through reflection (${JSON.stringify(req)}): ${out.error_response.error_message}`)
      return out
    }
    const services = (await ask({ list_services: '*' })).list_services_response?.service.map((x) => x.name).filter((n) => !n.startsWith('grpc.reflection.')) ?? []
    const files = new Map<string, protobuf.Message & { name: string; dependency: string[] }>()
    const add = (reply: ReflectionReply) => {
      for (const b of reply.file_descriptor_response?.file_descriptor_proto ?? []) {
        const fd = descriptor.FileDescriptorProto.decode(b) as protobuf.Message & { name: string; dependency: string[] }
        if (!files.has(fd.name)) files.set(fd.name, fd)
      }
    }
    for (const svc of services) add(await ask({ file_containing_symbol: svc }))
    // Imports the server did not send with the files (google/protobuf/* are not always served).
    for (let more = true; more; ) {
      more = false
      for (const dep of [...files.values()].flatMap((f) => f.dependency ?? [])) {
        if (files.has(dep)) continue
        const common = protobuf.common.get(dep)
        if (common) files.set(dep, { name: dep, dependency: [] } as never)
        else {
          add(await ask({ file_by_filename: dep }))
          more = true
        }
        if (!files.has(dep)) throw new Error(`can't get method info through reflection: the server did not send ${dep}`)
      }
    }
    const real = [...files.values()].filter((f) => !protobuf.common.get(f.name))
    const root = protobuf.Root.fromDescriptor({ file: real } as never, { keepCase: true })
    for (const f of files.keys()) {
      const common = protobuf.common.get(f)
      if (common && !real.some((r) => r.name === f)) root.addJSON(common.nested!)
    }
    return methodsOf(root)
  }

  close(): void {
    this.session?.close()
    this.session = null
  }
}

/** What a call needs from its VU. */
export interface GrpcHost {
  readBytes(path: string): Buffer
  emit(metric: string, value: number, tags: Tags): void
  insecure: boolean
  userAgent: string
  /** k6's network options (hosts, blockHostnames, blacklistIPs, tlsVersion, tlsAuth). */
  net: NetOptions
  /** `--http-debug`: a unary call's headers and trailers are logged here (payloads too with =full). */
  debug?: { log(text: string): void; full: boolean }
}

interface CallSpec {
  client: number
  method: string
  /** the request as JSON (unary calls) */
  message?: string
  metadata: Record<string, string>
  /** group + the params' tags */
  tags: Tags
  timeout: unknown
  /** `discardResponseMessage`: the Response's message is null (not decoded). */
  discard?: boolean
}

const encodeRequest = (type: protobuf.Type, json: string): Uint8Array => {
  try {
    return type.encode(protojson.fromJson(type, JSON.parse(json))).finish()
  } catch (e) {
    throw new Error(`unable to serialise request object to protocol buffer: ${(e as Error).message}`)
  }
}

/** One `new grpc.Stream()`: writes wait for the call to start; events go to `sink` until 'end'. */
class GrpcStream {
  private req: http2.ClientHttp2Stream | null = null
  private queued: Buffer[] = []
  private ending = false
  private over = false
  /** Cancels this stream only (the VU's reset); interrupt() cancels every call through `cancels`. */
  private readonly own = new Set<() => void>()

  constructor(
    private readonly conn: GrpcConn,
    private readonly def: MethodDef,
    private readonly emit: (metric: string, value: number, tags?: Tags) => void,
  ) {}

  async run(method: string, spec: CallSpec, userAgent: string, cancels: Set<() => void>, sink: (kind: string, payload: string) => void): Promise<Reply> {
    const timeoutMs = spec.timeout === undefined || spec.timeout === null ? 0 : parseDuration(spec.timeout, 'invalid timeout value')
    const both = new Set<() => void>()
    const { req, done } = await this.conn.start(method, spec.metadata, timeoutMs, userAgent, both, (m) => {
      this.emit('grpc_streams_msgs_received', 1)
      let json: string
      try {
        json = JSON.stringify(replyJson(this.def.response, m))
      } catch (e) {
        return sink('error', JSON.stringify({ code: S.Internal, details: [], message: `grpc: failed to unmarshal the received message: ${(e as Error).message}` }))
      }
      sink('data', `${Date.now()} ${json}`)
    })
    // A cancel registered with the connection is reachable from both the VU's interrupt and this stream.
    for (const c of both) {
      cancels.add(c)
      this.own.add(c)
    }
    this.req = req
    if (req) {
      for (const f of this.queued.splice(0)) req.write(f)
      if (this.ending) req.end()
      if (this.over) for (const c of this.own) c()
    }
    const r = await done
    for (const c of both) cancels.delete(c)
    this.over = true
    if (r.status !== S.OK) sink('error', JSON.stringify({ code: r.status, details: [], message: r.statusMessage }))
    sink('end', '')
    return r
  }

  write(json: string): void {
    if (this.over || this.ending) throw new Error('the stream is closed (end() was called or the server ended it)')
    const frame = this.conn.frame(encodeRequest(this.def.request, json))
    if (this.req) this.req.write(frame)
    else this.queued.push(frame)
    this.emit('grpc_streams_msgs_sent', 1)
  }

  end(): void {
    if (this.ending || this.over) return
    this.ending = true
    this.req?.end()
  }

  cancel(): void {
    this.over = true
    for (const c of this.own) c()
  }
}

/** A VU's gRPC clients by the VM's id: their loaded methods and connection. */
export class GrpcClients {
  private clients = new Map<number, { methods: Methods; conn: GrpcConn | null }>()
  /** Cancels pending connects and calls (the VU was interrupted). */
  private readonly cancels = new Set<() => void>()
  /** Open streams by the VM's event-loop id. */
  private readonly streams = new Map<number, GrpcStream>()

  private readonly rules: NetRules

  constructor(private readonly host: GrpcHost) {
    this.rules = netRules(host.net)
  }

  private client(id: number) {
    let c = this.clients.get(id)
    if (!c) this.clients.set(id, (c = { methods: new Map(), conn: null }))
    return c
  }

  /** `client.load()`: returns k6's method infos as JSON. */
  load(id: number, importPaths: string[], files: string[]): string {
    return this.addMethods(id, loadProtos((p) => this.host.readBytes(p), importPaths, files))
  }

  /** `client.loadProtoset()`: returns k6's method infos as JSON. */
  loadProtoset(id: number, path: string): string {
    return this.addMethods(id, loadProtoset((p) => this.host.readBytes(p), path))
  }

  private addMethods(id: number, methods: Methods): string {
    const c = this.client(id)
    for (const [k, v] of methods) c.methods.set(k, v)
    return JSON.stringify([...methods.keys()].map((m) => ({ package: m.slice(1, m.lastIndexOf('.', m.lastIndexOf('/'))), service: m.slice(m.lastIndexOf('.', m.lastIndexOf('/')) + 1, m.lastIndexOf('/')), full_method: m })))
  }

  async connect(id: number, addr: string, rawParams: Record<string, unknown>): Promise<void> {
    const c = this.client(id)
    const p = connectParams(rawParams)
    const conn = new GrpcConn(addr, p, this.host.insecure, this.rules)
    c.conn?.close()
    c.conn = null
    await conn.open(this.cancels)
    if (p.reflect) {
      try {
        this.addMethods(id, await conn.reflect(this.host.userAgent, this.cancels))
      } catch (e) {
        conn.close()
        throw e
      }
    }
    c.conn = conn
  }

  /** The connection and method of a call; throws the script's exception when there is none. */
  private target(spec: CallSpec, stream: boolean): { conn: GrpcConn; def: MethodDef; method: string } {
    const c = this.clients.get(spec.client)
    if (!c?.conn) throw new Error('no gRPC connection, you must call connect first')
    const method = spec.method.startsWith('/') ? spec.method : `/${spec.method}`
    const def = c.methods.get(method) ?? (method === HEALTH_CHECK ? (healthMethods ??= methodsOf(protobuf.parse(HEALTH_PROTO, { keepCase: true }).root)).get(method) : undefined)
    if (!def) throw new Error(`method "${method}" not found in file descriptors (load its .proto file with client.load() in the init context)`)
    if (def.stream !== stream) throw new Error(stream ? `method "${method}" is a unary RPC: call it with client.invoke() or client.asyncInvoke()` : `method "${method}" is a streaming RPC: use new grpc.Stream(client, '${method.slice(1)}')`)
    return { conn: c.conn, def, method }
  }

  /** grpc_req_duration with k6's tags, and the connection's traffic since the last call. */
  private record(conn: GrpcConn, method: string, spec: CallSpec, status: number, ms: number): void {
    const slash = method.lastIndexOf('/')
    const tags: Tags = { ...spec.tags, url: `${conn.addr}${method}`, service: method.slice(1, slash), method: method.slice(slash + 1), status: String(status) }
    if (spec.tags.name === undefined) tags.name = method
    this.host.emit('grpc_req_duration', ms, tags)
    const [sent, received] = conn.traffic()
    const netTags: Tags = spec.tags.group === undefined ? {} : { group: spec.tags.group }
    if (sent) this.host.emit('data_sent', sent, netTags)
    if (received) this.host.emit('data_received', received, netTags)
  }

  /** A unary call; throws (the script's exception) for bad input, answers k6's Response as JSON otherwise. */
  async invoke(spec: CallSpec): Promise<string> {
    const { conn, def, method } = this.target(spec, false)
    const timeoutMs = spec.timeout === undefined || spec.timeout === null ? 60_000 : parseDuration(spec.timeout, 'invalid grpc.invoke() parameters: invalid timeout value')
    const body = encodeRequest(def.request, spec.message ?? '{}')
    const t0 = performance.now()
    const r = await conn.call(method, body, spec.metadata, timeoutMs, this.host.userAgent, this.cancels)
    this.record(conn, method, spec, r.status, performance.now() - t0)
    if (this.host.debug) this.debug(this.host.debug, conn, method, def.response, spec, body, r)
    let message: Record<string, unknown> | null
    let status = r.status
    let statusMessage = r.statusMessage
    try {
      message = spec.discard ? null : r.message ? replyJson(def.response, r.message) : withDefaults(def.response, {})
    } catch (e) {
      status = S.Internal
      statusMessage = `grpc: failed to unmarshal the received message: ${(e as Error).message}`
      message = withDefaults(def.response, {})
    }
    const error = status === S.OK ? null : { code: status, message: statusMessage, details: [] }
    return JSON.stringify({ status, message, headers: r.headers, trailers: r.trailers, error })
  }

  /**
   * `--http-debug` for a unary call, in k6's layout (Out Header, Out Payload, In Header, In
   * Trailer, In Payload; the payloads with =full, here as ProtoJSON rather than prototext).
   */
  private debug(d: NonNullable<GrpcHost['debug']>, conn: GrpcConn, method: string, response: protobuf.Type, spec: CallSpec, body: Uint8Array, r: Reply): void {
    const md = (m: Record<string, string[] | string>) => Object.entries(m).map(([k, v]) => `${k}: ${[v].flat().join(', ')}\n`).join('')
    d.log(`Out Header:\nFull Method: ${method}\nRemote Address: ${conn.remote()}\n${md({ 'content-type': 'application/grpc', 'user-agent': this.host.userAgent, ...spec.metadata })}`)
    if (d.full) d.log(`Out Payload:\nWire Length: ${body.length + 5}\n${spec.message ?? '{}'}\n`)
    if (Object.keys(r.headers).length) d.log(`In Header:\n${md(r.headers)}`)
    if (Object.keys(r.trailers).length) d.log(`In Trailer:\n${md(r.trailers)}`)
    if (!d.full || !r.message) return
    let text: string
    try {
      text = JSON.stringify(protojson.toJson(response, response.decode(r.message)))
    } catch (e) {
      text = `(not a ${response.name}: ${(e as Error).message})`
    }
    d.log(`In Payload:\nWire Length: ${r.message.length + 5}\n${text}\n`)
  }

  /**
   * `new grpc.Stream(client, method, params)`: throws at once for bad input; then `sink` gets
   * 'data' (`ts json`), 'error' (k6's error object as JSON) and finally 'end'.
   */
  openStream(id: number, spec: CallSpec, sink: (kind: string, payload: string) => void): void {
    const { conn, def, method } = this.target(spec, true)
    const emit = (m: string, v: number, t?: Tags) => this.host.emit(m, v, t ?? (spec.tags.group === undefined ? {} : { group: spec.tags.group }))
    const s = new GrpcStream(conn, def, emit)
    this.streams.set(id, s)
    emit('grpc_streams', 1)
    const t0 = performance.now()
    s.run(method, spec, this.host.userAgent, this.cancels, sink).then((r) => {
      this.streams.delete(id)
      this.record(conn, method, spec, r.status, performance.now() - t0)
    })
  }

  private stream(id: number): GrpcStream {
    const s = this.streams.get(id)
    if (!s) throw new Error('the stream is closed (the server ended it)')
    return s
  }

  streamWrite(id: number, json: string): void {
    this.stream(id).write(json)
  }

  streamEnd(id: number): void {
    this.streams.get(id)?.end()
  }

  streamCancel(id: number): void {
    this.streams.get(id)?.cancel()
    this.streams.delete(id)
  }

  close(id: number): void {
    const c = this.clients.get(id)
    c?.conn?.close()
    if (c) c.conn = null
  }

  interrupt(): void {
    for (const c of [...this.cancels]) c()
  }

  closeAll(): void {
    this.interrupt()
    for (const s of this.streams.values()) s.cancel()
    this.streams.clear()
    for (const c of this.clients.values()) c.conn?.close()
    this.clients.clear()
  }
}
