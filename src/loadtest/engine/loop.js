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
    p.then(
      (v) => {
        dirty = true
        L.result = v
      },
      fail,
    )
  }
  function reset() {
    if (!dirty) return
    dirty = false
    handlers.clear()
    once.clear()
    L.error = undefined
    L.failed = false
    L.result = undefined
  }
  function keep(result) {
    dirty = true
    L.result = result
  }
  globalThis.__k6loop = { id: () => nextId++, op, stream, drop, fail, main, keep, reset, state: L }
})()
