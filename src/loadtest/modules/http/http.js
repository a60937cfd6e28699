// Runs inside each VU's QuickJS runtime: the JS side of `k6/http`. The host (http.ts)
// sends the request and records the metrics; this builds the request and the Response object.
;(function () {
  const H = globalThis.__kh
  const U = globalThis.__k6util
  let defaultExpected = null // set by setResponseCallback; null = k6's default 200–399

  class FileData {
    constructor(data, filename, contentType) {
      this.data = data
      this.filename = filename
      this.content_type = contentType || 'application/octet-stream'
    }
  }
  const enc = encodeURIComponent
  function encodeBody(body, headers) {
    if (body === undefined || body === null) return {}
    if (typeof body === 'string') return { body }
    if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return { body: U.b64encode(body), bodyB64: true }
    const keys = Object.keys(body)
    if (keys.some((k) => body[k] instanceof FileData || (Array.isArray(body[k]) && body[k].some((v) => v instanceof FileData)))) {
      const boundary = '----kilnboundary' + Math.floor(Math.random() * 1e12)
      const parts = []
      for (const k of keys)
        for (const v of Array.isArray(body[k]) ? body[k] : [body[k]]) {
          let head = `--${boundary}\r\nContent-Disposition: form-data; name="${k}"`
          if (v instanceof FileData) {
            head += `; filename="${v.filename || k}"\r\nContent-Type: ${v.content_type}\r\n\r\n`
            parts.push(U.utf8(head), U.bytesOf(v.data), U.utf8('\r\n'))
          } else parts.push(U.utf8(`${head}\r\n\r\n${String(v)}\r\n`))
        }
      parts.push(U.utf8(`--${boundary}--\r\n`))
      const total = parts.reduce((n, p) => n + p.length, 0)
      const all = new Uint8Array(total)
      let o = 0
      for (const p of parts) {
        all.set(p, o)
        o += p.length
      }
      headers['Content-Type'] = headers['Content-Type'] || `multipart/form-data; boundary=${boundary}`
      return { body: U.b64encode(all), bodyB64: true }
    }
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/x-www-form-urlencoded'
    // An array value is the key repeated, as k6's url.Values gives it: topping=onion&topping=bacon.
    return { body: keys.flatMap((k) => (Array.isArray(body[k]) ? body[k] : [body[k]]).map((v) => `${enc(k)}=${enc(String(v))}`)).join('&') }
  }
  function parseTimeout(t) {
    if (t === undefined || t === null) return 60000
    if (typeof t === 'number') return t
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(String(t).trim())
    if (!m) throw new Error(`invalid timeout '${t}'`)
    return Number(m[1]) * { ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2] || 's']
  }

  /** gjson-style path: `a.b`, `items.0.id`, `items.#` (length), `items.#.id` (map). */
  function select(v, path) {
    const parts = String(path).split('.')
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]
      if (v === undefined || v === null) return undefined
      if (p === '#' && Array.isArray(v)) {
        const rest = parts.slice(i + 1).join('.')
        return rest ? v.map((x) => select(x, rest)) : v.length
      }
      v = v[p]
    }
    return v
  }

  // A Response arrives as one string (http.ts encodeResponse): its scalar fields as a
  // JSON array, then headers/cookies/timings/request as JSON parsed on first use, then the body as
  // is. Most iterations read the status and maybe the body: parsing the rest into objects was ~25 µs
  // of VM time per request, and a body went through JSON escaping both ways.
  const LAZY = Symbol('kiln.response.lazy')
  const LAZY_FIELDS = ['headers', 'cookies', 'timings', 'request']
  // The scalars of the last Response decoded, kept: a test's responses mostly repeat them (status,
  // URL, address…), and comparing the text and sharing one read-only array saved 13–25 % of a
  // plain http.get iteration against a JSON.parse per response (bench/loadtest-vu-ab.ts; parsing
  // with split instead of JSON.parse saved nothing: it is the new array and strings each time).
  let lastScalars = ''
  let lastA = null
  function decodeResponse(s) {
    const i = s.indexOf('\n')
    const j = s.indexOf('\n', i + 1)
    const scalars = s.slice(0, i)
    if (scalars !== lastScalars) {
      lastA = JSON.parse(scalars)
      lastScalars = scalars
    }
    const a = lastA
    return new Response(a, s.slice(i + 1, j), a[9] === 0 ? null : s.slice(j + 1))
  }
  /** Makes the lazy fields own properties, as if they had been there from the start. */
  function materialise(r) {
    const lazy = r[LAZY]
    if (lazy === null) return
    r[LAZY] = null
    const o = JSON.parse(lazy)
    for (const k of LAZY_FIELDS) {
      if (!Object.prototype.hasOwnProperty.call(r, k))
        Object.defineProperty(r, k, { value: o[k], writable: true, enumerable: true, configurable: true })
    }
  }

  class Response {
    constructor(a, lazy, body) {
      this.status = a[0]
      this.status_text = a[1]
      this.url = a[2]
      this.proto = a[3]
      this.remote_ip = a[4]
      this.remote_port = a[5]
      this.tls_version = a[6]
      this.error = a[7]
      this.error_code = a[8]
      this.body = a[9] === 2 ? U.b64bytes(body).buffer : body
      this[LAZY] = lazy
    }
    /** JSON.stringify(res) and console.log show every field, as k6's. */
    toJSON() {
      materialise(this)
      return Object.assign({}, this)
    }
    json(selector) {
      if (this.body === null || this.body === undefined) throw new Error('the body is null, so it cannot be parsed as JSON')
      const s = typeof this.body === 'string' ? this.body : U.fromUtf8(new Uint8Array(this.body))
      const v = JSON.parse(s)
      return selector === undefined ? v : select(v, selector)
    }
    /** The body as a k6/html Selection (of `selector` when given); links resolve against `url`. */
    html(selector) {
      const s = typeof this.body === 'string' ? this.body : this.body ? U.fromUtf8(new Uint8Array(this.body)) : ''
      const doc = (globalThis.__k6mods['k6/html'], globalThis.__k6html).parse(s, this.url) // the first read loads k6/html
      return selector === undefined ? doc : doc.find(selector)
    }
    /** Fills and submits a form of this page, as k6: its fields, `fields` on top, the submit button's name. */
    submitForm(o) {
      o = o || {}
      const formSelector = o.formSelector || 'form'
      const form = this.html(formSelector).first()
      if (form.size() === 0) throw new Error(`submitForm: no form found for selector '${formSelector}' in the response of ${this.url}`)
      const el = form.get(0)
      // Every pair (checkbox groups and multiple selects repeat a name); `fields` replace a name's values.
      let pairs = form.serializeArray()
      const button = form.find(o.submitSelector || '[type="submit"]').first()
      if (button.size() && button.attr('name')) pairs.push({ name: button.attr('name'), value: button.val() || '' })
      const given = o.fields || {}
      pairs = pairs.filter((p) => !Object.prototype.hasOwnProperty.call(given, p.name))
      for (const k of Object.keys(given)) pairs.push({ name: k, value: String(given[k]) })
      const query = pairs.map((p) => `${enc(p.name)}=${enc(p.value)}`).join('&')
      const method = (el.getAttribute('method') || 'GET').toUpperCase()
      const action = el.action()
      if (method === 'GET') return request('GET', action.replace(/[?#].*$/, '') + (query ? '?' + query : ''), null, o.params)
      const params = Object.assign({}, o.params)
      const headers = Object.assign({}, params.headers)
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
        headers['Content-Type'] = 'application/x-www-form-urlencoded'
      params.headers = headers
      return request(method, action, query, params)
    }
    /** Follows a link of this page (the first `a[href]`, or `selector`'s). */
    clickLink(o) {
      o = o || {}
      const selector = o.selector || 'a[href]'
      const a = this.html(selector).get(0)
      if (!a) throw new Error(`clickLink: no link found for selector '${selector}' in the response of ${this.url}`)
      return request('GET', a.href(), null, o.params)
    }
  }

  for (const k of LAZY_FIELDS) {
    Object.defineProperty(Response.prototype, k, {
      get() {
        materialise(this)
        return this[k]
      },
      set(v) {
        materialise(this)
        this[k] = v
      },
      configurable: true,
    })
  }

  /** `params.compression` ('gzip', 'gzip, br', …) as a list; k6 rejects what it cannot apply. */
  function compressionOf(c) {
    if (c === undefined || c === null || c === '') return undefined
    const list = String(c)
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean)
    for (const e of list) {
      if (e === 'zstd')
        throw new Error("compression 'zstd' is not available in Kiln (Node's zlib here has no zstd); use gzip, deflate or br")
      if (e !== 'gzip' && e !== 'deflate' && e !== 'br')
        throw new Error(`unknown compression algorithm '${e}'; supported: gzip, deflate, br`)
    }
    return list
  }

  /** Builds the host's request spec from k6's (method, url, body, params). */
  function buildSpec(method, url, body, params) {
    U.vuOnly('http requests')
    params = params || {}
    let name
    if (url && typeof url === 'object' && url.__k6url) {
      name = url.name
      url = url.url
    }
    url = String(url)
    const headers = {}
    for (const k of Object.keys(params.headers || {})) headers[k] = String(params.headers[k])
    if (params.auth !== undefined && params.auth !== null && !['basic', 'digest', 'ntlm'].includes(params.auth)) {
      throw new Error(`unknown auth '${params.auth}': use 'basic', 'digest' or 'ntlm'`)
    }
    let cookies
    if (params.cookies) {
      cookies = {}
      for (const k of Object.keys(params.cookies)) {
        const v = params.cookies[k]
        cookies[k] = v && typeof v === 'object' ? { value: String(v.value), replace: !!v.replace } : { value: String(v), replace: false }
      }
    }
    const jar = jarOf(params.jar)
    const b = encodeBody(body, headers)
    const tags = U.toTags(params.tags)
    if (name !== undefined && tags.name === undefined) tags.name = name
    const cb = params.responseCallback !== undefined ? params.responseCallback : defaultExpected
    return {
      method: String(method).toUpperCase(),
      url,
      headers,
      tags,
      timeoutMs: parseTimeout(params.timeout),
      redirects: params.redirects === undefined ? -1 : Number(params.redirects),
      responseType: params.responseType || '',
      expected: cb === null ? null : cb && cb.__k6expected ? cb.__k6expected : null,
      body: b.body,
      bodyB64: b.bodyB64,
      throw: !!params.throw,
      compression: compressionOf(params.compression),
      cookies,
      jar,
      auth: params.auth || undefined,
    }
  }
  function toResponse(data, spec) {
    const r = decodeResponse(data)
    if (r.error && (spec.throw || H.throwOnError())) throw new Error(r.error)
    return r
  }
  const plain = { throw: false }
  /** `http.get(url)` without params: the host call straight from `get`, one VM frame less for asyncify to save and restore at the suspension. */
  function get(url, params) {
    if (typeof url !== 'string' || params != null || defaultExpected !== null) return request('GET', url, null, params)
    U.vuOnly('http requests')
    return toResponse(H.requestPlain('GET', url, globalThis.__k6state.group), plain)
  }
  function request(method, url, body, params) {
    // The common `http.get(url)`: no spec object to build and serialise (~15 µs in the VM).
    if (typeof url === 'string' && params == null && body == null && defaultExpected === null) {
      U.vuOnly('http requests')
      return toResponse(H.requestPlain(String(method).toUpperCase(), url, globalThis.__k6state.group), plain)
    }
    const spec = buildSpec(method, url, body, params)
    return toResponse(H.request(JSON.stringify(spec)), spec)
  }
  // Cookie jars live on the host (cookies.ts); a CookieJar here is an id (0: the VU's).
  const J = Symbol('kiln.jar')
  const jarCall = (op, id, url, name, value, opts) => JSON.parse(H.jar(JSON.stringify([op, id, String(url), name, value, opts || null])))
  class CookieJar {
    constructor(id) {
      this[J] = id === vuJarToken ? 0 : jarCall('new', 0, '')
    }
    cookiesForURL(url) {
      return jarCall('forURL', this[J], url)
    }
    set(url, name, value, options) {
      jarCall('set', this[J], url, String(name), String(value), options)
    }
    clear(url) {
      jarCall('clear', this[J], url)
    }
    delete(url, name) {
      jarCall('delete', this[J], url, String(name))
    }
  }
  /** `params.jar` as the host names it: undefined (the VU's jar), null (none) or a jar id. */
  function jarOf(j) {
    if (j === undefined || j === null) return j
    if (!(j instanceof CookieJar)) throw new Error('params.jar must be an http.CookieJar (or null for no jar)')
    return j[J]
  }
  U.jarOf = jarOf // k6/ws and k6/websockets take params.jar too
  const vuJarToken = {}
  let vuJar = null
  const cookieJar = () => (vuJar = vuJar || new CookieJar(vuJarToken))
  /** Sends the request without waiting: the promise settles through the VU's event loop. */
  function asyncRequest(method, url, body, params) {
    try {
      if (typeof url === 'string' && params == null && body == null && defaultExpected === null) {
        U.vuOnly('http requests')
        const m = String(method).toUpperCase()
        const g = globalThis.__k6state.group
        return globalThis.__k6loop.op(
          (id) => H.requestPlainStart(id, m, url, g),
          (data) => toResponse(data, plain),
        )
      }
      const spec = buildSpec(method, url, body, params)
      return globalThis.__k6loop.op(
        (id) => H.requestStart(id, JSON.stringify(spec)),
        (data) => toResponse(data, spec),
      )
    } catch (e) {
      return Promise.reject(e)
    }
  }
  const withBody = (m) => (url, body, params) => request(m, url, body, params)
  /** k6's batch: the requests go out in parallel (up to batchPerHost connections per host). */
  function batch(reqs) {
    const spec = (r) => {
      if (typeof r === 'string' || (r && r.__k6url)) return buildSpec('GET', r)
      if (Array.isArray(r)) return buildSpec(r[0], r[1], r[2], r[3])
      return buildSpec(r.method || 'GET', r.url, r.body, r.params)
    }
    const keys = Object.keys(reqs)
    const specs = keys.map((k) => spec(reqs[k]))
    const results = JSON.parse(H.batch(JSON.stringify(specs)))
    const out = Array.isArray(reqs) ? [] : {}
    keys.forEach((k, i) => (out[k] = toResponse(results[i], specs[i])))
    return out
  }
  function expectedStatuses(...args) {
    const statuses = []
    const ranges = []
    for (const a of args) {
      if (typeof a === 'number') statuses.push(a)
      else if (a && typeof a.min === 'number' && typeof a.max === 'number') ranges.push([a.min, a.max])
      else throw new Error('expectedStatuses takes status numbers or {min, max} objects')
    }
    return { __k6expected: { statuses, ranges } }
  }
  function url(strings, ...values) {
    let u = ''
    let n = ''
    strings.forEach((s, i) => {
      u += s
      n += s
      if (i < values.length) {
        u += String(values[i])
        n += '${}'
      }
    })
    return { __k6url: true, url: u, name: n, toString: () => u }
  }
  const http = {
    get,
    head: (u, params) => request('HEAD', u, null, params),
    post: withBody('POST'),
    put: withBody('PUT'),
    patch: withBody('PATCH'),
    del: withBody('DELETE'),
    options: withBody('OPTIONS'),
    request,
    asyncRequest,
    batch,
    file: (data, filename, contentType) => new FileData(data, filename, contentType),
    cookieJar,
    CookieJar,
    expectedStatuses,
    setResponseCallback: (cb) => {
      defaultExpected = cb
    },
    url,
    SSL_3_0: 'ssl3.0',
    TLS_1_0: 'tls1.0',
    TLS_1_1: 'tls1.1',
    TLS_1_2: 'tls1.2',
    TLS_1_3: 'tls1.3',
  }
  // OCSP constants: the values k6 reports in Response.ocsp (Kiln does no OCSP stapling checks yet).
  for (const s of ['good', 'revoked', 'server_failed', 'unknown']) http[`OCSP_STATUS_${s.toUpperCase()}`] = s
  for (const r of [
    'aa_compromise',
    'affiliation_changed',
    'ca_compromise',
    'certificate_hold',
    'cessation_of_operation',
    'key_compromise',
    'privilege_withdrawn',
    'remove_from_crl',
    'superseded',
    'unspecified',
  ]) {
    http[`OCSP_REASON_${r.toUpperCase()}`] = r
  }
  // Replaces the loading getter vu.ts put there (this file is evaluated on first use).
  Object.defineProperty(globalThis.__k6mods, 'k6/http', {
    value: Object.assign({ default: http }, http),
    enumerable: true,
    writable: true,
    configurable: true,
  })
})()
