// Runs inside each VU's QuickJS runtime: the VM half of the VU's event loop (the host half is
// eventloop.ts), the global timers and `k6/timers`. Callback sources (timers, async
// operations, sockets) get an id here; the host queues their events and calls __k6tick() once per
// event, running the promise jobs in between.
;(function () {
  const H = globalThis.__kh
  const handlers = new Map() // id → (ok, payload) => void
  const once = new Set() // ids whose handler runs for one event only
  let nextId = 1
  let dirty = false // anything for reset() to clear: a sync iteration that used no callbacks skips it
  const L = { error: undefined, failed: false, result: undefined }

  function fail(e) {
    if (!L.failed) {
      dirty = true
      L.failed = true
      L.error = e
      H.loopFailed()
    }
  }
  /** Starts a host operation `start(id)` and returns a promise settled by its one event. */
  function op(start, decode) {
    return new Promise((resolve, reject) => {
      const id = nextId++
      dirty = true
      handlers.set(id, (ok, payload) => {
        if (!ok) return reject(new Error(payload))
        try {
          resolve(decode ? decode(payload) : payload)
        } catch (e) {
          reject(e)
        }
      })
      once.add(id)
      start(id)
    })
  }
  /** Registers a source of many events (a socket); `start(id)` tells the host. Returns the id. */
  function stream(onEvent, start) {
    const id = nextId++
    dirty = true
    handlers.set(id, onEvent)
    start(id)
    return id
  }
  function drop(id) {
    handlers.delete(id)
    once.delete(id)
  }

  // --- Unhandled rejections (k6: "Uncaught (in promise) …" ends the iteration) ---------------
  // QuickJS has a rejection tracker, but quickjs-emscripten does not let the host set one, so the
  // global Promise is a subclass whose resolving functions note a rejection, and whose then()
  // (which catch, finally, await and the combinators go through) marks it handled. Promises the
  // engine makes itself (an async function's own) are not seen until then() is called on them;
  // the ones then() derives are, as Promise's species is the subclass. A rejection still
  // unhandled once the VM's jobs have run is reported by the host (vu.ts checkRejections), as
  // k6's event loop reports one left after a callback and its jobs. Cost: bench/k6-rejections.
  const Native = /** @type {any} */ (Promise) // subclassed below: typed loosely for tsc
  const HANDLED = /** @type {any} */ (Symbol('kiln.handled'))
  const pending = new Map() // promise → its rejection reason
  function track(p, reason) {
    if (p[HANDLED]) return
    pending.set(p, reason)
    dirty = true
    if (pending.size === 1) H.rejection()
  }
  /** The spec's resolve function for `p`, except that a thenable's then() is called at once, not in a job. */
  function follow(p, value, res, rej) {
    let then
    try {
      if (value === p) throw new TypeError('a promise cannot be resolved with itself')
      if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return res(value)
      then = value.then
      if (typeof then !== 'function') return res(value)
    } catch (e) {
      track(p, e)
      return rej(e)
    }
    const [onValue, onError] = settlers(p, res, rej)
    try {
      then.call(value, onValue, onError)
    } catch (e) {
      onError(e)
    }
  }
  /** `p`'s resolve and reject as a script gets them: the first call of either wins. */
  function settlers(p, res, rej) {
    let settled = false
    return [
      (value) => {
        if (settled) return
        settled = true
        follow(p, value, res, rej)
      },
      (reason) => {
        if (settled) return
        settled = true
        track(p, reason)
        rej(reason)
      },
    ]
  }
  class TrackedPromise extends Native {
    constructor(executor) {
      if (typeof executor !== 'function') throw new TypeError('Promise resolver is not a function')
      let res, rej
      super((a, b) => ((res = a), (rej = b)))
      const [resolve, reject] = settlers(this, res, rej)
      try {
        executor(resolve, reject)
      } catch (e) {
        reject(e)
      }
    }
    /** An async function's promise is the engine's own, and still a Promise to scripts. */
    static [Symbol.hasInstance](x) {
      return x instanceof Native
    }
    then(onFulfilled, onRejected) {
      if (!this[HANDLED]) {
        this[HANDLED] = true
        if (pending.size) pending.delete(this)
      }
      return super.then(onFulfilled, onRejected)
    }
  }
  // The engine's own promises derive tracked ones too (`asyncFn().then(…)`); a data property,
  // read on every then(), is cheaper than the standard getter.
  Object.defineProperty(Native, Symbol.species, { configurable: true, value: TrackedPromise })
  Object.defineProperty(TrackedPromise, 'name', { value: 'Promise' })
  globalThis.Promise = /** @type {any} */ (TrackedPromise)
  /** The first rejection nobody handled since the last call, as k6 words it ('' if none); forgets them all. */
  function unhandled() {
    let text = ''
    for (const [p, reason] of pending) {
      if (p[HANDLED]) continue
      // As an uncaught exception reads (vu.ts errorText): name, message, then the stack.
      const e = reason !== null && typeof reason === 'object' && 'stack' in reason ? reason : null
      text = 'Uncaught (in promise) ' + (e ? `${e.name}: ${e.message}${e.stack ? '\n' + String(e.stack).trimEnd() : ''}` : String(reason))
      break
    }
    pending.clear()
    return text
  }

  function timer(repeat, fn, ms, args) {
    if (typeof fn !== 'function') throw new TypeError('setTimeout/setInterval need a function as first argument')
    const id = nextId++
    dirty = true
    ms = Math.max(0, Number(ms) || 0)
    handlers.set(id, () => {
      if (repeat) H.timer(id, ms)
      else drop(id)
      fn(...args)
    })
    H.timer(id, ms)
    return id
  }
  function clear(id) {
    id = Number(id)
    if (!handlers.has(id)) return
    drop(id)
    H.cancel(id)
  }
  const timers = {
    setTimeout: (fn, ms, ...args) => timer(false, fn, ms, args),
    setInterval: (fn, ms, ...args) => timer(true, fn, ms, args),
    clearTimeout: clear,
    clearInterval: clear,
  }
  Object.assign(globalThis, timers)
  globalThis.__k6mods['k6/timers'] = Object.assign({ default: timers }, timers)

  /** The host delivers one event: 'id ok payload'. */
  globalThis.__k6tick = function () {
    const ev = H.nextEvent()
    if (!ev) return
    const a = ev.indexOf(' ')
    const id = Number(ev.slice(0, a))
    const ok = ev[a + 1] === '1'
    const h = handlers.get(id)
    if (!h) return
    if (once.has(id)) drop(id)
    try {
      h(ok, ev.slice(a + 3))
    } catch (e) {
      fail(e)
    }
  }
  /** The function's promise: its value is the call's result, its rejection the iteration's error. */
  function main(p) {
    p.then((v) => {
      dirty = true
      L.result = v
    }, fail)
  }
  function reset() {
    if (!dirty) return
    dirty = false
    handlers.clear()
    once.clear()
    pending.clear()
    L.error = undefined
    L.failed = false
    L.result = undefined
  }
  function keep(result) {
    dirty = true
    L.result = result
  }
  globalThis.__k6loop = { id: () => nextId++, op, stream, drop, fail, main, keep, reset, unhandled, state: L }
})()
