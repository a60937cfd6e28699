/**
 * Protocol Buffers wire format, by hand: a reader and a writer over bytes. Used by pprof and by
 * the Connect APIs (push.v1, querier.v1). No code generation, no reflection: each message's
 * decoder is a loop over fields, which is also the fastest way to read pprof in V8.
 */
export const WIRE_VARINT = 0
export const WIRE_I64 = 1
export const WIRE_LEN = 2
export const WIRE_I32 = 5

export class ProtoError extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: true })
const utf8Enc = new TextEncoder()

export class ProtoReader {
  pos: number
  readonly end: number
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    end = buf.length,
  ) {
    this.pos = start
    this.end = end
  }

  eof(): boolean {
    return this.pos >= this.end
  }

  /** Reads a field key; returns field number * 8 + wire type, as on the wire. */
  key(): number {
    const k = this.varint()
    if (k < 8) throw new ProtoError(`invalid field key ${k} at byte ${this.pos}`)
    return k
  }

  /** Reads a varint as a JS number (exact up to 2^53; uint64 above that loses low bits). */
  varint(): number {
    const b = this.buf
    let pos = this.pos
    let x = 0
    let shift = 1
    for (let i = 0; i < 10; i++) {
      if (pos >= this.end) throw new ProtoError(`truncated varint at byte ${pos}`)
      const c = b[pos++]!
      x += (c & 0x7f) * shift
      if (c < 0x80) {
        this.pos = pos
        return x
      }
      shift *= 128
    }
    throw new ProtoError(`varint longer than 10 bytes at byte ${this.pos}`)
  }

  /** An int64 varint: negative values arrive as 10-byte two's complement. */
  int64(): number {
    const start = this.pos
    const v = this.varint()
    if (v < 2 ** 63) return v
    // Rare (negative values): redo exactly with BigInt, since the float sum lost the low bits.
    let big = 0n
    for (let i = start, shift = 0n; i < this.pos; i++, shift += 7n) big |= BigInt(this.buf[i]! & 0x7f) << shift
    return Number(BigInt.asIntN(64, big))
  }

  /** Length-delimited field: returns [start, end) and advances past it. */
  lenRange(): [number, number] {
    const n = this.varint()
    const start = this.pos
    const end = start + n
    if (end > this.end) throw new ProtoError(`length ${n} at byte ${start} runs past the end of the message`)
    this.pos = end
    return [start, end]
  }

  bytes(): Uint8Array {
    const [s, e] = this.lenRange()
    return this.buf.subarray(s, e)
  }

  string(): string {
    const [s, e] = this.lenRange()
    if (s === e) return ''
    try {
      return utf8.decode(this.buf.subarray(s, e))
    } catch {
      throw new ProtoError(`invalid UTF-8 in string at byte ${s}`)
    }
  }

  double(): number {
    if (this.pos + 8 > this.end) throw new ProtoError(`truncated double at byte ${this.pos}`)
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true)
    this.pos += 8
    return v
  }

  /** Sub-reader over a length-delimited field. */
  sub(): ProtoReader {
    const [s, e] = this.lenRange()
    return new ProtoReader(this.buf, s, e)
  }

  /** Reads a packed repeated varint field, or a single unpacked element, into `out`. */
  packedVarints(wire: number, out: number[]): void {
    if (wire !== WIRE_LEN) {
      out.push(this.varint())
      return
    }
    const [s, e] = this.lenRange()
    const r = new ProtoReader(this.buf, s, e)
    while (!r.eof()) out.push(r.varint())
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint()
        return
      case WIRE_I64:
        this.advance(8)
        return
      case WIRE_LEN:
        this.lenRange()
        return
      case WIRE_I32:
        this.advance(4)
        return
      default:
        throw new ProtoError(`unsupported wire type ${wire} at byte ${this.pos}`)
    }
  }

  private advance(n: number): void {
    if (this.pos + n > this.end) throw new ProtoError(`truncated field at byte ${this.pos}`)
    this.pos += n
  }
}

/** Growable protobuf writer. Nested messages: `w.message(field, (w) => …)`. */
export class ProtoWriter {
  private buf = new Uint8Array(256)
  private len = 0

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.len + n) size *= 2
    const b = new Uint8Array(size)
    b.set(this.buf.subarray(0, this.len))
    this.buf = b
  }

  rawVarint(v: number): void {
    this.ensure(10)
    if (v < 0) {
      // int64 two's complement: 10 bytes.
      let big = BigInt.asUintN(64, BigInt(Math.trunc(v)))
      for (let i = 0; i < 9; i++) {
        this.buf[this.len++] = Number(big & 0x7fn) | 0x80
        big >>= 7n
      }
      this.buf[this.len++] = Number(big)
      return
    }
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 128) | 0x80
      v = Math.floor(v / 128)
    }
    this.buf[this.len++] = v
  }

  private key(field: number, wire: number): void {
    this.rawVarint(field * 8 + wire)
  }

  /** Varint field; zero is omitted (proto3 default). */
  varint(field: number, v: number): this {
    if (v === 0) return this
    this.key(field, WIRE_VARINT)
    this.rawVarint(v)
    return this
  }

  bool(field: number, v: boolean): this {
    return this.varint(field, v ? 1 : 0)
  }

  double(field: number, v: number): this {
    if (v === 0) return this
    this.key(field, WIRE_I64)
    this.ensure(8)
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 8).setFloat64(0, v, true)
    this.len += 8
    return this
  }

  bytes(field: number, b: Uint8Array): this {
    this.key(field, WIRE_LEN)
    this.rawVarint(b.length)
    this.ensure(b.length)
    this.buf.set(b, this.len)
    this.len += b.length
    return this
  }

  /** String field; the empty string is omitted unless `always` (repeated string tables). */
  string(field: number, s: string, always = false): this {
    if (s === '' && !always) return this
    return this.bytes(field, utf8Enc.encode(s))
  }

  packedVarints(field: number, vs: ArrayLike<number>): this {
    if (vs.length === 0) return this
    const inner = new ProtoWriter()
    for (let i = 0; i < vs.length; i++) inner.rawVarint(vs[i]!)
    return this.bytes(field, inner.finish())
  }

  message(field: number, fill: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter()
    fill(inner)
    return this.bytes(field, inner.finish())
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.len)
  }
}
