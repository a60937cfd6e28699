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
import dns from 'node:dns'
import { netRules, type NetRules } from './netrules.ts'
import { performance } from 'node:perf_hooks'
import type { IncomingHttpHeaders } from 'node:http'

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

/** Response headers as Node names them: lower-case keys, `set-cookie` a list, others joined by ', '. */
export type RawHeaders = IncomingHttpHeaders

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
  /** The response being read; null while idle. */
  onData: ((chunk: Buffer) => void) | null
  onEnd: ((err?: NodeJS.ErrnoException) => void) | null
  dead: boolean
}

/** One origin's connections: idle ones to reuse, and a limit with waiters beyond it. */
interface Origin {
  idle: Conn[]
  open: number
  waiters: (() => void)[]
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
    for (const c of o.idle) {
      c.h2?.destroy()
      c.sock.destroy()
    }
  }
  t.origins.clear()
}

function errno(message: string, code: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(message)
  e.code = code
  return e
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
  const pattern = tr.rules.blockedBy(hostname)
  if (pattern) return refused(errno(`hostname (${hostname}) is in a blocked pattern (${pattern})`, 'KILN_BLOCKED_HOSTNAME'))
  // An address written in the URL (or given by `hosts`) is not looked up: check it here.
  const dialled = tr.rules.target(hostname, Number(url.port) || (url.protocol === 'https:' ? 443 : 80)).host
  const range = net.isIP(dialled) ? tr.rules.blacklistedBy(dialled) : null
  if (range) return refused(errno(`IP (${dialled}) is in a blacklisted range (${range})`, 'KILN_BLACKLISTED_IP'))
  const key = `${url.protocol}//${url.host}`
  let origin = tr.origins.get(key)
  if (!origin) tr.origins.set(key, (origin = { idle: [], open: 0, waiters: [] }))
  const deadline = t0 + timeoutMs
  while (!origin.idle.length && origin.open >= tr.maxSockets) await new Promise<void>((r) => origin.waiters.push(r))
  let conn = takeIdle(origin, pin)
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
  if (reuse && !conn.dead) origin.idle.push(conn)
  else {
    origin.open--
    conn.dead = true
    conn.h2?.destroy()
    conn.sock.destroy()
  }
  origin.waiters.shift()?.()
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
    : net.connect({ host, port, lookup, ...local })
  sock.setNoDelay(true)
  origin.open++
  const conn: Conn = { sock, tlsVersion: '', h2: secure ? undefined : null, onData: null, onEnd: null, dead: false }
  sock.once('lookup', () => (marks.lookup = performance.now()))
  sock.once('connect', () => (marks.connect = performance.now()))
  const readH1 = (): void => void sock.on('data', (c: Buffer) => conn.onData?.(c))
  if (secure) {
    sock.once('secureConnect', () => {
      marks.tls = performance.now()
      conn.tlsVersion = (sock as tls.TLSSocket).getProtocol() ?? ''
      // After a GOAWAY the session takes no new request: retired when idle, closed after the one in flight.
      const retire = (): void => (conn.onEnd ? void (conn.dead = true) : gone())
      if ((sock as tls.TLSSocket).alpnProtocol === 'h2') conn.h2 = openH2(url, sock as tls.TLSSocket, retire, gone)
      else {
        conn.h2 = null
        readH1()
      }
    })
  } else readH1()
  const gone = (err?: NodeJS.ErrnoException): void => {
    if (conn.dead) return
    conn.dead = true
    const end = conn.onEnd
    if (end) end(err)
    else {
      // Closed while idle: forget it.
      const i = origin.idle.indexOf(conn)
      if (i >= 0) origin.idle.splice(i, 1)
      origin.open--
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
 * DNS through the blacklist: an address in a blacklisted range fails the connection before it is
 * dialled (k6 error 1110). Node calls this with `all: true` (trying each address in turn).
 */
export function checkedLookup(rules: NetRules): net.LookupFunction {
  return (hostname, options, callback) => {
    const banned = (ip: string): NodeJS.ErrnoException | null => {
      const range = rules.blacklistedBy(ip)
      return range ? errno(`IP (${ip}) is in a blacklisted range (${range})`, 'KILN_BLACKLISTED_IP') : null
    }
    if (rules.dns) {
      return resolveWithPolicy(rules, hostname, (err, a) => {
        if (err || !a) return callback(err ?? errno(`lookup ${hostname}: no address`, 'ENOTFOUND'), '', 4)
        const bad = banned(a.address)
        if (bad) return callback(bad, '', 4)
        if ((options as dns.LookupOptions).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, [a])
        callback(null, a.address, a.family)
      })
    }
    dns.lookup(hostname, options, (err, address, family) => {
      if (err) return callback(err, address as string, family)
      if (Array.isArray(address)) {
        const bad = address.map((a) => banned(a.address)).find(Boolean)
        return bad ? callback(bad, '', 4) : (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, address)
      }
      const bad = banned(address)
      return bad ? callback(bad, '', 4) : callback(null, address, family)
    })
  }
}

/** A VU's looked-up names under k6's `dns` option: addresses kept for `ttl`, a round-robin cursor. */
const dnsCaches = new WeakMap<NetRules, Map<string, { addrs: dns.LookupAddress[]; until: number; next: number }>>()

/**
 * k6's `dns`: the name's addresses filtered and ordered by `policy` (preferIPv4 puts IPv4 first,
 * onlyIPv6 drops the others…), kept for `ttl`, and one of them dialled by `select`.
 */
function resolveWithPolicy(
  rules: NetRules,
  hostname: string,
  cb: (err: NodeJS.ErrnoException | null, a?: dns.LookupAddress) => void,
): void {
  const o = rules.dns!
  let cache = dnsCaches.get(rules)
  if (!cache) dnsCaches.set(rules, (cache = new Map()))
  const pick = (e: { addrs: dns.LookupAddress[]; next: number }): void => {
    if (!e.addrs.length) return cb(errno(`lookup ${hostname}: no address allowed by dns.policy ${o.policy}`, 'ENOTFOUND'))
    const i = o.select === 'first' ? 0 : o.select === 'random' ? Math.floor(Math.random() * e.addrs.length) : e.next++ % e.addrs.length
    cb(null, e.addrs[i])
  }
  const hit = cache.get(hostname)
  if (hit && hit.until > performance.now()) return pick(hit)
  dns.lookup(hostname, { all: true }, (err, all) => {
    if (err) return cb(err)
    const v4 = all.filter((a) => a.family === 4)
    const v6 = all.filter((a) => a.family === 6)
    const addrs =
      o.policy === 'onlyIPv4'
        ? v4
        : o.policy === 'onlyIPv6'
          ? v6
          : o.policy === 'preferIPv4'
            ? v4.length
              ? v4
              : v6
            : o.policy === 'preferIPv6'
              ? v6.length
                ? v6
                : v4
              : all
    const e = { addrs, until: performance.now() + o.ttlMs, next: 0 }
    cache.set(hostname, e)
    pick(e)
  })
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
      release(origin, conn, !err && !tr.rules.noReuse && (h2res !== null || parser.keepAlive))
      resolve(raw)
    }
    const timer = setTimeout(() => finish(errno('request timeout', 'KILN_TIMEOUT')), Math.max(0, deadline - performance.now()))
    conn.onData = (chunk) => {
      if (tFirst < 0) tFirst = performance.now()
      raw.received += chunk.length
      try {
        if (parser.push(chunk)) finish()
      } catch (e) {
        finish(errno(`malformed HTTP response: ${(e as Error).message}`, 'KILN_BAD_RESPONSE'))
      }
    }
    conn.onEnd = (err) => {
      // A response without a length ends with the connection.
      if (!err && parser.headersDone && parser.endsAtClose()) return finish()
      finish(err ?? errno(raw.received ? 'unexpected EOF' : 'connection reset by peer', 'ECONNRESET'))
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
    const go = (): void => (conn.h2 ? sendH2(conn.h2) : sendH1())
    // A new TLS connection: h2 or HTTP/1.1 is known when the handshake is done.
    if (conn.h2 === undefined) sock.once('secureConnect', go)
    else go()
  })
}

/** The HTTP/2 session on a TLS socket whose handshake chose h2. */
function openH2(url: URL, sock: tls.TLSSocket, retire: () => void, gone: (err?: NodeJS.ErrnoException) => void): http2.ClientHttp2Session {
  const session = http2.connect(url.origin, { createConnection: () => sock })
  session.on('goaway', retire)
  session.on('error', (e: NodeJS.ErrnoException) => gone(e))
  session.on('close', () => gone())
  return session
}

// Connection-specific headers HTTP/2 forbids (RFC 9113 §8.2.2); Host becomes :authority.
const H1_ONLY = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host'])

/** The request's serialised HTTP/1.1 head as HTTP/2 headers. */
function h2Headers(head: string): http2.OutgoingHttpHeaders {
  const lines = head.split('\r\n')
  const first = lines[0]!.split(' ')
  const out: http2.OutgoingHttpHeaders = { ':method': first[0], ':path': first[1], ':scheme': 'https' }
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!
    if (!l) continue
    const c = l.indexOf(':')
    const k = l.slice(0, c).toLowerCase()
    const v = l.slice(c + 1).trim()
    if (k === 'host') out[':authority'] = v
    else if (!H1_ONLY.has(k)) {
      const had = out[k]
      out[k] = had === undefined ? v : [...[had].flat().map(String), v]
    }
  }
  return out
}

const EMPTY = Buffer.alloc(0)

/**
 * An HTTP/1.x response parser fed chunk by chunk: status line, headers, then a body delimited
 * by Content-Length, chunked encoding, or the end of the connection. 1xx responses are skipped.
 */
export class ResponseParser {
  status = 0
  statusText = ''
  headers: RawHeaders = {}
  headersDone = false
  keepAlive = true
  private buf: Buffer = EMPTY
  private chunks: Buffer[] = []
  private remaining = -1 // body bytes left (Content-Length), -1 unknown
  private chunked = false
  private chunkLeft = 0 // bytes left in the current chunk (+2 for its CRLF), 0 = at a size line
  private untilClose = false
  private done = false

  constructor(private readonly noBody: boolean) {}

  /** Feeds bytes; true when the response is complete. Throws on malformed input. */
  push(chunk: Buffer): boolean {
    if (this.done) return true
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk
    while (!this.headersDone) {
      const end = this.buf.indexOf('\r\n\r\n')
      if (end < 0) {
        if (this.buf.length > 1 << 20) throw new Error('response headers over 1 MiB')
        return false
      }
      const block = this.buf.toString('latin1', 0, end)
      this.buf = this.buf.subarray(end + 4)
      this.head(block)
    }
    return this.bodyBytes()
  }

  /** Whether the body runs until the server closes the connection. */
  endsAtClose(): boolean {
    if (this.untilClose) this.done = true
    return this.untilClose
  }

  body(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0]! : this.chunks.length ? Buffer.concat(this.chunks) : EMPTY
  }

  private head(block: string): void {
    const lines = block.split('\r\n')
    const m = /^HTTP\/(\d)\.(\d) (\d{3})(?: (.*))?$/.exec(lines[0] ?? '')
    if (!m) throw new Error(`bad status line '${(lines[0] ?? '').slice(0, 80)}'`)
    const status = Number(m[3])
    const headers: RawHeaders = {}
    for (let i = 1; i < lines.length; i++) {
      const l = lines[i]!
      const c = l.indexOf(':')
      if (c <= 0) throw new Error(`bad header line '${l.slice(0, 80)}'`)
      const k = l.slice(0, c).trim().toLowerCase()
      const v = l.slice(c + 1).trim()
      if (k === 'set-cookie') (headers['set-cookie'] ??= []).push(v)
      else {
        const had = headers[k]
        headers[k] = had === undefined ? v : `${had as string}, ${v}`
      }
    }
    if (status >= 100 && status < 200) return // 100 Continue, 103 Early Hints: the real one follows
    this.status = status
    this.statusText = `${status} ${m[4] ?? ''}`.trimEnd()
    this.headers = headers
    this.headersDone = true
    const conn = String(headers['connection'] ?? '').toLowerCase()
    const http10 = m[1] === '1' && m[2] === '0'
    this.keepAlive = http10 ? conn.includes('keep-alive') : !conn.includes('close')
    const te = String(headers['transfer-encoding'] ?? '').toLowerCase()
    if (this.noBody || status === 204 || status === 304) this.remaining = 0
    else if (te.includes('chunked')) this.chunked = true
    else if (headers['content-length'] !== undefined) {
      const n = Number(String(headers['content-length']).split(',')[0])
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`bad Content-Length '${String(headers['content-length'])}'`)
      this.remaining = n
    } else {
      this.untilClose = true
      this.keepAlive = false
    }
  }

  private bodyBytes(): boolean {
    if (this.untilClose) {
      if (this.buf.length) this.chunks.push(this.buf)
      this.buf = EMPTY
      return false
    }
    if (!this.chunked) {
      const take = Math.min(this.remaining, this.buf.length)
      if (take) this.chunks.push(this.buf.subarray(0, take))
      this.remaining -= take
      this.buf = EMPTY
      return (this.done = this.remaining === 0)
    }
    for (;;) {
      if (this.chunkLeft > 0) {
        const take = Math.min(this.chunkLeft, this.buf.length)
        // The chunk's data, then its trailing CRLF (the last 2 of chunkLeft), which is dropped.
        const data = Math.min(take, Math.max(0, this.chunkLeft - 2))
        if (data) this.chunks.push(this.buf.subarray(0, data))
        this.chunkLeft -= take
        this.buf = this.buf.subarray(take)
        if (this.chunkLeft > 0) return false
        continue
      }
      const nl = this.buf.indexOf('\r\n')
      if (nl < 0) {
        if (this.buf.length > 4096) throw new Error('chunk size line too long')
        return false
      }
      const line = this.buf.toString('latin1', 0, nl)
      const size = parseInt(line, 16)
      if (!/^[0-9a-fA-F]+/.test(line) || !Number.isSafeInteger(size)) throw new Error(`bad chunk size '${line.slice(0, 40)}'`)
      if (size === 0) {
        // Trailers end with an empty line.
        const end = this.buf.indexOf('\r\n\r\n', nl)
        if (end < 0 && this.buf.indexOf('\r\n', nl + 2) !== nl + 2) return false
        this.buf = EMPTY
        return (this.done = true)
      }
      this.buf = this.buf.subarray(nl + 2)
      this.chunkLeft = size + 2
    }
  }
}
