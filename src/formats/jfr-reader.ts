/**
 * The JFR binary format (JDK Flight Recorder, also written by async-profiler) at the byte level:
 * the chunk header, integers, strings and constant references, each read with a bounds check
 * that names the byte offset. jfr-chunk.ts reads types, constants and events on top of it.
 *
 * Layout (big-endian header, then LEB128 integers when the chunk's "compressed ints" feature is
 * set, which every JDK since 11 and async-profiler set):
 *   header (68 bytes): "FLR\0", major u16, minor u16, chunk size, constant-pool offset,
 *     metadata offset, start ns, duration ns, start ticks, ticks per second (i64 each), features u32
 *   event: size (int), type id (long), fields in metadata order; type 0 = metadata, 1 = constants.
 */

export class JfrError extends Error {}

export const HEADER_SIZE = 68
const MAGIC = 0x464c5200 // "FLR\0"

export interface ChunkHeader {
  /** Offset of the chunk in the file. */
  start: number
  size: number
  constantPoolOffset: number
  metadataOffset: number
  startNanos: number
  durationNanos: number
  ticksPerSecond: number
  compressed: boolean
}

/** A reference to a constant: resolve it with `Chunk.resolve`. */
export class CpRef {
  constructor(
    readonly type: number,
    readonly key: number | bigint,
  ) {}
}

export type JfrValue = number | string | null | CpRef | JfrValue[] | JfrObject
export interface JfrObject {
  [field: string]: JfrValue
}

/** Big-endian / LEB128 reader over one chunk. Every read checks bounds and throws JfrError with the offset. */
export class JfrReader {
  pos: number
  constructor(
    readonly buf: Uint8Array,
    readonly compressed: boolean,
    pos: number,
    public end: number,
  ) {
    this.pos = pos
  }

  fail(what: string, at = this.pos): never {
    throw new JfrError(`${what} at byte ${at}`)
  }

  need(n: number): void {
    if (this.pos + n > this.end) this.fail(`truncated: ${n} more bytes needed`)
  }

  u8(): number {
    this.need(1)
    return this.buf[this.pos++]!
  }

  private fixed(n: number): number {
    this.need(n)
    let v = 0
    for (let i = 0; i < n; i++) v = v * 256 + this.buf[this.pos++]!
    return v
  }

  /**
   * JFR's LEB128: up to 8 bytes of 7 bits, then a 9th byte of 8 bits (64 bits in all). Exact to
   * 2^53; above that the value is a bigint when `exact`, else a rounded (signed) number.
   */
  private leb(exact: boolean): number | bigint {
    const b = this.buf
    const start = this.pos
    let v = 0
    let mul = 1
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) this.fail('truncated integer', start)
      const c = b[this.pos++]!
      v += (c & 0x7f) * mul
      if (c < 0x80) return v
      mul *= 128
    }
    if (this.pos >= this.end) this.fail('truncated integer', start)
    this.pos++
    let big = 0n
    for (let i = 0; i < 8; i++) big |= BigInt(b[start + i]! & 0x7f) << BigInt(7 * i)
    big |= BigInt(b[start + 8]!) << 56n
    if (big <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(big)
    return exact ? big : Number(BigInt.asIntN(64, big))
  }

  /** A long (or int) value as a number: negative values come back negative. */
  long(): number {
    return this.compressed ? (this.leb(false) as number) : this.signedFixed(8)
  }

  int(): number {
    return this.compressed ? (this.leb(false) as number) : this.signedFixed(4)
  }

  /** A constant-pool index or type id: exact, as a bigint when above 2^53. */
  key(): number | bigint {
    if (this.compressed) return this.leb(true)
    const hi = this.fixed(4)
    const lo = this.fixed(4)
    const v = hi * 2 ** 32 + lo
    return Number.isSafeInteger(v) ? v : (BigInt(hi) << 32n) | BigInt(lo)
  }

  /** A non-negative count no larger than the bytes left (each element takes at least one byte). */
  count(what: string): number {
    const at = this.pos
    const n = this.int()
    if (!(n >= 0 && n <= this.end - this.pos)) this.fail(`${what} count ${n} does not fit in the ${this.end - this.pos} bytes left`, at)
    return n
  }

  short(): number {
    return this.compressed ? (this.leb(false) as number) : this.signedFixed(2)
  }

  private signedFixed(n: number): number {
    const v = this.fixed(n)
    const half = 2 ** (8 * n - 1)
    return v >= half ? v - 2 * half : v
  }

  float(): number {
    this.need(4)
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0)
    this.pos += 4
    return v
  }

  double(): number {
    this.need(8)
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0)
    this.pos += 8
    return v
  }

  /** Encodings: 0 null, 1 empty, 2 constant-pool reference, 3 UTF-8, 4 char array, 5 Latin-1. `skip`: walk over it, return null. */
  string(stringType: number, skip = false): string | null | CpRef {
    const at = this.pos
    const enc = this.u8()
    switch (enc) {
      case 0:
        return null
      case 1:
        return skip ? null : ''
      case 2: {
        const key = this.key()
        return skip ? null : new CpRef(stringType, key)
      }
      case 3:
      case 5: {
        const n = this.count('string byte')
        const bytes = this.buf.subarray(this.pos, this.pos + n)
        this.pos += n
        if (skip) return null
        return enc === 3 ? utf8.decode(bytes) : latin1.decode(bytes)
      }
      case 4: {
        const n = this.count('string char')
        let out = ''
        for (let i = 0; i < n; i++) {
          const c = this.int() & 0xffff
          if (!skip) out += String.fromCharCode(c)
        }
        return skip ? null : out
      }
      default:
        return this.fail(`unknown string encoding ${enc}`, at)
    }
  }
}

const utf8 = new TextDecoder('utf-8')
const latin1 = new TextDecoder('latin1')

/** Reads the chunk header at `start`. */
export function readChunkHeader(buf: Uint8Array, start: number): ChunkHeader {
  if (buf.length - start < HEADER_SIZE)
    throw new JfrError(`truncated chunk header: ${buf.length - start} of ${HEADER_SIZE} bytes at byte ${start}`)
  const dv = new DataView(buf.buffer, buf.byteOffset + start, HEADER_SIZE)
  if (dv.getUint32(0) !== MAGIC) throw new JfrError(`no chunk magic "FLR\\0" at byte ${start}`)
  const major = dv.getUint16(4)
  if (major !== 2 && major !== 1)
    throw new JfrError(`unsupported JFR version ${major}.${dv.getUint16(6)} at byte ${start + 4} (JDK 11+ and async-profiler write 2.x)`)
  const i64 = (o: number) => Number(dv.getBigInt64(o))
  const h: ChunkHeader = {
    start,
    size: i64(8),
    constantPoolOffset: i64(16),
    metadataOffset: i64(24),
    startNanos: i64(32),
    durationNanos: i64(40),
    ticksPerSecond: i64(56),
    compressed: (dv.getUint32(64) & 1) === 1,
  }
  if (h.size === 0)
    throw new JfrError(
      `chunk at byte ${start} is unfinished (size 0): the recording was still being written; dump it with jcmd JFR.dump or stop it first`,
    )
  if (!(h.size >= HEADER_SIZE && start + h.size <= buf.length)) {
    throw new JfrError(`chunk at byte ${start} says it is ${h.size} bytes but ${buf.length - start} are left (truncated file?)`)
  }
  for (const [name, off] of [
    ['metadata', h.metadataOffset],
    ['constant pool', h.constantPoolOffset],
  ] as const) {
    if (!(off >= HEADER_SIZE && off < h.size))
      throw new JfrError(`chunk at byte ${start}: ${name} offset ${off} is outside the chunk of ${h.size} bytes`)
  }
  if (!(h.ticksPerSecond > 0)) throw new JfrError(`chunk at byte ${start}: ticks per second is ${h.ticksPerSecond}`)
  return h
}
