/**
 * Cookie jars with k6's semantics (Go's net/http/cookiejar, RFC 6265): host-only and domain
 * cookies, path matching, expiry (Expires / Max-Age), Secure only over https. One jar per VU
 * (cleared between iterations unless noCookiesReset), plus the jars scripts make with
 * `new http.CookieJar()`.
 */

export interface Cookie {
  name: string
  value: string
  domain: string
  hostOnly: boolean
  /** The Domain attribute as the server sent it (without a leading dot), '' when absent. */
  domainAttr: string
  path: string
  /** ms since the epoch; null = a session cookie. */
  expires: number | null
  secure: boolean
  httpOnly: boolean
  maxAge: number
  created: number
}

/** k6's Response.cookies entry. */
export interface ResponseCookie {
  name: string
  value: string
  domain: string
  path: string
  httpOnly: boolean
  secure: boolean
  maxAge: number
  expires: number
}

/** A request cookie from `params.cookies`: `replace` drops the jar's cookie of the same name. */
export interface RequestCookie {
  value: string
  replace: boolean
}

const isIP = (h: string): boolean => /^\d+\.\d+\.\d+\.\d+$/.test(h) || h.includes(':')

function domainMatch(host: string, domain: string): boolean {
  return host === domain || (!isIP(host) && host.endsWith('.' + domain))
}

function pathMatch(reqPath: string, cookiePath: string): boolean {
  if (reqPath === cookiePath) return true
  return reqPath.startsWith(cookiePath) && (cookiePath.endsWith('/') || reqPath[cookiePath.length] === '/')
}

/** RFC 6265 5.1.4: the directory of the request path. */
function defaultPath(path: string): string {
  if (!path.startsWith('/')) return '/'
  const i = path.lastIndexOf('/')
  return i <= 0 ? '/' : path.slice(0, i)
}

/**
 * Parses one Set-Cookie header as received from `url`; null when it is malformed, or (unless
 * `anyDomain`, for Response.cookies, which shows every cookie) when its Domain is not the URL's.
 */
export function parseSetCookie(header: string, url: URL, now = Date.now(), anyDomain = false): Cookie | null {
  const [pair = '', ...attrs] = header.split(';')
  const eq = pair.indexOf('=')
  if (eq <= 0) return null
  const name = pair.slice(0, eq).trim()
  if (!name) return null
  let value = pair.slice(eq + 1).trim()
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '')
  const c: Cookie = {
    name,
    value,
    domain: host,
    hostOnly: true,
    domainAttr: '',
    path: defaultPath(url.pathname),
    expires: null,
    secure: false,
    httpOnly: false,
    maxAge: 0,
    created: now,
  }
  let maxAgeSet = false
  for (const a of attrs) {
    const i = a.indexOf('=')
    const key = (i < 0 ? a : a.slice(0, i)).trim().toLowerCase()
    const val = i < 0 ? '' : a.slice(i + 1).trim()
    if (key === 'domain' && val) {
      const d = val.replace(/^\./, '').toLowerCase()
      if (!anyDomain && !domainMatch(host, d)) return null // a server may not set cookies for another domain
      c.domain = d
      c.domainAttr = d
      c.hostOnly = isIP(host) // an IP host keeps host-only cookies (Go's jar does the same)
    } else if (key === 'path') c.path = val.startsWith('/') ? val : defaultPath(url.pathname)
    else if (key === 'secure') c.secure = true
    else if (key === 'httponly') c.httpOnly = true
    else if (key === 'max-age' && /^-?\d+$/.test(val)) {
      maxAgeSet = true
      c.maxAge = Number(val)
      c.expires = c.maxAge <= 0 ? 0 : now + c.maxAge * 1000
    } else if (key === 'expires' && !maxAgeSet) {
      const t = Date.parse(val)
      if (!Number.isNaN(t)) c.expires = t
    }
  }
  return c
}

export class CookieJar {
  private cookies: Cookie[] = []

  /** Stores the cookies a response from `url` sets (Set-Cookie headers). */
  store(url: URL, headers: string[] | string | undefined): void {
    // Most responses set none: `[headers ?? []].flat()` cost ~2.5 µs a request in a worker's profile.
    if (headers === undefined) return
    for (const h of typeof headers === 'string' ? [headers] : headers) {
      const c = parseSetCookie(h, url)
      if (c) this.put(c)
    }
  }

  /** Adds or replaces a cookie; an expired one removes its namesake. */
  put(c: Cookie): void {
    const i = this.cookies.findIndex((x) => x.name === c.name && x.domain === c.domain && x.path === c.path)
    if (i >= 0) {
      c.created = this.cookies[i]!.created
      this.cookies.splice(i, 1)
    }
    if (c.expires === null || c.expires > Date.now()) this.cookies.push(c)
  }

  /** The cookies to send to `url`, most specific path first (RFC 6265 5.4). */
  matching(url: URL, now = Date.now()): Cookie[] {
    const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '')
    const https = url.protocol === 'https:' || url.protocol === 'wss:'
    this.cookies = this.cookies.filter((c) => c.expires === null || c.expires > now)
    return this.cookies
      .filter(
        (c) =>
          (c.hostOnly ? host === c.domain : domainMatch(host, c.domain)) && pathMatch(url.pathname || '/', c.path) && (!c.secure || https),
      )
      .sort((a, b) => b.path.length - a.path.length || a.created - b.created)
  }

  /** The Cookie header for `url`, with `params.cookies` merged in (replace: true hides the jar's). */
  header(url: URL, extra?: Record<string, RequestCookie>): string {
    if (!this.cookies.length && !extra) return '' // the common case: nothing to send, nothing to allocate
    extra ??= {}
    const own = Object.entries(extra)
    const hidden = new Set(own.filter(([, c]) => c.replace).map(([n]) => n))
    const pairs = this.matching(url)
      .filter((c) => !hidden.has(c.name))
      .map((c) => `${c.name}=${c.value}`)
    return [...pairs, ...own.map(([n, c]) => `${n}=${c.value}`)].join('; ')
  }

  /** `jar.set(url, name, value, options)`: as if the server at `url` had set it. */
  set(
    url: URL,
    name: string,
    value: string,
    o: { domain?: string; path?: string; expires?: string; max_age?: number; secure?: boolean; http_only?: boolean } = {},
  ): void {
    const parts = [`${name}=${value}`]
    if (o.domain) parts.push(`Domain=${o.domain}`)
    if (o.path) parts.push(`Path=${o.path}`)
    if (o.expires) parts.push(`Expires=${o.expires}`)
    if (o.max_age !== undefined && o.max_age !== null) parts.push(`Max-Age=${Math.trunc(Number(o.max_age))}`)
    if (o.secure) parts.push('Secure')
    if (o.http_only) parts.push('HttpOnly')
    const c = parseSetCookie(parts.join('; '), url)
    if (!c) throw new Error(`cannot set cookie '${name}' for ${url.href}: its domain does not match the URL`)
    this.put(c)
  }

  /** `jar.cookiesForURL(url)`: name → values. */
  forURL(url: URL): Record<string, string[]> {
    const out: Record<string, string[]> = {}
    for (const c of this.matching(url)) (out[c.name] ??= []).push(c.value)
    return out
  }

  /** Removes the cookies `url` would get (all of them without a URL); only `name` when given. */
  remove(url?: URL, name?: string): void {
    if (!url) {
      this.cookies = []
      return
    }
    const gone = new Set(this.matching(url).filter((c) => name === undefined || c.name === name))
    this.cookies = this.cookies.filter((c) => !gone.has(c))
  }

  clear(): void {
    this.cookies = []
  }
}

/** k6's Response.cookies for one response's Set-Cookie headers. */
export function responseCookies(headers: string[] | string | undefined, url: URL): Record<string, ResponseCookie[]> {
  const out: Record<string, ResponseCookie[]> = {}
  for (const h of [headers ?? []].flat()) {
    const c = parseSetCookie(h, url, Date.now(), true)
    if (!c) continue
    ;(out[c.name] ??= []).push({
      name: c.name,
      value: c.value,
      domain: c.domainAttr,
      path: c.path,
      httpOnly: c.httpOnly,
      secure: c.secure,
      maxAge: c.maxAge,
      expires: c.expires ?? 0,
    })
  }
  return out
}

/**
 * The jars of one VU: id 0 is the VU's own (`http.cookieJar()`), others come from
 * `new http.CookieJar()`. Jars made during an iteration are dropped when it ends.
 */
export class JarStore {
  private jars = new Map<number, { jar: CookieJar; keep: boolean }>()
  private next = 1
  keepNew = true

  constructor(readonly vuJar: CookieJar) {
    this.jars.set(0, { jar: vuJar, keep: true })
  }

  get(id: number): CookieJar {
    const j = this.jars.get(id)
    if (!j)
      throw new Error(
        'this CookieJar was made in an earlier iteration (jars made inside an iteration end with it); make it in the init context to keep it',
      )
    return j.jar
  }

  endIteration(): void {
    for (const [id, j] of this.jars) if (!j.keep) this.jars.delete(id)
  }

  /** One call from the VM: `[op, jar, url, name, value, options]` → JSON. */
  call(json: string): string {
    const [op, id, url, name, value, opts] = JSON.parse(json) as [string, number, string, string, string, Record<string, unknown> | null]
    if (op === 'new') {
      const n = this.next++
      this.jars.set(n, { jar: new CookieJar(), keep: this.keepNew })
      return String(n)
    }
    const jar = this.get(id)
    let u: URL
    try {
      u = new URL(String(url))
    } catch {
      throw new Error(`invalid URL '${url}'`)
    }
    switch (op) {
      case 'set':
        jar.set(u, String(name), String(value), opts ?? {})
        return 'null'
      case 'forURL':
        return JSON.stringify(jar.forURL(u))
      case 'clear':
        jar.remove(u)
        return 'null'
      case 'delete':
        jar.remove(u, String(name))
        return 'null'
    }
    throw new Error(`unknown cookie jar operation '${op}'`)
  }
}
