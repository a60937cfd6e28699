// Runs inside each VU's QuickJS runtime (evaluated on first import): `k6/experimental/streams`,
// the WHATWG ReadableStream with its default controller and reader, as k6 exposes it (no byte
// streams, no tee or pipes). Pure JS: its promises settle on the VU's event loop like any other.
// The steps follow the Streams Standard's abstract operations, named after them.
;(function () {
  const noop = () => {}
  /** A promise whose rejection nobody need handle (the standard's "mark as handled"). */
  const handled = (p) => (p.catch(noop), p)
  const deferred = () => {
    let resolve, reject
    const promise = new Promise((a, b) => ((resolve = a), (reject = b)))
    return { promise, resolve, reject }
  }
  /** Calls `method` of `obj` if it has one; its result (or throw) as a promise. */
  function promiseCall(obj, name, arg) {
    try {
      const m = obj[name]
      if (m === undefined || m === null) return Promise.resolve()
      if (typeof m !== 'function') throw new TypeError(`underlyingSource.${name} must be a function`)
      return Promise.resolve(m.call(obj, arg))
    } catch (e) {
      return Promise.reject(e)
    }
  }

  const STREAM = Symbol('stream')

  class CountQueuingStrategy {
    constructor(init) {
      const hwm = init && init.highWaterMark
      this.highWaterMark = hwm === undefined ? 1 : Number(hwm)
    }
    size() {
      return 1
    }
  }

  class ReadableStreamDefaultController {
    constructor(key, stream, source, hwm, size) {
      if (key !== STREAM) throw new TypeError('ReadableStreamDefaultController cannot be constructed by a script')
      this._stream = stream
      this._queue = []
      this._total = 0
      this._hwm = hwm
      this._started = false
      this._closeRequested = false
      this._pulling = false
      this._pullAgain = false
      this._size = size ? (chunk) => size.call(undefined, chunk) : () => 1
      this._pull = () => promiseCall(source, 'pull', this)
      this._cancel = (reason) => promiseCall(source, 'cancel', reason)
    }
    get desiredSize() {
      const s = this._stream._state
      return s === 'errored' ? null : s === 'closed' ? 0 : this._hwm - this._total
    }
    close() {
      if (!canCloseOrEnqueue(this)) throw new TypeError('the stream is closed or closing: it cannot be closed again')
      this._closeRequested = true
      if (this._queue.length === 0) {
        clearAlgorithms(this)
        streamClose(this._stream)
      }
    }
    enqueue(chunk) {
      if (!canCloseOrEnqueue(this)) throw new TypeError('the stream is closed or closing: no chunk can be enqueued')
      const stream = this._stream
      const reader = stream._reader
      if (reader && reader._requests.length > 0) {
        reader._requests.shift().resolve({ value: chunk, done: false })
      } else {
        let size
        try {
          size = this._size(chunk)
          if (typeof size !== 'number' || !(size >= 0) || size === Infinity)
            throw new RangeError('the queuing strategy size() must return a finite, non-negative number')
        } catch (e) {
          controllerError(this, e)
          throw e
        }
        this._queue.push({ value: chunk, size })
        this._total += size
      }
      callPullIfNeeded(this)
    }
    error(e) {
      controllerError(this, e)
    }
  }

  function canCloseOrEnqueue(c) {
    return !c._closeRequested && c._stream._state === 'readable'
  }
  function clearAlgorithms(c) {
    c._pull = () => Promise.resolve()
    c._cancel = () => Promise.resolve()
    c._size = () => 1
  }
  function controllerError(c, e) {
    if (c._stream._state !== 'readable') return
    c._queue = []
    c._total = 0
    clearAlgorithms(c)
    streamError(c._stream, e)
  }
  function shouldCallPull(c) {
    if (!canCloseOrEnqueue(c) || !c._started) return false
    const reader = c._stream._reader
    if (reader && reader._requests.length > 0) return true
    return c.desiredSize > 0
  }
  function callPullIfNeeded(c) {
    if (!shouldCallPull(c)) return
    if (c._pulling) {
      c._pullAgain = true
      return
    }
    c._pulling = true
    c._pull().then(
      () => {
        c._pulling = false
        if (c._pullAgain) {
          c._pullAgain = false
          callPullIfNeeded(c)
        }
      },
      (e) => controllerError(c, e),
    )
  }

  function streamClose(stream) {
    stream._state = 'closed'
    const reader = stream._reader
    if (!reader) return
    reader._closed.resolve()
    for (const r of reader._requests.splice(0)) r.resolve({ value: undefined, done: true })
  }
  function streamError(stream, e) {
    stream._state = 'errored'
    stream._error = e
    const reader = stream._reader
    if (!reader) return
    reader._closed.reject(e)
    handled(reader._closed.promise)
    for (const r of reader._requests.splice(0)) r.reject(e)
  }
  function streamCancel(stream, reason) {
    stream._disturbed = true
    if (stream._state === 'closed') return Promise.resolve()
    if (stream._state === 'errored') return Promise.reject(stream._error)
    streamClose(stream)
    const c = stream._controller
    c._queue = []
    c._total = 0
    const result = c._cancel(reason)
    clearAlgorithms(c)
    return result.then(noop)
  }

  class ReadableStream {
    constructor(underlyingSource, strategy) {
      const source = underlyingSource === undefined || underlyingSource === null ? {} : underlyingSource
      if (typeof source !== 'object' && typeof source !== 'function') throw new TypeError('underlyingSource must be an object')
      if (source.type !== undefined && String(source.type) !== 'default') {
        throw new TypeError(
          String(source.type) === 'bytes'
            ? 'byte streams (type: "bytes") are not supported, as in k6: use the default type'
            : `invalid underlyingSource.type '${String(source.type)}': only 'default' is supported`,
        )
      }
      const st = strategy === undefined || strategy === null ? {} : strategy
      const hwm = st.highWaterMark === undefined ? 1 : Number(st.highWaterMark)
      if (Number.isNaN(hwm) || hwm < 0) throw new RangeError('highWaterMark must be a non-negative number')
      if (st.size !== undefined && typeof st.size !== 'function') throw new TypeError('the queuing strategy size must be a function')
      this._state = 'readable'
      this._reader = undefined
      this._error = undefined
      this._disturbed = false
      const c = new ReadableStreamDefaultController(STREAM, this, source, hwm, st.size)
      this._controller = c
      const start = source.start
      if (start !== undefined && start !== null && typeof start !== 'function')
        throw new TypeError('underlyingSource.start must be a function')
      const started = start ? start.call(source, c) : undefined
      Promise.resolve(started).then(
        () => {
          c._started = true
          callPullIfNeeded(c)
        },
        (e) => controllerError(c, e),
      )
    }
    get locked() {
      return this._reader !== undefined
    }
    cancel(reason) {
      if (this.locked) return Promise.reject(new TypeError('the stream is locked to a reader: cancel through the reader'))
      return streamCancel(this, reason)
    }
    getReader(options) {
      if (options && options.mode !== undefined) {
        throw new TypeError(
          String(options.mode) === 'byob' ? 'BYOB readers are not supported, as in k6' : `invalid reader mode '${String(options.mode)}'`,
        )
      }
      return new ReadableStreamDefaultReader(this)
    }
  }

  class ReadableStreamDefaultReader {
    constructor(stream) {
      if (!(stream instanceof ReadableStream)) throw new TypeError('ReadableStreamDefaultReader needs a ReadableStream')
      if (stream.locked) throw new TypeError('the stream is already locked to a reader')
      this._stream = stream
      this._requests = []
      this._closed = deferred()
      stream._reader = this
      if (stream._state === 'closed') this._closed.resolve()
      else if (stream._state === 'errored') {
        this._closed.reject(stream._error)
        handled(this._closed.promise)
      }
    }
    get closed() {
      return this._closed.promise
    }
    read() {
      const stream = this._stream
      if (!stream) return Promise.reject(new TypeError('the reader has released its lock: it cannot read'))
      stream._disturbed = true
      if (stream._state === 'closed') return Promise.resolve({ value: undefined, done: true })
      if (stream._state === 'errored') return Promise.reject(stream._error)
      const c = stream._controller
      if (c._queue.length > 0) {
        const { value, size } = c._queue.shift()
        c._total = c._queue.length ? c._total - size : 0
        if (c._closeRequested && c._queue.length === 0) {
          clearAlgorithms(c)
          streamClose(stream)
        } else callPullIfNeeded(c)
        return Promise.resolve({ value, done: false })
      }
      const d = deferred()
      this._requests.push(d)
      callPullIfNeeded(c)
      return d.promise
    }
    cancel(reason) {
      if (!this._stream) return Promise.reject(new TypeError('the reader has released its lock: it cannot cancel'))
      return streamCancel(this._stream, reason)
    }
    releaseLock() {
      const stream = this._stream
      if (!stream) return
      const e = new TypeError('the reader released its lock')
      if (stream._state === 'readable') this._closed.reject(e)
      else this._closed = { promise: Promise.reject(e), resolve: noop, reject: noop }
      handled(this._closed.promise)
      for (const r of this._requests.splice(0)) r.reject(e)
      stream._reader = undefined
      this._stream = undefined
    }
  }

  const mod = { ReadableStream, ReadableStreamDefaultReader, CountQueuingStrategy }
  // This file is evaluated on first use: replace the loading getter (vu.ts).
  Object.defineProperty(globalThis.__k6mods, 'k6/experimental/streams', {
    value: Object.assign({ default: mod }, mod),
    enumerable: true,
    writable: true,
    configurable: true,
  })
})()
