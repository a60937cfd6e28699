/**
 * The host side of `k6/net/grpc`: a VU's clients (load, connect, invoke, close), unary calls and
 * streams, k6's `grpc_req_duration` (tags name, method, service, status, url), `grpc_streams*`,
 * and data_sent / data_received from the connection's byte counters. Definitions (.proto,
 * protoset, ProtoJSON) are in grpc-proto.ts; one connection over http2 is grpc-conn.ts.
 */
import type http2 from 'node:http2'
import { performance } from 'node:perf_hooks'
import protobuf from 'protobufjs'
import protojson from 'protobufjs/ext/protojson.js'
import type { Tags } from '../../results/metrics.ts'
import { parseDuration } from '../../run/duration.ts'
import { netRules, type NetOptions, type NetRules } from '../http/netrules.ts'
import { Code, encodeRequest, loadProtos, loadProtoset, methodsOf, replyJson, withDefaults, type MethodDef, type Methods } from './proto.ts'
import { connectParams, GrpcConn, type Reply } from './conn.ts'

const HEALTH_PROTO = `syntax = "proto3"; package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse { enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; } ServingStatus status = 1; }
service Health { rpc Check(HealthCheckRequest) returns (HealthCheckResponse); }`
const HEALTH_CHECK = '/grpc.health.v1.Health/Check'
let healthMethods: Methods | null = null

export interface GrpcHost {
  readBytes(path: string): Buffer
  emit(metric: string, value: number, tags: Tags): void
  insecure: boolean
  userAgent: string
  /** k6's network options (hosts, blockHostnames, blacklistIPs, tlsVersion, tlsAuth, localIPs). */
  net: NetOptions
  /** The VU's number: its address in localIPs' pool. */
  vu: number
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

  async run(
    method: string,
    spec: CallSpec,
    userAgent: string,
    cancels: Set<() => void>,
    sink: (kind: string, payload: string) => void,
  ): Promise<Reply> {
    const timeoutMs = spec.timeout === undefined || spec.timeout === null ? 0 : parseDuration(spec.timeout, 'invalid timeout value')
    const both = new Set<() => void>()
    const { req, done } = await this.conn.start(method, spec.metadata, timeoutMs, userAgent, both, (m) => {
      this.emit('grpc_streams_msgs_received', 1)
      let json: string
      try {
        json = JSON.stringify(replyJson(this.def.response, m))
      } catch (e) {
        return sink(
          'error',
          JSON.stringify({
            code: Code.Internal,
            details: [],
            message: `grpc: failed to unmarshal the received message: ${(e as Error).message}`,
          }),
        )
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
    if (r.status !== Code.OK) sink('error', JSON.stringify({ code: r.status, details: [], message: r.statusMessage }))
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
    this.rules = netRules(host.net, host.vu)
  }

  private client(id: number) {
    let c = this.clients.get(id)
    if (!c) this.clients.set(id, (c = { methods: new Map(), conn: null }))
    return c
  }

  /** `client.load()`: returns k6's method infos as JSON. */
  load(id: number, importPaths: string[], files: string[]): string {
    return this.addMethods(
      id,
      loadProtos((p) => this.host.readBytes(p), importPaths, files),
    )
  }

  /** `client.loadProtoset()`: returns k6's method infos as JSON. */
  loadProtoset(id: number, path: string): string {
    return this.addMethods(
      id,
      loadProtoset((p) => this.host.readBytes(p), path),
    )
  }

  private addMethods(id: number, methods: Methods): string {
    const c = this.client(id)
    for (const [k, v] of methods) c.methods.set(k, v)
    return JSON.stringify(
      [...methods.keys()].map((m) => ({
        package: m.slice(1, m.lastIndexOf('.', m.lastIndexOf('/'))),
        service: m.slice(m.lastIndexOf('.', m.lastIndexOf('/')) + 1, m.lastIndexOf('/')),
        full_method: m,
      })),
    )
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
    const def =
      c.methods.get(method) ??
      (method === HEALTH_CHECK
        ? (healthMethods ??= methodsOf(protobuf.parse(HEALTH_PROTO, { keepCase: true }).root)).get(method)
        : undefined)
    if (!def)
      throw new Error(`method "${method}" not found in file descriptors (load its .proto file with client.load() in the init context)`)
    if (def.stream !== stream)
      throw new Error(
        stream
          ? `method "${method}" is a unary RPC: call it with client.invoke() or client.asyncInvoke()`
          : `method "${method}" is a streaming RPC: use new grpc.Stream(client, '${method.slice(1)}')`,
      )
    return { conn: c.conn, def, method }
  }

  /** grpc_req_duration with k6's tags, and the connection's traffic since the last call. */
  private record(conn: GrpcConn, method: string, spec: CallSpec, status: number, ms: number): void {
    const slash = method.lastIndexOf('/')
    const tags: Tags = {
      ...spec.tags,
      url: `${conn.addr}${method}`,
      service: method.slice(1, slash),
      method: method.slice(slash + 1),
      status: String(status),
    }
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
    const timeoutMs =
      spec.timeout === undefined || spec.timeout === null
        ? 60_000
        : parseDuration(spec.timeout, 'invalid grpc.invoke() parameters: invalid timeout value')
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
      status = Code.Internal
      statusMessage = `grpc: failed to unmarshal the received message: ${(e as Error).message}`
      message = withDefaults(def.response, {})
    }
    const error = status === Code.OK ? null : { code: status, message: statusMessage, details: [] }
    return JSON.stringify({ status, message, headers: r.headers, trailers: r.trailers, error })
  }

  /**
   * `--http-debug` for a unary call, in k6's layout (Out Header, Out Payload, In Header, In
   * Trailer, In Payload; the payloads with =full, here as ProtoJSON rather than prototext).
   */
  private debug(
    d: NonNullable<GrpcHost['debug']>,
    conn: GrpcConn,
    method: string,
    response: protobuf.Type,
    spec: CallSpec,
    body: Uint8Array,
    r: Reply,
  ): void {
    const md = (m: Record<string, string[] | string>) =>
      Object.entries(m)
        .map(([k, v]) => `${k}: ${[v].flat().join(', ')}\n`)
        .join('')
    d.log(
      `Out Header:\nFull Method: ${method}\nRemote Address: ${conn.remote()}\n${md({ 'content-type': 'application/grpc', 'user-agent': this.host.userAgent, ...spec.metadata })}`,
    )
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
    const emit = (m: string, v: number, t?: Tags) =>
      this.host.emit(m, v, t ?? (spec.tags.group === undefined ? {} : { group: spec.tags.group }))
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
