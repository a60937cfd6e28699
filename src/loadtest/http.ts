/**
 * The host side of `k6/http`: one request (following redirects) with k6's timings, system tags,
 * error codes and metrics. The VU's JS side builds the request and wraps the result in a Response.
 */
import http from 'node:http'
import https from 'node:https'
import zlib from 'node:zlib'
import { performance } from 'node:perf_hooks'
import type { Registry, Tags } from './metrics.ts'

/** What the VU's JS sends for one request (already normalised). */
export interface RequestSpec {
  method: string
  url: string
  body?: string // utf8, or base64 when bodyB64
  bodyB64?: boolean
  headers: Record<string, string>
  tags: Tags // group + user tags (+ name)
  timeoutMs: number
  redirects: number
  responseType: 'text' | 'binary' | 'none'
  expected?: { statuses: number[]; ranges: [number, number][] } | null
}

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

export interface ResponseData {
  status: number
  status_text: string
  url: string
  proto: string
  headers: Record<string, string>
  cookies: Record<string, { name: string; value: string }[]>
  body: string | null
  bodyB64?: boolean
  timings: Timings
  remote_ip: string
  remote_port: number
  tls_version: string
  error: string
  error_code: number
  request: { method: string; url: string; headers: Record<string, string[]>; body: string }
}

/** Per-VU HTTP state: its connection pool and cookie jar. */
export interface HttpClient {
  agent: http.Agent
  tlsAgent: https.Agent
  userAgent: string
  insecure: boolean
  discardBodies: boolean
  jar: Map<string, string> // host → name → value, flattened as `host\tname`
  /** Called for each request before it is sent (`--http-debug`). */
  debug?: (line: string) => void
}

export function newClient(o: { userAgent: string; insecure: boolean; discardBodies: boolean; maxSockets: number }): HttpClient {
  return {
    agent: new http.Agent({ keepAlive: true, maxSockets: o.maxSockets }),
    tlsAgent: new https.Agent({ keepAlive: true, maxSockets: o.maxSockets, rejectUnauthorized: !o.insecure }),
    userAgent: o.userAgent,
    insecure: o.insecure,
    discardBodies: o.discardBodies,
    jar: new Map(),
  }
}

/** Go-style canonical header name, as k6 shows: content-type → Content-Type. */
export const canonical = (h: string): string => h.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase())

function errorCode(e: NodeJS.ErrnoException): number {
  switch (e.code) {
    case 'ECONNREFUSED':
      return 1212
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 1101
    case 'ECONNRESET':
      return 1220
    case 'KILN_TIMEOUT':
      return 1050
  }
  if (e.code?.startsWith('ERR_TLS') || e.code?.includes('CERT')) return 1300
  return 1000
}

function isExpected(status: number, exp: RequestSpec['expected']): boolean {
  if (!exp) return status >= 200 && status <= 399
  return exp.statuses.includes(status) || exp.ranges.some(([a, b]) => status >= a && status <= b)
}

interface Raw {
  status: number
  statusText: string
  headers: http.IncomingHttpHeaders
  body: Buffer
  t: Timings
  ip: string
  port: number
  tls: string
  sent: number
  received: number
  error?: NodeJS.ErrnoException
}

function once(client: HttpClient, spec: RequestSpec, url: URL, headers: Record<string, string>, body: Buffer | undefined): Promise<Raw> {
  return new Promise((resolve) => {
    const tls = url.protocol === 'https:'
    const t0 = performance.now()
    let tSocket = t0
    let tLookup = -1
    let tConnect = -1
    let tTls = -1
    let tSent = -1
    let tHeaders = -1
    let startRead = 0
    let startWrite = 0
    let sock: import('node:net').Socket | null = null
    const raw: Raw = { status: 0, statusText: '', headers: {}, body: Buffer.alloc(0), t: zero(), ip: '', port: 0, tls: '', sent: 0, received: 0 }
    let done = false
    const finish = (err?: NodeJS.ErrnoException): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      const tEnd = performance.now()
      const connStart = tLookup >= 0 ? tLookup : tSocket
      const ready = Math.max(tTls, tConnect, tSocket)
      const sentAt = Math.max(tSent, ready)
      const t = raw.t
      t.blocked = tSocket - t0
      t.looking_up = tLookup >= 0 ? tLookup - tSocket : 0
      t.connecting = tConnect >= 0 ? tConnect - connStart : 0
      t.tls_handshaking = tTls >= 0 ? tTls - tConnect : 0
      if (tHeaders >= 0) {
        t.sending = Math.max(0, sentAt - ready)
        t.waiting = Math.max(0, tHeaders - sentAt)
        t.receiving = tEnd - tHeaders
      }
      t.duration = t.sending + t.waiting + t.receiving
      if (sock) {
        raw.sent = sock.bytesWritten - startWrite
        raw.received = sock.bytesRead - startRead
        raw.ip = sock.remoteAddress ?? ''
        raw.port = sock.remotePort ?? 0
      }
      if (err) raw.error = err
      resolve(raw)
    }
    const opts: https.RequestOptions = { method: spec.method, headers, agent: tls ? client.tlsAgent : client.agent }
    const req = (tls ? https : http).request(url, opts, (res) => {
      tHeaders = performance.now()
      raw.status = res.statusCode ?? 0
      raw.statusText = `${res.statusCode} ${res.statusMessage ?? ''}`
      raw.headers = res.headers
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        raw.body = Buffer.concat(chunks)
        finish()
      })
      res.on('error', (e) => finish(e))
    })
    const timer = setTimeout(() => {
      const e: NodeJS.ErrnoException = new Error('request timeout')
      e.code = 'KILN_TIMEOUT'
      finish(e)
      req.destroy()
    }, spec.timeoutMs)
    req.on('socket', (s) => {
      sock = s
      tSocket = performance.now()
      startRead = s.bytesRead
      startWrite = s.bytesWritten
      if (s.connecting) {
        s.once('lookup', () => (tLookup = performance.now()))
        s.once('connect', () => (tConnect = performance.now()))
        if (tls) s.once('secureConnect', () => {
          tTls = performance.now()
          raw.tls = (s as import('node:tls').TLSSocket).getProtocol?.() ?? ''
        })
      } else if (tls) raw.tls = (s as import('node:tls').TLSSocket).getProtocol?.() ?? ''
    })
    req.on('finish', () => (tSent = performance.now()))
    req.on('error', (e) => finish(e))
    req.end(body)
  })
}

const zero = (): Timings => ({ duration: 0, blocked: 0, looking_up: 0, connecting: 0, tls_handshaking: 0, sending: 0, waiting: 0, receiving: 0 })

function decompress(buf: Buffer, enc: string | undefined): Buffer {
  try {
    if (enc === 'gzip') return zlib.gunzipSync(buf)
    if (enc === 'deflate') return zlib.inflateSync(buf)
    if (enc === 'br') return zlib.brotliDecompressSync(buf)
  } catch {
    return buf
  }
  return buf
}

const tlsName = (p: string): string => ({ 'TLSv1.3': 'tls1.3', 'TLSv1.2': 'tls1.2', 'TLSv1.1': 'tls1.1', TLSv1: 'tls1.0' })[p] ?? p

/** Performs one k6 request (with redirects), records its metrics, and returns k6's Response fields. */
export async function request(client: HttpClient, spec: RequestSpec, registry: Registry, baseTags: Tags): Promise<ResponseData> {
  let url = new URL(spec.url)
  let method = spec.method
  let body = spec.body === undefined ? undefined : Buffer.from(spec.body, spec.bodyB64 ? 'base64' : 'utf8')
  const reqHeaders: Record<string, string> = { 'User-Agent': client.userAgent, ...spec.headers }
  let hops = 0
  for (;;) {
    const headers = { ...reqHeaders }
    const cookies = [...client.jar.entries()].filter(([k]) => k.startsWith(url.host + '\t')).map(([k, v]) => `${k.slice(url.host.length + 1)}=${v}`)
    if (cookies.length) headers['Cookie'] = [headers['Cookie'], ...cookies].filter(Boolean).join('; ')
    if (body && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) headers['Content-Length'] = String(body.length)
    client.debug?.(`Request:\n${method} ${url.pathname}${url.search} HTTP/1.1\nHost: ${url.host}\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\n')}\n`)
    const raw = await once(client, spec, url, headers, body)
    for (const c of [raw.headers['set-cookie'] ?? []].flat()) {
      const [pair] = c.split(';')
      const eq = pair?.indexOf('=') ?? -1
      if (pair && eq > 0) client.jar.set(`${url.host}\t${pair.slice(0, eq).trim()}`, pair.slice(eq + 1).trim())
    }
    const res = record(raw, spec, method, url, registry, baseTags, headers, body)
    const loc = raw.headers.location
    if (!raw.error && raw.status >= 300 && raw.status < 400 && raw.status !== 304 && loc && hops < spec.redirects) {
      hops++
      url = new URL(loc, url)
      if (raw.status === 303 || ((raw.status === 301 || raw.status === 302) && method === 'POST')) {
        method = 'GET'
        body = undefined
      }
      continue
    }
    if (raw.error || spec.responseType === 'none' || client.discardBodies) res.body = null
    else {
      const b = decompress(raw.body, raw.headers['content-encoding'])
      if (spec.responseType === 'binary') {
        res.body = b.toString('base64')
        res.bodyB64 = true
      } else res.body = b.toString('utf8')
    }
    return res
  }
}

function record(raw: Raw, spec: RequestSpec, method: string, url: URL, registry: Registry, baseTags: Tags, headers: Record<string, string>, body: Buffer | undefined): ResponseData {
  const e = raw.error
  const code = e ? errorCode(e) : raw.status >= 400 ? 1000 + raw.status : 0
  const message = e ? (e.code === 'ECONNREFUSED' ? `dial tcp ${url.host}: connect: connection refused` : e.message) : ''
  const shownUrl = url.href
  const expected = !e && isExpected(raw.status, spec.expected)
  const tags: Tags = {
    ...baseTags,
    proto: 'HTTP/1.1',
    status: String(raw.status),
    method,
    url: shownUrl,
    name: shownUrl,
    ...spec.tags,
    expected_response: String(expected),
  }
  if (code) tags.error_code = String(code)
  if (e) tags.error = message
  if (raw.tls) tags.tls_version = tlsName(raw.tls)
  const now = Date.now()
  const t = raw.t
  registry.add('http_reqs', 1, tags, now)
  registry.add('http_req_duration', t.duration, tags, now)
  registry.add('http_req_blocked', t.blocked, tags, now)
  registry.add('http_req_connecting', t.connecting, tags, now)
  registry.add('http_req_tls_handshaking', t.tls_handshaking, tags, now)
  registry.add('http_req_sending', t.sending, tags, now)
  registry.add('http_req_waiting', t.waiting, tags, now)
  registry.add('http_req_receiving', t.receiving, tags, now)
  registry.add('http_req_failed', expected ? 0 : 1, tags, now)
  const netTags = { ...baseTags, ...(spec.tags.group !== undefined ? { group: spec.tags.group } : {}) }
  if (raw.sent) registry.add('data_sent', raw.sent, netTags, now)
  if (raw.received) registry.add('data_received', raw.received, netTags, now)
  const resHeaders: Record<string, string> = {}
  for (const [k, v] of Object.entries(raw.headers)) if (v !== undefined) resHeaders[canonical(k)] = Array.isArray(v) ? v.join(', ') : v
  const cookies: ResponseData['cookies'] = {}
  for (const c of [raw.headers['set-cookie'] ?? []].flat()) {
    const [pair] = c.split(';')
    const eq = pair?.indexOf('=') ?? -1
    if (pair && eq > 0) (cookies[pair.slice(0, eq).trim()] ??= []).push({ name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim() })
  }
  return {
    status: raw.status,
    status_text: raw.statusText,
    url: shownUrl,
    proto: raw.status ? 'HTTP/1.1' : '',
    headers: resHeaders,
    cookies,
    body: null,
    timings: t,
    remote_ip: raw.ip,
    remote_port: raw.port,
    tls_version: raw.tls ? tlsName(raw.tls) : '',
    error: message,
    error_code: code,
    request: {
      method,
      url: shownUrl,
      headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [canonical(k), [v]])),
      body: body ? body.toString('utf8') : '',
    },
  }
}
