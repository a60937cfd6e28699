// Runs inside a VU when first imported: `k6/experimental/fs` (files opened in the init context,
// read through promises) and `k6/experimental/csv` (parse into a SharedArray, or a Parser giving
// one record per next()). The bytes come from the host once per VU; CSV is parsed on the host
// (csv.ts).
;(function () {
  const H = globalThis.__kh
  const U = globalThis.__k6util
  const SeekMode = Object.freeze({ Start: 0, Current: 1, End: 2 })
  const BYTES = Symbol('kiln.fs.bytes')
  const POS = Symbol('kiln.fs.pos')

  class File {
    constructor(path, bytes) {
      this.path = path
      this[BYTES] = bytes
      this[POS] = 0
    }
    /** Fills `buffer` from the current position; the number of bytes read, or null at the end. */
    read(buffer) {
      return new Promise((resolve) => {
        if (!(buffer instanceof Uint8Array)) throw new TypeError('read() takes a Uint8Array to fill')
        const bytes = this[BYTES]
        const pos = this[POS]
        if (pos >= bytes.length) return resolve(null)
        const n = Math.min(buffer.length, bytes.length - pos)
        buffer.set(bytes.subarray(pos, pos + n))
        this[POS] = pos + n
        resolve(n)
      })
    }
    /** Moves the position (SeekMode.Start, Current or End); the new position. */
    seek(offset, whence) {
      return new Promise((resolve) => {
        const mode = whence === undefined ? SeekMode.Start : whence
        const base = mode === SeekMode.Start ? 0 : mode === SeekMode.Current ? this[POS] : mode === SeekMode.End ? this[BYTES].length : NaN
        if (Number.isNaN(base)) throw new TypeError(`seek(): whence must be SeekMode.Start, Current or End, got ${whence}`)
        const to = base + Number(offset)
        if (!Number.isInteger(to) || to < 0) throw new RangeError(`seek(): the position would be ${to}; it must be a whole number ≥ 0`)
        this[POS] = to
        resolve(to)
      })
    }
    stat() {
      return Promise.resolve({ name: this.path.split('/').pop(), size: this[BYTES].length })
    }
  }

  function open(path) {
    U.initOnly('fs.open()')
    try {
      return Promise.resolve(new File(String(path), new Uint8Array(globalThis.open(String(path), 'b'))))
    } catch (e) {
      return Promise.reject(e)
    }
  }
  const fs = { open, File, SeekMode }
  // Replaces the lazy getters (engine.ts lazyModules) of both modules.
  const define = (name, value) =>
    Object.defineProperty(globalThis.__k6mods, name, { value, enumerable: true, writable: true, configurable: true })
  define('k6/experimental/fs', Object.assign({ default: fs }, fs))

  const fileOf = (file, what) => {
    if (!(file instanceof File)) throw new TypeError(`${what} takes a file opened with open() from k6/experimental/fs`)
    return file
  }
  const rowsOf = (file, options) => JSON.parse(H.csv(JSON.stringify([file.path, options === undefined ? null : options])))

  /** The whole file as a SharedArray: parsed once for the test, read-only in every VU. */
  function parse(file, options) {
    return new Promise((resolve) => {
      fileOf(file, 'csv.parse()')
      const { SharedArray } = globalThis.__k6mods['k6/data']
      resolve(new SharedArray(`kiln.csv:${file.path}:${JSON.stringify(options || {})}`, () => rowsOf(file, options)))
    })
  }
  const ROWS = Symbol('kiln.csv.rows')
  const AT = Symbol('kiln.csv.at')
  /** One record per next(), from this VU's own position in the file. */
  class Parser {
    constructor(file, options) {
      this[ROWS] = rowsOf(fileOf(file, 'new csv.Parser()'), options)
      this[AT] = 0
    }
    next() {
      const rows = this[ROWS]
      return Promise.resolve(this[AT] < rows.length ? { done: false, value: rows[this[AT]++] } : { done: true, value: undefined })
    }
  }
  const csv = { parse, Parser }
  define('k6/experimental/csv', Object.assign({ default: csv }, csv))
})()
