import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import { createHash, timingSafeEqual } from 'node:crypto'
import { KilnError, isKilnError } from '../model/errors.ts'
import { nextTurn } from '../store/turns.ts'

/** A request as handlers see it: parsed URL, tenant, and the body on demand. */
export interface Req {
  raw: IncomingMessage
  method: string
  path: string
  query: URLSearchParams
  tenant: string
  /** Reads the whole body, refusing more than the configured limit (413). */
  body(): Promise<Buffer>
}

/** What credential and tenant checks read: the headers of an HTTP/1.1 or HTTP/2 request. */
export interface RequestHeaders {
  headers: IncomingHttpHeaders
}

export type Handler = (req: Req, res: ServerResponse) => Promise<void> | void

/** Sends JSON with a status. */
export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

export function sendBytes(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: Uint8Array | string,
  extra: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.length,
    ...extra,
  })
  res.end(body)
}

/** Maps any error to `{code, message}` with its HTTP status; unexpected errors are 500 and logged. */
export function sendError(res: ServerResponse, e: unknown, log: (msg: string) => void): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  if (isKilnError(e)) {
    sendJson(res, e.status, { ...e.details, code: e.code, message: e.message })
    return
  }
  log(`internal error: ${(e as Error)?.stack ?? String(e)}`)
  sendJson(res, 500, { code: 'KILN_INTERNAL', message: 'internal server error; the server log has the details' })
}

// Bytes of large bodies copied in one turn of the event loop, across requests. A turn reads up to
// 32 chunks of 64 KiB from each ready socket: with eight 15 MB uploads it copied up to 16 MiB into
// fresh pages, 124–154 ms of CPU (their page faults: ~10 ms a MiB under load on this VM); past this
// a request is paused until a later turn.
const COPY_PER_TURN = 2 << 20
let copiedThisTurn = 0
let turnCounted = false

/** Counts `n` bytes copied in this turn; whether the turn's allowance is spent. */
function copied(n: number): boolean {
  copiedThisTurn += n
  if (!turnCounted) {
    turnCounted = true
    setImmediate(() => {
      copiedThisTurn = 0
      turnCounted = false
    })
  }
  return copiedThisTurn >= COPY_PER_TURN
}

/** Reads a request body up to `limit` bytes; more is a 413 and the connection is not read further. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(
      new KilnError(
        'KILN_TOO_LARGE',
        `request body of ${declared} bytes is over the limit of ${limit} bytes (server option --max-body-bytes)`,
      ),
    )
  }
  // A large body of declared length is copied into its buffer as it arrives: gathered at the end,
  // a 15 MB body held the event loop ~60 ms (faulting in the fresh pages), and several ending in
  // one turn held it for longer. Its own memory, so ingest moves it to a worker uncopied. (Node's
  // parser holds a body to its Content-Length.)
  const into = Number.isFinite(declared) && declared > 1 << 20 ? Buffer.allocUnsafeSlow(declared) : undefined
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    req.on('data', (c: Buffer) => {
      if (done) return
      if (into) {
        c.copy(into, size)
        if (copied(c.length)) {
          req.pause()
          void nextTurn().then(() => done || req.resume())
        }
      }
      size += c.length
      if (size > limit) {
        done = true
        req.pause()
        reject(new KilnError('KILN_TOO_LARGE', `request body is over the limit of ${limit} bytes (server option --max-body-bytes)`))
        return
      }
      if (!into) chunks.push(c)
    })
    req.on('end', () => {
      if (!done) {
        done = true
        if (into) resolve(into.subarray(0, size))
        else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size))
      }
    })
    req.on('error', (e) => {
      if (!done) {
        done = true
        reject(new KilnError('KILN_BAD_REQUEST', `request body could not be read: ${e.message}`))
      }
    })
  })
}

// Pyroscope's tenant id rules: at most 150 characters of [A-Za-z0-9!-_.*'()], not "." or "..".
const TENANT_RE = /^[A-Za-z0-9!\-_.*'()]{1,150}$/

/** The tenant of a request: X-Scope-OrgID when multi-tenancy is on, else "anonymous". */
export function tenantOf(req: RequestHeaders, multitenancy: boolean): string {
  if (!multitenancy) return 'anonymous'
  const h = req.headers['x-scope-orgid']
  const id = Array.isArray(h) ? h[0] : h
  if (!id) throw new KilnError('KILN_BAD_TENANT', 'no tenant: multi-tenancy is on, so send the X-Scope-OrgID header')
  if (!TENANT_RE.test(id) || id === '.' || id === '..') {
    throw new KilnError(
      'KILN_BAD_TENANT',
      `invalid tenant id ${JSON.stringify(id.slice(0, 160))}: use up to 150 characters of letters, digits and !-_.*'()`,
    )
  }
  return id
}

/** Checks bearer or basic auth when configured (schemes case-insensitive, RFC 9110 §11.1). */
export function checkAuth(req: RequestHeaders, opts: { authToken?: string; basicAuth?: string }): void {
  if (!opts.authToken && !opts.basicAuth) return
  const h = req.headers.authorization ?? ''
  const m = /^(\S+)\s+(.*)$/.exec(h.trim())
  const scheme = m ? m[1]!.toLowerCase() : undefined
  const cred = m ? m[2]!.trim() : ''
  if (opts.authToken && scheme === 'bearer' && same(cred, opts.authToken)) return
  if (opts.basicAuth && scheme === 'basic' && same(Buffer.from(cred, 'base64').toString('utf8'), opts.basicAuth)) return
  throw new KilnError(
    'KILN_UNAUTHORIZED',
    `missing or wrong credentials: send ${opts.authToken ? "'Authorization: Bearer <token>'" : 'HTTP Basic auth'}`,
  )
}

/** Constant time, length included: both sides are compared as SHA-256 digests (always 32 bytes). */
function same(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest()
  return timingSafeEqual(digest(a), digest(b))
}

/**
 * Reads and discards what is left of a request body, so a client still sending gets the answer
 * (413, 401, …) instead of a reset (EPIPE) when the connection closes under it. Resolves true
 * once the body ended, false after `maxBytes` or `maxMs` (then the connection is closed).
 */
export function drainBody(req: IncomingMessage, maxBytes: number, maxMs = 30_000): Promise<boolean> {
  if (req.readableEnded || req.destroyed) return Promise.resolve(req.readableEnded)
  return new Promise((resolve) => {
    let seen = 0
    const done = (ok: boolean) => {
      clearTimeout(timer)
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onEnd)
      resolve(ok)
    }
    const onData = (c: Buffer) => {
      seen += c.length
      if (seen > maxBytes) done(false)
    }
    const onEnd = () => done(req.readableEnded)
    const timer = setTimeout(() => done(false), maxMs)
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onEnd)
    req.resume()
  })
}

/** Exact-path routes per method, plus prefix routes (static files). */
export class Router {
  private readonly exact = new Map<string, Handler>()
  private readonly prefixes: [string, string, Handler][] = []

  on(method: string, path: string, h: Handler): this {
    this.exact.set(`${method} ${path}`, h)
    return this
  }

  prefix(method: string, prefix: string, h: Handler): this {
    this.prefixes.push([method, prefix, h])
    return this
  }

  find(method: string, path: string): Handler | 'method' | undefined {
    const h = this.exact.get(`${method} ${path}`) ?? (method === 'HEAD' ? this.exact.get(`GET ${path}`) : undefined)
    if (h) return h
    for (const [m, p, ph] of this.prefixes) if ((m === method || (method === 'HEAD' && m === 'GET')) && path.startsWith(p)) return ph
    for (const k of this.exact.keys()) if (k.endsWith(` ${path}`)) return 'method'
    return undefined
  }
}
