/**
 * The host side of `k6/http`: one request (following redirects) with k6's timings, system tags,
 * error codes and metrics. The VU's JS side builds the request and wraps the result in a Response.
 */
import { randomUUID } from 'node:crypto'
import zlib from 'node:zlib'
import type { SampleSink, Tags } from '../../results/metrics.ts'
import { AuthFlow, takeCredentials } from './auth.ts'
import { CookieJar, responseCookies, type RequestCookie, type ResponseCookie } from './cookies.ts'
import { netRules, type NetOptions } from './netrules.ts'
import {
  closeTransport,
  newTransport,
  refused,
  send,
  type Pin,
  type Raw,
  type RawHeaders,
  type Timings,
  type Transport,
} from './transport.ts'

export type { Timings }

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
  /** `params.auth`: how credentials in the URL are sent (basic by default, or digest). */
  auth?: string
  /** `params.cookies`, sent with the jar's. */
  cookies?: Record<string, RequestCookie>
  /** `params.jar` as the VM names it: a jar id, or null for no jar (the VU's jar when absent). */
  jar?: number | null
  /** The jar the host resolved `jar` to (null: none; absent: the VU's). */
  cookieJar?: CookieJar | null
  /** `params.compression`: the body's encodings in the order applied ('gzip', 'deflate', 'br'). */
  compression?: string[]
}

const compressors: Record<string, (b: Buffer) => Buffer> = { gzip: zlib.gzipSync, deflate: zlib.deflateSync, br: zlib.brotliCompressSync }

/** `params.compression` applied to a body, as k6: each encoding in turn, named in Content-Encoding. */
function compressBody(body: Buffer, encodings: string[]): Buffer {
  return encodings.reduce((b, e) => compressors[e]!(b), body)
}

export interface ResponseData {
  status: number
  status_text: string
  url: string
  proto: string
  headers: Record<string, string>
  cookies: Record<string, ResponseCookie[]>
  body: string | null
  bodyB64?: boolean
  timings: Timings
  remote_ip: string
  remote_port: number
  tls_version: string
  error: string
  error_code: number
  request: {
    method: string
    url: string
    headers: Record<string, string[]>
    body: string
    cookies: Record<string, { name: string; value: string; replace: boolean }[]>
  }
}

/**
 * A Response as the VU's JS reads it (http.js decodeResponse): the scalar fields as a JSON array,
 * a newline, headers/cookies/timings/request as JSON (parsed only if the script reads them), a
 * newline, and the body as it is. JSON.stringify never writes a raw newline, so the first two
 * newlines are the separators.
 */
export function encodeResponse(r: ResponseData): string {
  const scalars = [
    r.status,
    r.status_text,
    r.url,
    r.proto,
    r.remote_ip,
    r.remote_port,
    r.tls_version,
    r.error,
    r.error_code,
    r.body === null ? 0 : r.bodyB64 ? 2 : 1,
  ]
  // The same text as JSON.stringify of { headers, cookies, timings, request }, the headers' JSON
  // made once for the heads the parser shares (response-parser.ts).
  const headers = headersJson.get(r.headers) ?? JSON.stringify(r.headers)
  return `${JSON.stringify(scalars)}\n{"headers":${headers},"cookies":${JSON.stringify(r.cookies)},"timings":${JSON.stringify(r.timings)},"request":${JSON.stringify(r.request)}}\n${r.body ?? ''}`
}

/**
 * A response's headers as k6 shows them (canonical names, repeated values joined), and their JSON,
 * made once for each head the parser shares between responses (a frozen object): a server repeats
 * its head, so most requests skip ~20 canonical-name lookups and a JSON.stringify here.
 */
const shownHeaders = new WeakMap<RawHeaders, Record<string, string>>()
const headersJson = new WeakMap<Record<string, string>, string>()

function responseHeaders(raw: RawHeaders): Record<string, string> {
  const known = shownHeaders.get(raw)
  if (known) return known
  // Loops rather than entries/fromEntries: this runs for every head (~10 arrays fewer each).
  const shown: Record<string, string> = {}
  for (const k in raw) {
    const v = raw[k]
    if (v !== undefined) shown[canonical(k)] = Array.isArray(v) ? v.join(', ') : v
  }
  if (Object.isFrozen(raw)) {
    Object.freeze(shown)
    shownHeaders.set(raw, shown)
    headersJson.set(shown, JSON.stringify(shown))
  }
  return shown
}

/** Per-VU HTTP state: its connection pool and cookie jar. */
export interface HttpClient {
  transport: Transport
  userAgent: string
  insecure: boolean
  discardBodies: boolean
  /** The VU's cookie jar (`http.cookieJar()`). */
  jar: CookieJar
  /** Called with each request before it is sent and each response (`--http-debug`). */
  debug?: (line: string, group: string, requestId: string) => void
  /** `--http-debug=full`: the dumps include the bodies. */
  debugBodies?: boolean
  /** The tag sets of this VU's requests, made once each. */
  tags: TagMemo
}

export function newClient(o: {
  userAgent: string
  insecure: boolean
  discardBodies: boolean
  maxSockets: number
  net?: NetOptions
  tagIp?: boolean
  vu?: number
}): HttpClient {
  return {
    transport: newTransport({ maxSockets: o.maxSockets, insecure: o.insecure, rules: netRules(o.net, o.vu) }),
    userAgent: o.userAgent,
    insecure: o.insecure,
    discardBodies: o.discardBodies,
    jar: new CookieJar(),
    tags: newTagMemo(o.tagIp === true),
  }
}

export function closeClient(c: HttpClient): void {
  closeTransport(c.transport)
}

/** Go-style canonical header name, as k6 shows: content-type → Content-Type. */
const canonicalNames = new Map<string, string>()
export function canonical(h: string): string {
  let c = canonicalNames.get(h)
  if (c === undefined) {
    c = h.replace(/(^|-)([a-z])/g, (_m, d: string, ch: string) => d + ch.toUpperCase())
    if (canonicalNames.size < 1000) canonicalNames.set(h, c)
  }
  return c
}

/** k6's error codes for network-level failures (javascript-api/error-codes). */
function errorCode(e: NodeJS.ErrnoException): number {
  switch (e.code) {
    case 'ECONNREFUSED':
      return 1212
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 1101
    case 'ECONNRESET':
      return 1220
    case 'EPIPE':
      return 1201
    case 'KILN_TIMEOUT':
      return 1050
    case 'KILN_BLACKLISTED_IP':
      return 1110
    case 'KILN_BLOCKED_HOSTNAME':
      return 1111
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return 1311
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return 1310
  }
  if (e.code?.startsWith('ERR_TLS') || e.code?.includes('CERT') || e.code?.startsWith('ERR_SSL')) return 1300
  return 1000
}

function isExpected(status: number, exp: RequestSpec['expected']): boolean {
  if (!exp) return status >= 200 && status <= 399
  return exp.statuses.includes(status) || exp.ranges.some(([a, b]) => status >= a && status <= b)
}

/** The request line and headers as sent on the wire; throws on a header that would split the request. */
function serialise(method: string, url: URL, headers: Record<string, string>): string {
  let head = `${method} ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n`
  for (const k in headers) {
    const v = headers[k]!
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) throw new Error(`invalid header name '${k}'`)
    if (/[\r\n\0]/.test(v)) throw new Error(`invalid value for header '${k}': it contains a line break`)
    head += `${k}: ${v}\r\n`
  }
  return head + '\r\n'
}

async function once(
  client: HttpClient,
  spec: RequestSpec,
  method: string,
  url: URL,
  headers: Record<string, string>,
  body: Buffer | undefined,
  pin?: Pin,
): Promise<Raw> {
  let head: string
  try {
    head = serialise(method, url, headers)
  } catch (e) {
    return refused(Object.assign(e as Error, { code: 'KILN_BAD_REQUEST' }))
  }
  return send(client.transport, url, method, head, body, spec.timeoutMs, pin)
}

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

/** `--http-debug`: the request as sent (Go's DumpRequestOut layout; the body only with =full). */
function dumpRequest(method: string, url: URL, headers: Record<string, string>, body: Buffer | undefined): string {
  const lines = [
    `${method} ${url.pathname}${url.search} HTTP/1.1`,
    `Host: ${url.host}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ]
  return `Request:\n${lines.join('\n')}\n\n${body ? body.toString('utf8') : ''}`
}

/** `--http-debug`: the response as received, headers sorted by name as Go writes them; the body only with =full. */
function dumpResponse(raw: Raw, full: boolean): string {
  const lines = Object.entries(raw.headers)
    .map(([k, v]) => [canonical(k), v] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .flatMap(([k, v]) => [v ?? []].flat().map((x) => `${k}: ${x}`))
  const body = full ? decompress(raw.body, raw.headers['content-encoding'] as string | undefined).toString('utf8') : ''
  return `Response:\n${raw.proto} ${raw.statusText}\n${lines.join('\n')}\n\n${body}`
}

const NO_JAR = new CookieJar()

/** Adds the Cookie header: an explicit one first, then the jar's cookies and `params.cookies`. */
function addCookies(headers: Record<string, string>, jar: CookieJar | null, url: URL, extra: RequestSpec['cookies']): void {
  const own = (jar ?? NO_JAR).header(url, extra)
  if (own) headers['Cookie'] = [headers['Cookie'], own].filter(Boolean).join('; ')
}

/**
 * URLs parsed once per thread, by their text: a test requests a few URLs over and over, and
 * checking each with URL.canParse, then parsing it, was ~3 % of a VU thread's time. Only URLs
 * without credentials are kept (takeCredentials changes the URL it is given, and only those with
 * credentials); nothing else changes a request's URL. Null for a text that is not a URL.
 */
const urls = new Map<string, URL>()
const MAX_URLS = 1000

export function parsedUrl(s: string): URL | null {
  const known = urls.get(s)
  if (known) return known
  if (!URL.canParse(s)) return null
  const u = new URL(s)
  if (!u.username && !u.password) {
    if (urls.size >= MAX_URLS) urls.clear()
    urls.set(s, u)
  }
  return u
}

/** Performs one k6 request (with redirects), records its metrics, and returns k6's Response fields. */
export async function request(client: HttpClient, spec: RequestSpec, registry: SampleSink, baseTags: Tags): Promise<ResponseData> {
  let url = parsedUrl(spec.url) ?? new URL(spec.url)
  const credentials = takeCredentials(url, spec.auth)
  const auth = credentials ? new AuthFlow(credentials) : null
  const pin: Pin | undefined = credentials?.kind === 'ntlm' ? {} : undefined
  let method = spec.method
  let body: Buffer | undefined = spec.body === undefined ? undefined : Buffer.from(spec.body, spec.bodyB64 ? 'base64' : 'utf8')
  const reqHeaders: Record<string, string> = { 'User-Agent': client.userAgent, ...spec.headers }
  if (spec.compression?.length && body?.length) {
    body = compressBody(body, spec.compression)
    reqHeaders['Content-Encoding'] = spec.compression.join(', ')
  }
  const jar = spec.cookieJar === undefined ? client.jar : spec.cookieJar
  let hops = 0
  for (;;) {
    const headers = { ...reqHeaders }
    addCookies(headers, jar, url, spec.cookies)
    const authorization =
      auth && !Object.keys(headers).some((h) => h.toLowerCase() === 'authorization') ? auth.header(method, url, body) : null
    if (authorization) headers['Authorization'] = authorization
    if (body && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) headers['Content-Length'] = String(body.length)
    // k6's request_id: one per request sent, shared by its request and response dumps.
    const debugId = client.debug ? randomUUID() : ''
    client.debug?.(dumpRequest(method, url, headers, client.debugBodies ? body : undefined), spec.tags.group ?? '', debugId)
    const raw = await once(client, spec, method, url, headers, body, pin)
    jar?.store(url, raw.headers['set-cookie'])
    if (client.debug && !raw.error) client.debug(dumpResponse(raw, !!client.debugBodies), spec.tags.group ?? '', debugId)
    // Digest and NTLM send a request twice: the 401 with the challenge (not a failure), then the answer.
    const challengeStep = !raw.error && !!auth?.challenged(raw.status, raw.headers['www-authenticate'])
    const res = record(raw, spec, method, url, registry, baseTags, client.tags, headers, body, challengeStep || undefined)
    if (challengeStep) continue
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

/**
 * A request's tag sets, kept per VU: the requests of a test mostly repeat a few (URL, status,
 * group…), so building the object (and the samples' key for it) once saves ~10 µs per request.
 * Reused objects are never changed after they are made.
 */
export interface TagMemo {
  base: Tags | null
  request: Map<string, Tags>
  /** data_sent / data_received: the base tags and the group, by group ('\u0000': none). */
  net: Map<string, Tags>
  /** `systemTags` has `ip`: requests are tagged with the remote address. */
  ip: boolean
}

/** Distinct tag sets a VU keeps before it starts over (unique URLs as tags…). */
const MAX_MEMO = 1000

export const newTagMemo = (ip = false): TagMemo => ({ base: null, request: new Map(), net: new Map(), ip })

function tagMemo(memo: TagMemo, baseTags: Tags): TagMemo {
  if (memo.base !== baseTags || memo.request.size > MAX_MEMO || memo.net.size > MAX_MEMO) {
    memo.base = baseTags
    memo.request.clear()
    memo.net.clear()
  }
  return memo
}

function requestTags(
  memo: TagMemo,
  baseTags: Tags,
  raw: Raw,
  spec: RequestSpec,
  method: string,
  shownUrl: string,
  expected: boolean,
  code: number,
  message: string,
): Tags {
  const tagIp = memo.ip
  let key = `${raw.status}\u0001${method}\u0001${shownUrl}\u0001${expected}\u0001${code}\u0001${message}\u0001${raw.tls}\u0001${raw.proto}`
  if (tagIp) key += `\u0001${raw.ip}`
  for (const k in spec.tags) key += `\u0001${k}\u0002${spec.tags[k]}`
  const known = memo.request.get(key)
  if (known) return known
  const tags: Tags = {
    ...baseTags,
    proto: raw.proto || 'HTTP/1.1',
    status: String(raw.status),
    method,
    url: shownUrl,
    name: shownUrl,
    ...spec.tags,
    expected_response: String(expected),
  }
  if (code) tags.error_code = String(code)
  if (raw.error) tags.error = message
  if (raw.tls) tags.tls_version = tlsName(raw.tls)
  if (tagIp && raw.ip) tags.ip = raw.ip
  memo.request.set(key, tags)
  return tags
}

function netTagsFor(memo: TagMemo, baseTags: Tags, group: string | undefined): Tags {
  const tags = { ...baseTags, ...(group !== undefined ? { group } : {}) }
  memo.net.set(group ?? '\u0000', tags)
  return tags
}

function record(
  raw: Raw,
  spec: RequestSpec,
  method: string,
  url: URL,
  registry: SampleSink,
  baseTags: Tags,
  memo: TagMemo,
  headers: Record<string, string>,
  body: Buffer | undefined,
  expectedAnyway?: boolean,
): ResponseData {
  const e = raw.error
  const code = e ? errorCode(e) : raw.status >= 400 ? 1000 + raw.status : 0
  const message = e ? (e.code === 'ECONNREFUSED' ? `dial tcp ${url.host}: connect: connection refused` : e.message) : ''
  const shownUrl = url.href
  const expected = !e && (expectedAnyway || isExpected(raw.status, spec.expected))
  const tags = requestTags(tagMemo(memo, baseTags), baseTags, raw, spec, method, shownUrl, expected, code, message)
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
  const netTags = memo.net.get(spec.tags.group ?? '\u0000') ?? netTagsFor(memo, baseTags, spec.tags.group)
  if (raw.sent) registry.add('data_sent', raw.sent, netTags, now)
  if (raw.received) registry.add('data_received', raw.received, netTags, now)
  const resHeaders = responseHeaders(raw.headers)
  const setCookie = raw.headers['set-cookie']
  const cookies = setCookie === undefined ? {} : responseCookies(setCookie, url)
  const sentHeaders: Record<string, string[]> = {}
  for (const k in headers) sentHeaders[canonical(k)] = [headers[k]!]
  return {
    status: raw.status,
    status_text: raw.statusText,
    url: shownUrl,
    proto: raw.status ? raw.proto : '',
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
      headers: sentHeaders,
      body: body ? body.toString('utf8') : '',
      cookies: spec.cookies
        ? Object.fromEntries(Object.entries(spec.cookies).map(([n, c]) => [n, [{ name: n, value: c.value, replace: c.replace }]]))
        : {},
    },
  }
}
