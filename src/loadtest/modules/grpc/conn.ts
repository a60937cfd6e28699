/**
 * One `k6/net/grpc` connection: gRPC over Node's http2 (5-byte length-prefixed messages,
 * `te: trailers`, `grpc-timeout`, the status in `grpc-status` / `grpc-message`), TLS unless
 * plaintext, the network options as for HTTP, and the server's reflection service.
 */
import http2 from 'node:http2'
import net from 'node:net'
import tls from 'node:tls'
import zlib from 'node:zlib'
import protobuf from 'protobufjs'
import descriptor from 'protobufjs/ext/descriptor.js'
import { parseDuration } from '../../run/duration.ts'
import type { NetRules } from '../http/netrules.ts'
import { checkedLookup, refusedBeforeLookup } from '../http/lookup.ts'
import { CODES, Code, methodsOf, type Methods } from './proto.ts'

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
export function connectParams(raw: Record<string, unknown>): ConnectParams {
  const p: ConnectParams = {
    plaintext: false,
    timeoutMs: 60_000,
    maxReceiveSize: 4 * 1024 * 1024,
    maxSendSize: 2 ** 31 - 1,
    tls: null,
    authority: '',
    reflect: false,
    reflectMetadata: {},
  }
  const size = (k: string, v: unknown): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
      throw new Error(`invalid ${k} value: '${String(v)}', it needs to be a positive integer`)
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
  if (!m)
    throw new Error(
      `address ${addr}: ${addr.includes(':') ? 'invalid address' : 'missing port in address'} (write host:port, e.g. 127.0.0.1:50051)`,
    )
  return [m[1] ?? m[2] ?? '', Number(m[3])]
}

/** HTTP status → gRPC status when a reply has no grpc-status (gRPC's http-grpc-status-mapping). */
const HTTP_STATUS: Record<number, number> = {
  400: Code.Internal,
  401: Code.Unauthenticated,
  403: Code.PermissionDenied,
  404: Code.Unimplemented,
  429: Code.Unavailable,
  502: Code.Unavailable,
  503: Code.Unavailable,
  504: Code.Unavailable,
}

export interface Reply {
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
export class GrpcConn {
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
    const to = this.rules.target(host, port)
    const refusal = refusedBeforeLookup(this.rules, host, to.host)
    if (refusal) return Promise.reject(dialError(refusal.message))
    const lookup = checkedLookup(this.rules)
    // localIPs: the VU's address, as for HTTP.
    const local = this.rules.localAddress ? { localAddress: this.rules.localAddress } : {}
    const tlsOpts = this.p.tls
    const servername = this.p.authority ? this.p.authority.replace(/:\d+$/, '') : net.isIP(host) ? undefined : host
    const s = http2.connect(`${this.p.plaintext ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${port}`, {
      createConnection: () =>
        this.p.plaintext
          ? net.connect({ host: to.host, port: to.port, lookup, ...local })
          : tls.connect({
              host: to.host,
              port: to.port,
              lookup,
              ...local,
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
      const closed = () =>
        done(
          `connection error: desc = "error reading server preface: the connection to ${this.addr} closed before an HTTP/2 SETTINGS frame (is it a gRPC server${this.p.plaintext ? ' speaking plaintext' : ' speaking TLS'}?)"`,
        )
      const cancel = () => done('context canceled')
      const timer = setTimeout(
        () => done(`context deadline exceeded: could not connect to ${this.addr} within ${this.p.timeoutMs} ms`),
        this.p.timeoutMs,
      )
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
  async start(
    path: string,
    metadata: Record<string, string>,
    timeoutMs: number,
    userAgent: string,
    cancels: Set<() => void>,
    onMessage: (m: Buffer) => void,
  ): Promise<{ req: http2.ClientHttp2Stream | null; done: Promise<Reply> }> {
    const reply: Reply = { status: Code.OK, statusMessage: '', message: null, headers: {}, trailers: {} }
    const fail = (status: number, msg: string): Reply => Object.assign(reply, { status, statusMessage: msg, message: null })
    if (!this.session || this.session.closed || this.session.destroyed) {
      this.sent = this.received = 0
      try {
        await this.open(cancels)
      } catch (e) {
        return { req: null, done: Promise.resolve(fail(Code.Unavailable, (e as Error).message)) }
      }
    }
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': userAgent,
    }
    if (this.p.authority) headers[':authority'] = this.p.authority
    if (timeoutMs > 0)
      headers['grpc-timeout'] = timeoutMs < 1e8 ? `${Math.ceil(timeoutMs)}m` : `${Math.min(99_999_999, Math.ceil(timeoutMs / 1000))}S`
    for (const [k, v] of Object.entries(metadata))
      headers[k.toLowerCase()] = k.toLowerCase().endsWith('-bin') ? Buffer.from(v).toString('base64') : v
    let req: http2.ClientHttp2Stream
    try {
      req = this.session!.request(headers)
    } catch (e) {
      return { req: null, done: Promise.resolve(fail(Code.Unavailable, (e as Error).message)) }
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
      const cancel = () => abort(Code.Canceled, 'context canceled')
      const timer = setTimeout(() => abort(Code.DeadlineExceeded, 'context deadline exceeded'), timeoutMs > 0 ? timeoutMs : 2 ** 31 - 1)
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
          if (len > this.p.maxReceiveSize)
            return abort(Code.ResourceExhausted, `grpc: received message larger than max (${len} vs. ${this.p.maxReceiveSize})`)
          if (pending.length < 5 + len) break
          let msg = pending.subarray(5, 5 + len)
          if (pending[0] === 1) {
            try {
              msg = encoding === 'gzip' ? zlib.gunzipSync(msg) : encoding === 'deflate' ? zlib.inflateSync(msg) : msg
            } catch (e) {
              return abort(Code.Internal, `grpc: failed to decompress the received message: ${(e as Error).message}`)
            }
          }
          pending = pending.subarray(5 + len)
          onMessage(msg)
        }
      })
      req.on('error', (e) => finish(fail(Code.Unavailable, e.message)))
      req.on('close', () => {
        if (grpcStatus !== undefined) {
          const code = /^\d+$/.test(grpcStatus) ? Number(grpcStatus) : Code.Unknown
          return finish(code === Code.OK ? reply : fail(code, grpcMessage))
        }
        if (httpStatus !== 200)
          return finish(fail(HTTP_STATUS[httpStatus] ?? Code.Unknown, `unexpected HTTP status code received from server: ${httpStatus}`))
        finish(
          fail(
            req.rstCode ? Code.Unavailable : Code.Internal,
            req.rstCode ? `stream closed with error code ${req.rstCode}` : 'server closed the stream without sending trailers',
          ),
        )
      })
    })
    return { req, done }
  }

  /** A message as gRPC frames it: a compressed flag, a 4-byte length, the bytes. */
  frame(body: Uint8Array): Buffer {
    if (body.length > this.p.maxSendSize)
      throw new Error(`grpc: trying to send message larger than max (${body.length} vs. ${this.p.maxSendSize})`)
    const frame = Buffer.alloc(5 + body.length)
    frame.writeUInt32BE(body.length, 1)
    frame.set(body, 5)
    return frame
  }

  /** One unary call: one message each way. */
  async call(
    path: string,
    body: Uint8Array,
    metadata: Record<string, string>,
    timeoutMs: number,
    userAgent: string,
    cancels: Set<() => void>,
  ): Promise<Reply> {
    let frame: Buffer
    try {
      frame = this.frame(body)
    } catch (e) {
      return { status: Code.ResourceExhausted, statusMessage: (e as Error).message, message: null, headers: {}, trailers: {} }
    }
    const msgs: Buffer[] = []
    const { req, done } = await this.start(path, metadata, timeoutMs, userAgent, cancels, (m) => msgs.push(m))
    req?.end(frame)
    const r = await done
    if (r.status === Code.OK) {
      if (msgs.length !== 1)
        Object.assign(r, {
          status: Code.Internal,
          statusMessage: msgs.length
            ? `grpc: ${msgs.length} reply messages to a unary call (cardinality violation)`
            : 'grpc: the server sent no reply message',
        })
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
      return [
        root.lookupType('grpc.reflection.v1.ServerReflectionRequest'),
        root.lookupType('grpc.reflection.v1.ServerReflectionResponse'),
      ] as [protobuf.Type, protobuf.Type]
    })())
    let path = '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo'
    const ask = async (req: Record<string, string>): Promise<ReflectionReply> => {
      const body = Req.encode(Req.create(req)).finish()
      let r = await this.call(path, body, this.p.reflectMetadata, this.p.timeoutMs, userAgent, cancels)
      if (r.status === Code.Unimplemented && !path.includes('v1alpha')) {
        path = '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo'
        r = await this.call(path, body, this.p.reflectMetadata, this.p.timeoutMs, userAgent, cancels)
      }
      if (r.status !== Code.OK || !r.message)
        throw new Error(
          `can't get method info through reflection: rpc error: code = ${CODES[r.status] ?? r.status} desc = ${r.statusMessage}`,
        )
      const out = Res.decode(r.message) as unknown as ReflectionReply
      if (out.error_response)
        throw new Error(`can't get method info through reflection (${JSON.stringify(req)}): ${out.error_response.error_message}`)
      return out
    }
    const services =
      (await ask({ list_services: '*' })).list_services_response?.service
        .map((x) => x.name)
        .filter((n) => !n.startsWith('grpc.reflection.')) ?? []
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
