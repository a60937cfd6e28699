// Runs inside each VU's QuickJS runtime (not in Node): the JS side of the k6 modules `k6`,
// `k6/metrics`, `k6/execution`, `k6/encoding`, the globals, and the entry points the host calls.
// Host calls go through `__kh` (typed in src/loadtest/engine/host-api.ts); http lives in modules/http/http.js.
;(function () {
  const H = globalThis.__kh
  const mods = (globalThis.__k6mods = {})
  // inInit: the host sets it to false once the init code has run (a flag here, not a host call per check).
  const state = { group: '', setup: undefined, inInit: true }
  globalThis.__k6state = state

  const toTags = (extra) => {
    const t = { group: state.group }
    if (extra) for (const k of Object.keys(extra)) t[k] = String(extra[k])
    return t
  }
  const emit = (name, value, tags) => H.emit(name, value, JSON.stringify(toTags(tags)))
  const initOnly = (what) => {
    if (!state.inInit) throw new Error(`${what} is only available in the init context (outside of functions)`)
  }
  const vuOnly = (what) => {
    if (state.inInit) throw new Error(`${what} cannot be used in the init context; call it inside a function such as default`)
  }

  // --- k6 -------------------------------------------------------------------------------------
  // k6 rejects async callbacks here: their promise would pass a check and end a group too early.
  const isAsync = (f) => typeof f === 'function' && f[Symbol.toStringTag] === 'AsyncFunction'
  function check(val, sets, tags) {
    vuOnly('check')
    let all = true
    for (const name of Object.keys(sets || {})) {
      if (name.includes('::')) throw new Error(`check name '${name}' may not contain '::'`)
      const f = sets[name]
      if (isAsync(f)) throw new Error(`check '${name}': async functions are not supported in check(); await the value first, then check it`)
      let ok = false
      let err
      try {
        ok = typeof f === 'function' ? !!f(val) : !!f
      } catch (e) {
        err = e
      }
      // Without the script's tags (the common case) the host makes the tag set, once per group
      // and name: no objects and no JSON here (they were most of a check's VM time: two checks
      // cost 394 against 265 µs an iteration of http.get and check, bench/loadtest-vu-ab.ts).
      if (tags === undefined) H.check(name, ok ? 1 : 0, state.group)
      else emit('checks', ok ? 1 : 0, Object.assign({}, tags, { check: name }))
      if (err) throw err
      if (!ok) all = false
    }
    return all
  }
  function group(name, fn) {
    vuOnly('group')
    if (String(name).includes('::')) throw new Error(`group name '${name}' may not contain '::'`)
    if (isAsync(fn))
      throw new Error(`group '${name}': async functions are not supported in group(); call group() with a synchronous function`)
    const prev = state.group
    state.group = prev + '::' + name
    const t0 = H.now()
    try {
      return fn()
    } finally {
      H.sample('group_duration', H.now() - t0, state.group)
      state.group = prev
    }
  }
  function sleep(secs) {
    vuOnly('sleep')
    H.sleep(Number(secs) * 1000)
  }
  function fail(msg) {
    throw new Error(msg === undefined ? 'fail' : String(msg))
  }
  function randomSeed(seed) {
    let a = Number(seed) >>> 0
    // mulberry32: a small, fast seeded PRNG, so `randomSeed(n)` repeats the same sequence per VU.
    Math.random = function () {
      a = (a + 0x6d2b79f5) >>> 0
      let t = a
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    }
  }
  mods['k6'] = { check, group, sleep, fail, randomSeed }

  // --- k6/metrics -----------------------------------------------------------------------------
  function metricClass(type) {
    return class {
      constructor(name, isTime) {
        initOnly(`new ${type[0].toUpperCase()}${type.slice(1)}()`)
        const err = H.metric(String(name), type, !!isTime)
        if (err) throw new Error(err)
        this.name = String(name)
      }
      add(value, tags) {
        vuOnly('metric.add')
        const v = type === 'rate' ? (value ? 1 : 0) : Number(value)
        if (tags === undefined) H.sample(this.name, v, state.group)
        else emit(this.name, v, tags)
        return true
      }
    }
  }
  mods['k6/metrics'] = {
    Counter: metricClass('counter'),
    Gauge: metricClass('gauge'),
    Rate: metricClass('rate'),
    Trend: metricClass('trend'),
  }

  // --- k6/data --------------------------------------------------------------------------------
  const freeze = (v) => {
    if (v && typeof v === 'object') {
      Object.freeze(v)
      for (const k of Object.keys(v)) freeze(v[k])
    }
    return v
  }
  class SharedArray {
    constructor(name, fn) {
      initOnly('new SharedArray()')
      if (typeof fn !== 'function') throw new Error('SharedArray needs a name and a function that returns an array')
      // The first VU runs fn; the others get its JSON from the host (k6: computed once per test).
      let json = H.shared(String(name))
      if (!json) {
        const v = fn()
        if (!Array.isArray(v)) throw new Error(`SharedArray '${name}': the function must return an array`)
        json = JSON.stringify(v)
        H.setShared(String(name), json)
      }
      // biome-ignore lint/correctness/noConstructorReturn: k6's `new SharedArray()` gives the frozen array itself
      return freeze(JSON.parse(json))
    }
  }
  mods['k6/data'] = { SharedArray }

  // --- k6/execution ---------------------------------------------------------------------------
  class Abort extends Error {}
  const exec = () => JSON.parse(H.exec())
  /** An object whose fields read the VU's current state on each access (exec.vu.iterationInTest…). */
  const live = (section, keys, missing) => {
    const o = {}
    for (const k of keys) {
      Object.defineProperty(o, k, {
        enumerable: true,
        get() {
          const s = exec()[section]
          if (!s) throw new Error(missing)
          return s[k]
        },
      })
    }
    return o
  }
  const vu = live(
    'vu',
    ['idInInstance', 'idInTest', 'iterationInInstance', 'iterationInScenario', 'tags', 'metrics'],
    'exec.vu is not available in the init context of the first VU or in setup/teardown',
  )
  const scenario = live(
    'scenario',
    ['name', 'executor', 'startTime', 'progress', 'iterationInInstance', 'iterationInTest'],
    'exec.scenario is only available inside a scenario',
  )
  const instance = live(
    'instance',
    ['currentTestRunDuration', 'iterationsCompleted', 'iterationsInterrupted', 'vusActive', 'vusInitialized'],
    '',
  )
  const test = {
    abort(msg) {
      H.abort(msg === undefined ? '' : String(msg))
      throw new Abort(msg === undefined ? 'test aborted' : String(msg))
    },
    fail(msg) {
      H.markFailed(msg === undefined ? '' : String(msg))
    },
    get options() {
      return exec().options
    },
  }
  mods['k6/execution'] = { default: { vu, scenario, instance, test }, vu, scenario, instance, test }

  // --- k6/encoding ----------------------------------------------------------------------------
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  function utf8(str) {
    const out = []
    for (const ch of str) {
      const c = ch.codePointAt(0)
      if (c < 0x80) out.push(c)
      else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63))
      else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63))
      else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63))
    }
    return new Uint8Array(out)
  }
  function fromUtf8(bytes) {
    let s = ''
    for (let i = 0; i < bytes.length; ) {
      const b = bytes[i++]
      let c
      if (b < 0x80) c = b
      else if (b < 0xe0) c = ((b & 31) << 6) | (bytes[i++] & 63)
      else if (b < 0xf0) c = ((b & 15) << 12) | ((bytes[i++] & 63) << 6) | (bytes[i++] & 63)
      else c = ((b & 7) << 18) | ((bytes[i++] & 63) << 12) | ((bytes[i++] & 63) << 6) | (bytes[i++] & 63)
      s += String.fromCodePoint(c)
    }
    return s
  }
  const bytesOf = (x) =>
    typeof x === 'string'
      ? utf8(x)
      : x instanceof ArrayBuffer
        ? new Uint8Array(x)
        : ArrayBuffer.isView(x)
          ? new Uint8Array(x.buffer, x.byteOffset, x.byteLength)
          : utf8(String(x))
  function b64encode(input, enc) {
    const b = bytesOf(input)
    let s = ''
    for (let i = 0; i < b.length; i += 3) {
      const n = (b[i] << 16) | ((b[i + 1] || 0) << 8) | (b[i + 2] || 0)
      s += B64[n >> 18] + B64[(n >> 12) & 63] + (i + 1 < b.length ? B64[(n >> 6) & 63] : '=') + (i + 2 < b.length ? B64[n & 63] : '=')
    }
    if (enc === 'url' || enc === 'rawurl') s = s.replace(/\+/g, '-').replace(/\//g, '_')
    if (enc === 'rawstd' || enc === 'rawurl') s = s.replace(/=+$/, '')
    return s
  }
  function b64bytes(s) {
    s = String(s).replace(/-/g, '+').replace(/_/g, '/').replace(/[=\s]/g, '')
    const out = new Uint8Array(Math.floor((s.length * 3) / 4))
    let j = 0
    for (let i = 0; i < s.length; i += 4) {
      const n =
        (B64.indexOf(s[i]) << 18) | (B64.indexOf(s[i + 1]) << 12) | ((B64.indexOf(s[i + 2]) & 63) << 6) | (B64.indexOf(s[i + 3]) & 63)
      out[j++] = n >> 16
      if (i + 2 < s.length) out[j++] = (n >> 8) & 255
      if (i + 3 < s.length) out[j++] = n & 255
    }
    return out.slice(0, j)
  }
  function b64decode(input, _enc, format) {
    const b = b64bytes(input)
    return format === 's' ? fromUtf8(b) : b.buffer
  }
  mods['k6/encoding'] = { b64encode, b64decode, default: { b64encode, b64decode } }

  // --- k6/secrets: values from --secret-source, read on the host; promises as in k6 -----------
  const secretOf = (source, key) => new Promise((resolve) => resolve(H.secret(JSON.stringify([source, String(key)]))))
  const secrets = {
    get: (key) => secretOf(null, key),
    source: (name) => ({ get: (key) => secretOf(String(name), key) }),
  }
  mods['k6/secrets'] = { default: secrets }
  globalThis.__k6util = { b64encode, b64bytes, utf8, fromUtf8, bytesOf, toTags, vuOnly, initOnly, Abort }

  // --- globals --------------------------------------------------------------------------------
  const fmt = (a) => {
    if (typeof a === 'string') return a
    if (a instanceof Error) return String(a)
    try {
      const s = JSON.stringify(a)
      return s === undefined ? String(a) : s
    } catch (_e) {
      return String(a)
    }
  }
  const log =
    (level) =>
    (...args) =>
      H.log(level, args.map(fmt).join(' '))
  globalThis.console = { log: log('info'), info: log('info'), warn: log('warn'), error: log('error'), debug: log('debug') }
  globalThis.open = function (path, mode) {
    initOnly('open()')
    const s = H.open(String(path), mode === 'b')
    return mode === 'b' ? b64bytes(s).buffer : s
  }
  globalThis.global = globalThis

  // --- entry points for the host --------------------------------------------------------------
  const errText = (e) => {
    if (e instanceof Error) {
      // Drop Kiln's own frames (the prelude and the host's call), keep the script's.
      const stack = String(e.stack || '')
        .split('\n')
        .filter((l) => l.trim() && !/\((vm\/[a-z0-9]+\.js|call):/.test(l))
        .join('\n')
      return `${e.name === 'Error' ? 'Error' : e.name}: ${e.message}${stack ? '\n' + stack.replace(/^ {4}/gm, '\tat ').replace(/\tat at /g, '\tat ') : ''}`
    }
    return fmt(e)
  }
  const outcome = (r) => {
    let json
    try {
      json = JSON.stringify(r)
    } catch (_e) {
      json = undefined
    }
    return 'R' + (json === undefined ? '' : json)
  }
  const failure = (e) => (e instanceof Abort ? 'A' + e.message : 'E' + errText(e))
  /** A called function's result as __k6call reports it: 'P' (its promise goes to the event loop) or outcome(). */
  const adopt = (r) => {
    const loop = globalThis.__k6loop
    if (r && typeof r.then === 'function') {
      loop.main(r)
      return 'P'
    }
    const o = outcome(r)
    // Kept for __k6result() in case timers or jobs are left (then the host runs the loop first).
    if (o.length > 1 || loop.state.result !== undefined) loop.keep(r)
    return o
  }
  /**
   * Calls an exported function; returns 'R'+JSON(result), 'A'+message (test.abort), 'E'+error, or
   * 'P' when it returned a promise: the host then runs the event loop and asks __k6result().
   */
  globalThis.__k6call = function (name, argJson, iter) {
    if (iter !== undefined) globalThis.__ITER = iter
    state.group = name === 'setup' ? '::setup' : name === 'teardown' ? '::teardown' : ''
    const fn = name === 'default' ? globalThis.__main.default : globalThis.__main[name]
    if (typeof fn !== 'function') return 'E' + `function '${name}' is not exported by the script`
    globalThis.__k6loop.reset()
    let sync = true
    try {
      const arg = argJson === undefined ? state.setup : argJson === '' ? undefined : JSON.parse(argJson)
      const o = adopt(fn(arg))
      sync = o !== 'P'
      return o
    } catch (e) {
      return failure(e)
    } finally {
      if (sync) state.group = ''
    }
  }
  // For calls the host makes directly (vu.ts direct()): what __k6call does with a result other
  // than undefined, and with an exception.
  globalThis.__k6adopt = adopt
  globalThis.__k6failure = failure
  /** After the event loop ran dry: the outcome of the last __k6call, as __k6call reports it. */
  globalThis.__k6result = function () {
    state.group = ''
    const L = globalThis.__k6loop.state
    return L.failed ? failure(L.error) : outcome(L.result)
  }
  globalThis.__k6setSetup = (json) => {
    state.setup = json === '' ? undefined : JSON.parse(json)
  }
  const summaryOut = (r) => {
    if (r === null || typeof r !== 'object') throw new Error('handleSummary() must return an object: {stdout: text, "file.json": text, …}')
    const out = {}
    for (const k of Object.keys(r)) {
      const v = r[k]
      out[k] = typeof v === 'string' ? { s: v } : { b: b64encode(v) }
    }
    return 'R' + JSON.stringify(out)
  }
  /** handleSummary: returns 'R'+JSON of {key: {s: string} | {b: base64}}, 'E'+error, or 'P' (async: see __k6call). */
  globalThis.__k6summary = function (dataJson) {
    const loop = globalThis.__k6loop
    loop.reset()
    try {
      const r = globalThis.__main.handleSummary(JSON.parse(dataJson))
      if (r && typeof r.then === 'function') {
        loop.main(r)
        return 'P'
      }
      return summaryOut(r)
    } catch (e) {
      return 'E' + errText(e)
    }
  }
  globalThis.__k6summaryResult = function () {
    const L = globalThis.__k6loop.state
    try {
      return L.failed ? 'E' + errText(L.error) : summaryOut(L.result)
    } catch (e) {
      return 'E' + errText(e)
    }
  }
  globalThis.__k6options = () => {
    const o = globalThis.__main.options
    return o === undefined ? '{}' : JSON.stringify(o)
  }
  globalThis.__k6exports = () => JSON.stringify(Object.keys(globalThis.__main).filter((k) => typeof globalThis.__main[k] === 'function'))
})()
