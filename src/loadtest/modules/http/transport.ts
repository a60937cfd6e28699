/**
 * HTTP/1.1 on plain sockets for `kiln run`: one request → one write, a small response parser,
 * keep-alive pools per origin. Node's http client spends most of a request's host time on
 * machinery k6 does not need here (agents' event plumbing, IncomingMessage streams, header
 * objects built twice); see src/loadtest/README.md for what it cost.
 *
 * As Go's transport (which k6 uses) does, a request that fails on a reused keep-alive connection
 * before any byte of the response arrived is sent again on a new connection: the server may have
 * closed the idle connection while the request was on its way.
 */
import net from 'node:net'
import tls from 'node:tls'
import http2 from 'node:http2'
import { STATUS_CODES } from 'node:http'
import { performance } from 'node:perf_hooks'
import { netRules, type NetRules } from './netrules.ts'
import { checkedLookup, errno, refusedBeforeLookup } from './lookup.ts'
import { h2Headers, openH2 } from './h2.ts'
import { EMPTY, ResponseParser, type RawHeaders } from './response-parser.ts'

export { ResponseParser, type RawHeaders }

export interface Timings {
  duration: number
  blocked: number
  looking_up: number
  connecting: number
  tls_handshaking: number
  sending: number
  waiting: number
  receiving: number
}

export interface Raw {
  status: number
  statusText: string
  headers: RawHeaders
  body: Buffer
  t: Timings
  ip: string
  port: number
  tls: string
  /** 'HTTP/1.1', or 'HTTP/2.0' when the server chose h2 in the TLS handshake (as Go's client does). */
  proto: string
  sent: number
  received: number
  error?: NodeJS.ErrnoException
}

export const zeroTimings = (): Timings => ({
  duration: 0,
  blocked: 0,
  looking_up: 0,
  connecting: 0,
  tls_handshaking: 0,
  sending: 0,
  waiting: 0,
  receiving: 0,
})

interface Conn {
  sock: net.Socket
  tlsVersion: string
  /** TLS connections: undefined until the handshake says; then an h2 session, or null for HTTP/1.1. */
  h2: http2.ClientHttp2Session | null | undefined
  /** HTTP/1.1: the response being read; null while idle. */
  onData: ((chunk: Buffer) => void) | null
  onEnd: ((err?: NodeJS.ErrnoException) => void) | null
  /** HTTP/2: the ends of the streams in flight on the session, which several requests share. */
  streams: Set<(err?: NodeJS.ErrnoException) => void>
  /** HTTP/2: the server sent GOAWAY; the streams in flight finish, no new one starts. */
  retired: boolean
  dead: boolean
  /** Counted out of its origin's `open` (once). */
  closed: boolean
}

/** One origin's connections: idle ones to reuse, and a limit with waiters beyond it. */
interface Origin {
  idle: Conn[]
  open: number
  waiters: (() => void)[]
  /**
   * The HTTP/2 session every request to the origin shares (streams multiplexed, as Go's transport
   * does), up to `maxSockets` (k6's batchPerHost) streams at once; never in `idle`.
   */
  h2: Conn | null
  /** A TLS handshake in progress: requests wait for it to say h2 or HTTP/1.1 rather than dial more. */
  handshake: Promise<void> | null
}

export interface Transport {
  origins: Map<string, Origin>
  maxSockets: number
  insecure: boolean
  /** hosts, blacklistIPs, blockHostnames, noConnectionReuse, TLS versions and client certificates. */
  rules: NetRules
}

export function newTransport(o: { maxSockets: number; insecure: boolean; rules?: NetRules }): Transport {
  return { origins: new Map(), maxSockets: Math.max(1, o.maxSockets), insecure: o.insecure, rules: o.rules ?? netRules(undefined) }
}

/** An error before any connection: a Raw with nothing sent. */
export function refused(error: NodeJS.ErrnoException): Raw {
  return {
    status: 0,
    statusText: '',
    headers: {},
    body: EMPTY,
    t: zeroTimings(),
    ip: '',
    port: 0,
    tls: '',
    proto: '',
    sent: 0,
    received: 0,
    error,
  }
}

export function closeTransport(t: Transport): void {
  for (const o of t.origins.values()) {
    for (const c of o.h2 ? [...o.idle, o.h2] : o.idle) {
      c.h2?.destroy()
      c.sock.destroy()
    }
  }
  t.origins.clear()
}

/**
 * Keeps a request's exchanges on one connection: NTLM authenticates the connection, not the
 * request, so its challenge and answer must not be split over two (as parallel requests of a
 * batch, releasing connections in between, would otherwise do).
 */
export interface Pin {
  conn?: unknown
}

/** The pinned connection when it is idle, else the most recently released one. */
function takeIdle(origin: Origin, pin: Pin | undefined): Conn | undefined {
  const i = pin?.conn ? origin.idle.indexOf(pin.conn as Conn) : -1
  return i >= 0 ? origin.idle.splice(i, 1)[0] : origin.idle.pop()
}

/**
 * Sends one request and reads its response. `head` is the request line and headers, already
 * serialised (ending with the blank line); never rejects: errors come back in `error`.
 */
export async function send(
  tr: Transport,
  url: URL,
  method: string,
  head: string,
  body: Buffer | undefined,
  timeoutMs: number,
  pin?: Pin,
): Promise<Raw> {
  const t0 = performance.now()
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  const dialled = tr.rules.target(hostname, Number(url.port) || (url.protocol === 'https:' ? 443 : 80)).host
  const refusal = refusedBeforeLookup(tr.rules, hostname, dialled)
  if (refusal) return refused(refusal)
  const key = `${url.protocol}//${url.host}`
  let origin = tr.origins.get(key)
  if (!origin) tr.origins.set(key, (origin = { idle: [], open: 0, waiters: [], h2: null, handshake: null }))
  const deadline = t0 + timeoutMs
  let conn: Conn | undefined
  for (;;) {
    const shared = origin.h2
    if (shared && !shared.dead && !shared.retired) {
      if (shared.streams.size < tr.maxSockets) {
        conn = shared
        break
      }
    } else if (origin.handshake && !origin.idle.length) {
      await origin.handshake
      continue
    } else if (origin.idle.length || origin.open < tr.maxSockets) {
      conn = takeIdle(origin, pin)
      break
    }
    await new Promise<void>((r) => origin.waiters.push(r))
  }
  let raw = await exchange(tr, origin, url, method, head, body, conn, t0, deadline, pin)
  // A reused connection that the server had closed: nothing of the response came back.
  if (conn && raw.error && raw.received === 0 && raw.error.code !== 'KILN_TIMEOUT') {
    conn = undefined
    raw = await exchange(tr, origin, url, method, head, body, undefined, t0, deadline, pin)
  }
  return raw
}

function release(origin: Origin, conn: Conn, reuse: boolean): void {
  conn.onData = null
  conn.onEnd = null
  if (conn.h2) {
    // A stream's failure is the stream's; the session goes when it died, or once drained when it is
    // not the origin's shared one (GOAWAY retired it, or another became shared first).
    if (reuse && !conn.dead && !conn.retired && !origin.h2) origin.h2 = conn
    if (conn.dead || (origin.h2 !== conn && !conn.streams.size)) close(origin, conn)
  } else if (reuse && !conn.dead) origin.idle.push(conn)
  else close(origin, conn)
  origin.waiters.shift()?.()
}

function close(origin: Origin, conn: Conn): void {
  if (origin.h2 === conn) origin.h2 = null
  if (conn.closed) return
  conn.closed = true
  origin.open--
  conn.dead = true
  conn.h2?.destroy()
  conn.sock.destroy()
}

function connect(tr: Transport, origin: Origin, url: URL, marks: { lookup: number; connect: number; tls: number }): Conn {
  const secure = url.protocol === 'https:'
  const name = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  const { host, port } = tr.rules.target(name, Number(url.port) || (secure ? 443 : 80))
  const lookup = checkedLookup(tr.rules)
  const local = tr.rules.localAddress ? { localAddress: tr.rules.localAddress } : {}
  const sock = secure
    ? tls.connect({
        host,
        port,
        lookup,
        ...local,
        servername: net.isIP(name) ? undefined : name,
        rejectUnauthorized: !tr.insecure,
        ALPNProtocols: ['h2', 'http/1.1'],
        ...tr.rules.tls(name),
      })
    : net.connect({ host, port, lookup, ...local, onread: { buffer: readBuffer, callback: (n) => readInto(conn, n) } })
  sock.setNoDelay(true)
  origin.open++
  const conn: Conn = {
    sock,
    tlsVersion: '',
    h2: secure ? undefined : null,
    onData: null,
    onEnd: null,
    streams: new Set(),
    retired: false,
    dead: false,
    closed: false,
  }
  sock.once('lookup', () => (marks.lookup = performance.now()))
  sock.once('connect', () => (marks.connect = performance.now()))
  const readH1 = (): void => void sock.on('data', (c: Buffer) => conn.onData?.(c))
  if (secure) {
    sock.once('secureConnect', () => {
      marks.tls = performance.now()
      conn.tlsVersion = (sock as tls.TLSSocket).getProtocol() ?? ''
      // After a GOAWAY the session takes no new stream: closed once the streams in flight have ended.
      const retire = (): void => {
        conn.retired = true
        if (origin.h2 === conn) origin.h2 = null
        if (!conn.streams.size) gone()
      }
      if ((sock as tls.TLSSocket).alpnProtocol === 'h2') {
        conn.h2 = openH2(url, sock as tls.TLSSocket, retire, gone)
        if (!tr.rules.noReuse && !origin.h2) origin.h2 = conn
      } else {
        conn.h2 = null
        readH1()
      }
    })
    const handshake: Promise<void> = new Promise((done) => {
      sock.once('secureConnect', done)
      sock.once('close', done)
    }).then(() => {
      if (origin.handshake === handshake) origin.handshake = null
    })
    origin.handshake = handshake
  }
  // A plain socket's bytes come through `onread` (above), not as 'data' events.
  const gone = (err?: NodeJS.ErrnoException): void => {
    if (conn.dead) return
    conn.dead = true
    const end = conn.onEnd
    const streams = [...conn.streams]
    if (end) end(err)
    for (const f of streams) f(err)
    if (!end && !streams.length) {
      // Closed while idle: forget it.
      const i = origin.idle.indexOf(conn)
      if (i >= 0) origin.idle.splice(i, 1)
      close(origin, conn)
      origin.waiters.shift()?.()
    }
  }
  // An h2 connection ends through its session (after the streams in flight have ended).
  sock.on('error', (e) => conn.h2 || gone(e))
  sock.on('end', () => conn.h2 || gone())
  sock.on('close', () => conn.h2 || gone())
  return conn
}

/**
 * Where plain sockets read into (net.connect's `onread`): a response's bytes are copied out of it
 * in the callback, which runs before the next read, so one buffer serves a thread's sockets. The
 * 'data' events of a stream cost each response a Readable's push (and a nextTick), and a new
 * buffer of the read's size.
 */
const readBuffer = Buffer.allocUnsafe(64 * 1024)
function readInto(conn: Conn, n: number): boolean {
  conn.onData?.(Buffer.from(readBuffer.subarray(0, n)))
  return true
}

function exchange(
  tr: Transport,
  origin: Origin,
  url: URL,
  method: string,
  head: string,
  body: Buffer | undefined,
  reused: Conn | undefined,
  t0: number,
  deadline: number,
  pin?: Pin,
): Promise<Raw> {
  return new Promise((resolve) => {
    const marks = { lookup: -1, connect: -1, tls: -1 }
    const tSocket = performance.now()
    const conn = reused ?? connect(tr, origin, url, marks)
    if (pin) pin.conn = conn
    const sock = conn.sock
    const raw: Raw = {
      status: 0,
      statusText: '',
      headers: {},
      body: EMPTY,
      t: zeroTimings(),
      ip: '',
      port: 0,
      tls: conn.tlsVersion,
      proto: 'HTTP/1.1',
      sent: 0,
      received: 0,
    }
    const parser = new ResponseParser(method === 'HEAD')
    /** The response of an HTTP/2 stream (no parser: the session gives headers and data). */
    let h2res: { status: number; headers: RawHeaders; chunks: Buffer[] } | null = null
    let h2stream: http2.ClientHttp2Stream | null = null
    let tSent = -1
    let tFirst = -1
    let settled = false
    const finish = (err?: NodeJS.ErrnoException): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      const tEnd = performance.now()
      const ready = Math.max(marks.tls, marks.connect, tSocket)
      const sentAt = Math.max(tSent, ready)
      const t = raw.t
      t.blocked = tSocket - t0
      t.looking_up = marks.lookup >= 0 ? marks.lookup - tSocket : 0
      t.connecting = marks.connect >= 0 ? marks.connect - (marks.lookup >= 0 ? marks.lookup : tSocket) : 0
      t.tls_handshaking = marks.tls >= 0 ? marks.tls - marks.connect : 0
      if (parser.headersDone || h2res) {
        t.sending = Math.max(0, sentAt - ready)
        t.waiting = Math.max(0, tFirst - sentAt)
        t.receiving = tEnd - tFirst
      }
      t.duration = t.sending + t.waiting + t.receiving
      raw.tls = conn.tlsVersion
      raw.ip = sock.remoteAddress ?? ''
      raw.port = sock.remotePort ?? 0
      if (err) {
        raw.error = err
        h2stream?.close(http2.constants.NGHTTP2_CANCEL)
      } else if (h2res) {
        raw.proto = 'HTTP/2.0'
        raw.status = h2res.status
        // HTTP/2 has no reason phrase: Go (so k6) shows the code's text, as here.
        raw.statusText = `${h2res.status} ${STATUS_CODES[h2res.status] ?? ''}`.trimEnd()
        raw.headers = h2res.headers
        raw.body = h2res.chunks.length === 1 ? h2res.chunks[0]! : Buffer.concat(h2res.chunks)
      } else {
        raw.status = parser.status
        raw.statusText = parser.statusText
        raw.headers = parser.headers
        raw.body = parser.body()
      }
      conn.streams.delete(onEnd)
      release(origin, conn, !err && !tr.rules.noReuse && (h2res !== null || parser.keepAlive))
      resolve(raw)
    }
    // Whole milliseconds: Node keeps one list per distinct duration, so requests with the same
    // timeout share one (appended to in O(1)) instead of each adding and removing a list of its own.
    const timer = setTimeout(() => finish(errno('request timeout', 'KILN_TIMEOUT')), Math.max(0, Math.ceil(deadline - performance.now())))
    const onData = (chunk: Buffer): void => {
      if (tFirst < 0) tFirst = performance.now()
      raw.received += chunk.length
      try {
        if (parser.push(chunk)) finish()
      } catch (e) {
        finish(errno(`malformed HTTP response: ${(e as Error).message}`, 'KILN_BAD_RESPONSE'))
      }
    }
    const onEnd = (err?: NodeJS.ErrnoException): void => {
      // A response without a length ends with the connection.
      if (!err && parser.headersDone && parser.endsAtClose()) return finish()
      finish(err ?? errno(raw.received ? 'unexpected EOF' : 'connection reset by peer', 'ECONNRESET'))
    }
    // An HTTP/2 session is shared: its end ends each of its streams in flight.
    if (conn.h2) conn.streams.add(onEnd)
    else {
      conn.onData = onData
      conn.onEnd = onEnd
    }
    const sendH1 = (): void => {
      const msg = body && body.length ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : head
      raw.sent = msg.length
      sock.write(msg, typeof msg === 'string' ? 'latin1' : undefined, () => (tSent = performance.now()))
    }
    const sendH2 = (session: http2.ClientHttp2Session): void => {
      let stream: http2.ClientHttp2Stream
      try {
        stream = h2stream = session.request(h2Headers(head), { endStream: !body?.length })
      } catch (e) {
        return finish(errno(`HTTP/2 request failed: ${(e as Error).message}`, 'ECONNRESET'))
      }
      if (body?.length) stream.end(body)
      raw.sent = head.length + (body?.length ?? 0)
      tSent = performance.now()
      const chunks: Buffer[] = []
      stream.on('response', (h) => {
        tFirst = performance.now()
        const headers: RawHeaders = {}
        for (const k of Object.keys(h)) if (k[0] !== ':') headers[k] = h[k] as string
        h2res = { status: Number(h[':status']), headers, chunks }
        raw.received += Object.keys(h).reduce((n, k) => n + k.length + String(h[k]).length + 4, 0)
      })
      stream.on('data', (c: Buffer) => {
        chunks.push(c)
        raw.received += c.length
      })
      stream.on('end', () => (h2res ? finish() : finish(errno('the HTTP/2 stream ended without a response', 'ECONNRESET'))))
      stream.on('error', (e: NodeJS.ErrnoException) => finish(errno(`HTTP/2 stream error: ${e.message}`, 'ECONNRESET')))
      // After 'end' this is a no-op; before it, the stream was reset or its session went away.
      stream.on('close', () =>
        finish(
          errno(h2res ? 'the HTTP/2 stream closed before the body ended' : 'the HTTP/2 stream closed without a response', 'ECONNRESET'),
        ),
      )
    }
    const go = (): void => {
      if (!conn.h2) return sendH1()
      if (conn.onEnd === onEnd) {
        // The handshake of this new connection chose h2.
        conn.onEnd = conn.onData = null
        conn.streams.add(onEnd)
      }
      sendH2(conn.h2)
    }
    // A new TLS connection: h2 or HTTP/1.1 is known when the handshake is done.
    if (conn.h2 === undefined) sock.once('secureConnect', go)
    else go()
  })
}
