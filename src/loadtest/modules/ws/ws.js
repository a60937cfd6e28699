// Runs inside each VU's QuickJS runtime (evaluated on first import): `k6/ws` (blocking: ws.connect runs its own loop until the
// socket closes) and `k6/websockets` (browser-style WebSocket and Blob, driven by the VU's event
// loop, engine/loop.js). The connection itself lives on the host (ws.ts beside this file); events come as
// 'kind payload' strings.
;(function () {
  const H = globalThis.__kh
  const U = globalThis.__k6util
  const L = globalThis.__k6loop
  const split = (ev) => {
    const i = ev.indexOf(' ')
    return i < 0 ? [ev, ''] : [ev.slice(0, i), ev.slice(i + 1)]
  }
  function specOf(url, protocols, params) {
    params = params || {}
    const headers = {}
    for (const k of Object.keys(params.headers || {})) headers[k] = String(params.headers[k])
    // params.cookies as in k6/http: name → value or {value, replace}; the host adds the VU jar's.
    const cookies = {}
    for (const k of Object.keys(params.cookies || {})) {
      const v = params.cookies[k]
      cookies[k] = v && typeof v === 'object' ? { value: String(v.value), replace: !!v.replace } : { value: String(v), replace: false }
    }
    return JSON.stringify({
      url: String(url),
      headers,
      cookies,
      protocols: protocols || [],
      tags: U.toTags(params.tags),
      compression: params.compression || '',
      // A jar is an http.CookieJar: http.js defines jarOf (reading k6/http loads it, when the script did not name it).
      jar: params.jar == null ? params.jar : (globalThis.__k6mods['k6/http'], U.jarOf(params.jar)),
    })
  }
  const b64 = (data) => U.b64encode(U.bytesOf(data))

  // --- k6/ws ------------------------------------------------------------------------------------
  class Socket {
    constructor(id) {
      this._id = id
      this._on = {}
      this._timers = []
      this._closed = false
    }
    on(event, fn) {
      ;(this._on[event] = this._on[event] || []).push(fn)
    }
    _emit(event, ...args) {
      for (const fn of this._on[event] || []) fn.apply(this, args)
    }
    send(data) {
      if (!this._closed) H.wsSend(this._id, String(data), false)
    }
    sendBinary(data) {
      if (!(data instanceof ArrayBuffer)) throw new TypeError('sendBinary needs an ArrayBuffer')
      if (!this._closed) H.wsSend(this._id, b64(data), true)
    }
    ping() {
      if (!this._closed) H.wsPing(this._id)
    }
    close(code) {
      if (!this._closed) H.wsClose(this._id, code === undefined ? 1000 : Number(code), '')
    }
    setTimeout(fn, ms) {
      this._timers.push({ fn, at: H.now() + Number(ms), every: 0 })
    }
    setInterval(fn, ms) {
      ms = Number(ms)
      if (!(ms > 0)) throw new Error('setInterval needs an interval above 0 ms')
      this._timers.push({ fn, at: H.now() + ms, every: ms })
    }
    /** Runs the timers that are due; returns the ms to the next one, or -1 for none. */
    _runTimers() {
      const now = H.now()
      for (const t of this._timers.slice()) {
        if (this._closed) return -1
        if (t.at > now) continue
        if (t.every) t.at += t.every * Math.max(1, Math.ceil((now - t.at) / t.every))
        else this._timers.splice(this._timers.indexOf(t), 1)
        t.fn.call(this)
      }
      let next = -1
      for (const t of this._timers) next = next < 0 ? t.at : Math.min(next, t.at)
      return next < 0 ? -1 : Math.max(0, next - H.now())
    }
  }
  function connect(url, params, cb) {
    if (typeof params === 'function') {
      cb = params
      params = null
    }
    U.vuOnly('ws.connect')
    if (typeof cb !== 'function') throw new TypeError('ws.connect needs a function (socket) => { … }')
    const id = L.id()
    const info = JSON.parse(H.wsConnect(id, specOf(url, [], params)))
    const socket = new Socket(id)
    try {
      cb(socket)
      socket._emit('open')
      for (;;) {
        const wait = socket._runTimers()
        if (socket._closed) break
        const ev = H.wsWait(id, wait)
        if (ev === '') continue // a timer is due
        const [kind, payload] = split(ev)
        if (kind === 'message') socket._emit('message', payload)
        else if (kind === 'binary') socket._emit('binaryMessage', U.b64bytes(payload).buffer)
        else if (kind === 'ping' || kind === 'pong') socket._emit(kind)
        else if (kind === 'error') socket._emit('error', { error: () => payload, toString: () => payload })
        else if (kind === 'close') {
          socket._closed = true
          socket._emit('close', Number(split(payload)[0]))
        }
      }
    } finally {
      socket._closed = true
      H.wsDone(id)
    }
    return {
      url: String(url),
      status: info.status,
      status_text: '101 Switching Protocols',
      headers: info.headers,
      body: null,
      error: '',
      error_code: 0,
    }
  }
  const ws = { connect }
  // This file is evaluated on first use of either module: replace both loading getters (vu.ts).
  const define = (name, value) =>
    Object.defineProperty(globalThis.__k6mods, name, { value, enumerable: true, writable: true, configurable: true })
  define('k6/ws', Object.assign({ default: ws }, ws))

  // --- k6/websockets ----------------------------------------------------------------------------
  class Blob {
    constructor(parts, options) {
      const chunks = (parts || []).map((p) => (p instanceof Blob ? p._bytes : U.bytesOf(p)))
      const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
      let o = 0
      for (const c of chunks) {
        all.set(c, o)
        o += c.length
      }
      this._bytes = all
      this.type = (options && options.type) || ''
    }
    get size() {
      return this._bytes.length
    }
    text() {
      return Promise.resolve(U.fromUtf8(this._bytes))
    }
    arrayBuffer() {
      return Promise.resolve(this._bytes.slice().buffer)
    }
    bytes() {
      return Promise.resolve(this._bytes.slice())
    }
    slice(start, end, type) {
      return new Blob([this._bytes.slice(start, end)], { type })
    }
  }

  const STATES = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 }
  class WebSocket {
    constructor(url, protocols, params) {
      U.vuOnly('new WebSocket()')
      this.url = String(url)
      this.readyState = 0
      this.binaryType = 'blob'
      this.protocol = ''
      this.extensions = ''
      this.bufferedAmount = 0
      this.onopen = this.onmessage = this.onclose = this.onerror = this.onping = this.onpong = null
      this._listeners = {}
      const protos =
        protocols === undefined || protocols === null ? [] : Array.isArray(protocols) ? protocols.map(String) : [String(protocols)]
      const spec = specOf(url, protos, params)
      this._id = L.stream(
        (_ok, ev) => this._event(ev),
        (id) => H.wsStart(id, spec),
      )
    }
    _event(ev) {
      const [kind, payload] = split(ev)
      if (kind === 'open') {
        this.readyState = 1
        this.protocol = JSON.parse(payload).subproto || ''
        this._fire('open', {})
      } else if (kind === 'message') this._fire('message', { data: payload, origin: this.url })
      else if (kind === 'binary') {
        const bytes = U.b64bytes(payload)
        this._fire('message', { data: this.binaryType === 'arraybuffer' ? bytes.buffer : new Blob([bytes]), origin: this.url })
      } else if (kind === 'ping' || kind === 'pong') this._fire(kind, {})
      else if (kind === 'error') this._fire('error', { error: payload, message: payload })
      else if (kind === 'close') {
        this.readyState = 3
        L.drop(this._id)
        const [code, reason] = split(payload)
        this._fire('close', { code: Number(code), reason, wasClean: code === '1000' })
      }
    }
    _fire(type, ev) {
      ev.type = type
      ev.target = this
      const h = this['on' + type]
      if (typeof h === 'function') h.call(this, ev)
      for (const fn of (this._listeners[type] || []).slice()) fn.call(this, ev)
    }
    addEventListener(type, fn) {
      const l = (this._listeners[type] = this._listeners[type] || [])
      if (!l.includes(fn)) l.push(fn)
    }
    removeEventListener(type, fn) {
      const l = this._listeners[type] || []
      if (l.includes(fn)) l.splice(l.indexOf(fn), 1)
    }
    send(data) {
      if (this.readyState === 0) throw new Error("InvalidStateError: send() before the WebSocket is open (wait for 'open')")
      if (this.readyState !== 1) return
      if (typeof data === 'string') H.wsSend(this._id, data, false)
      else H.wsSend(this._id, data instanceof Blob ? U.b64encode(data._bytes) : b64(data), true)
    }
    ping() {
      if (this.readyState === 1) H.wsPing(this._id)
    }
    close(code, reason) {
      if (this.readyState >= 2) return
      this.readyState = 2
      H.wsClose(this._id, code === undefined ? 1000 : Number(code), reason === undefined ? '' : String(reason))
    }
  }
  Object.assign(WebSocket, STATES)
  Object.assign(WebSocket.prototype, STATES)
  const websockets = { WebSocket, Blob }
  define('k6/websockets', Object.assign({ default: websockets }, websockets))
})()
