/**
 * The JFR binary format (JDK Flight Recorder, also written by async-profiler), read generically:
 * chunk headers, the metadata event that describes every type and field, and the constant pools
 * (threads, stack traces, methods, classes, symbols) that events refer to by index. Events of the
 * types a caller asks for are decoded into plain objects; all others are skipped by their size.
 *
 * Layout (big-endian header, then LEB128 integers when the chunk's "compressed ints" feature is
 * set, which every JDK since 11 and async-profiler set):
 *   header (68 bytes): "FLR\0", major u16, minor u16, chunk size, constant-pool offset,
 *     metadata offset, start ns, duration ns, start ticks, ticks per second (i64 each), features u32
 *   event: size (int), type id (long), fields in metadata order; type 0 = metadata, 1 = constants.
 */

export class JfrError extends Error {}

const HEADER_SIZE = 68
const MAGIC = 0x464c5200 // "FLR\0"
// 32 nested struct levels: JDK types nest at most 3 deep (event → StackTrace → StackFrame).
const MAX_NESTING = 32

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

// Field kinds, precomputed per type so that reading a value is a switch, not a string compare.
const enumKinds = { struct: 0, int: 1, long: 2, short: 3, char: 4, byte: 5, boolean: 6, float: 7, double: 8, string: 9 } as const
const primitiveKinds: Record<string, number> = {
  int: enumKinds.int,
  long: enumKinds.long,
  short: enumKinds.short,
  char: enumKinds.char,
  byte: enumKinds.byte,
  boolean: enumKinds.boolean,
  float: enumKinds.float,
  double: enumKinds.double,
  'java.lang.String': enumKinds.string,
}

export interface FieldDef {
  name: string
  type: number
  array: boolean
  constantPool: boolean
}

export interface TypeDef {
  id: number
  name: string
  kind: number
  fields: FieldDef[]
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

  /** Encodings: 0 null, 1 empty, 2 constant-pool reference, 3 UTF-8, 4 char array, 5 Latin-1. */
  string(stringType: number): string | null | CpRef {
    const at = this.pos
    const enc = this.u8()
    switch (enc) {
      case 0:
        return null
      case 1:
        return ''
      case 2:
        return new CpRef(stringType, this.key())
      case 3:
      case 5: {
        const n = this.count('string byte')
        const bytes = this.buf.subarray(this.pos, this.pos + n)
        this.pos += n
        return enc === 3 ? utf8.decode(bytes) : latin1.decode(bytes)
      }
      case 4: {
        const n = this.count('string char')
        let out = ''
        for (let i = 0; i < n; i++) out += String.fromCharCode(this.int() & 0xffff)
        return out
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
  if (buf.length - start < HEADER_SIZE) throw new JfrError(`truncated chunk header: ${buf.length - start} of ${HEADER_SIZE} bytes at byte ${start}`)
  const dv = new DataView(buf.buffer, buf.byteOffset + start, HEADER_SIZE)
  if (dv.getUint32(0) !== MAGIC) throw new JfrError(`no chunk magic "FLR\\0" at byte ${start}`)
  const major = dv.getUint16(4)
  if (major !== 2 && major !== 1) throw new JfrError(`unsupported JFR version ${major}.${dv.getUint16(6)} at byte ${start + 4} (JDK 11+ and async-profiler write 2.x)`)
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
  if (h.size === 0) throw new JfrError(`chunk at byte ${start} is unfinished (size 0): the recording was still being written; dump it with jcmd JFR.dump or stop it first`)
  if (!(h.size >= HEADER_SIZE && start + h.size <= buf.length)) {
    throw new JfrError(`chunk at byte ${start} says it is ${h.size} bytes but ${buf.length - start} are left (truncated file?)`)
  }
  for (const [name, off] of [['metadata', h.metadataOffset], ['constant pool', h.constantPoolOffset]] as const) {
    if (!(off >= HEADER_SIZE && off < h.size)) throw new JfrError(`chunk at byte ${start}: ${name} offset ${off} is outside the chunk of ${h.size} bytes`)
  }
  if (!(h.ticksPerSecond > 0)) throw new JfrError(`chunk at byte ${start}: ticks per second is ${h.ticksPerSecond}`)
  return h
}

/** One chunk: its header, types and constants, and the offsets of its events by type. */
export class Chunk {
  readonly types = new Map<number, TypeDef>()
  readonly typesByName = new Map<string, TypeDef>()
  private readonly pools = new Map<number, Map<number | bigint, JfrValue>>()
  /** Offsets of the events of each type id, in file order (metadata and constants excluded). */
  readonly events = new Map<number, number[]>()
  private stringType = -1
  /**
   * Array elements read so far, capped: a struct type without fields takes no bytes, so a forged
   * type could otherwise make each count byte expand into a huge array.
   */
  private elements = 0
  private readonly maxElements: number

  constructor(
    readonly buf: Uint8Array,
    readonly header: ChunkHeader,
  ) {
    const h = header
    const end = h.start + h.size
    this.maxElements = (1 << 20) + 16 * h.size
    this.readMetadata(h.start + h.metadataOffset)
    // One linear walk over the events: constants are read now (events refer to them), other
    // events are noted by type and read only if asked for.
    let pos = h.start + HEADER_SIZE
    while (pos < end) {
      const r = this.reader(pos, end)
      const size = r.int()
      if (!(size > 0 && pos + size <= end)) r.fail(`event size ${size} runs past the chunk end ${end}`, pos)
      r.end = pos + size
      const type = r.long()
      if (type === 1) this.readConstants(r)
      else if (type !== 0) {
        let list = this.events.get(type)
        if (!list) this.events.set(type, (list = []))
        list.push(pos)
      }
      pos += size
    }
  }

  reader(pos: number, end = this.header.start + this.header.size): JfrReader {
    return new JfrReader(this.buf, this.header.compressed, pos, end)
  }

  private readMetadata(pos: number): void {
    const end = this.header.start + this.header.size
    const r = this.reader(pos, end)
    const size = r.int()
    if (!(size > 0 && pos + size <= end)) r.fail(`metadata event size ${size} runs past the chunk end`, pos)
    r.end = pos + size
    if (r.long() !== 0) r.fail('the metadata offset does not point at a metadata event', pos)
    r.long() // start time
    r.long() // duration
    r.long() // metadata id
    const n = r.count('metadata string')
    const strings: string[] = []
    for (let i = 0; i < n; i++) {
      const s = r.string(-1)
      strings.push(typeof s === 'string' ? s : '')
    }
    const str = (): string => {
      const at = r.pos
      const i = r.int()
      if (!(i >= 0 && i < strings.length)) r.fail(`metadata string index ${i} out of range`, at)
      return strings[i]!
    }
    interface Element {
      name: string
      attrs: Map<string, string>
      children: Element[]
    }
    let elements = 0
    const element = (depth: number): Element => {
      if (depth > MAX_NESTING) r.fail('metadata elements nested too deep')
      if (++elements > r.end - pos) r.fail('more metadata elements than bytes')
      const name = str()
      const attrs = new Map<string, string>()
      for (let i = r.count('attribute'); i > 0; i--) {
        const k = str()
        attrs.set(k, str())
      }
      const children: Element[] = []
      for (let i = r.count('child element'); i > 0; i--) children.push(element(depth + 1))
      return { name, attrs, children }
    }
    const root = element(0)
    const metadata = root.children.find((e) => e.name === 'metadata')
    if (!metadata) throw new JfrError(`metadata event without a metadata element at byte ${pos}`)
    const num = (s: string | undefined, what: string): number => {
      const v = Number(s)
      if (!Number.isSafeInteger(v)) r.fail(`metadata ${what} ${JSON.stringify(s)} is not a number`, pos)
      return v
    }
    for (const c of metadata.children) {
      if (c.name !== 'class') continue
      const name = c.attrs.get('name') ?? ''
      const t: TypeDef = { id: num(c.attrs.get('id'), `class ${name} id`), name, kind: primitiveKinds[name] ?? enumKinds.struct, fields: [] }
      for (const f of c.children) {
        if (f.name !== 'field') continue
        t.fields.push({
          name: f.attrs.get('name') ?? '',
          type: num(f.attrs.get('class'), `field ${name}.${f.attrs.get('name')} class`),
          array: f.attrs.get('dimension') === '1',
          constantPool: f.attrs.get('constantPool') === 'true',
        })
      }
      this.types.set(t.id, t)
      this.typesByName.set(name, t)
      if (name === 'java.lang.String') this.stringType = t.id
    }
    for (const t of this.types.values()) {
      for (const f of t.fields) if (!this.types.has(f.type)) r.fail(`field ${t.name}.${f.name} has unknown type ${f.type}`, pos)
    }
  }

  private readConstants(r: JfrReader): void {
    r.long() // start time
    r.long() // duration
    r.long() // delta to the previous constant-pool event (the walk over all events finds it anyway)
    r.u8() // flush / type mask
    for (let pools = r.count('constant pool'); pools > 0; pools--) {
      const at = r.pos
      const typeId = r.long()
      const t = this.types.get(typeId)
      if (!t) r.fail(`constant pool of unknown type ${typeId}`, at)
      let pool = this.pools.get(typeId)
      if (!pool) this.pools.set(typeId, (pool = new Map()))
      for (let n = r.count(`${t.name} constant`); n > 0; n--) {
        const key = r.key()
        pool.set(key, this.readType(r, t, 0))
      }
    }
  }

  /** Reads one event at `pos` as an object of its fields. */
  readEvent(pos: number): JfrObject {
    const r = this.reader(pos)
    r.end = pos + r.int()
    const type = this.types.get(r.long())!
    const o: JfrObject = {}
    for (const f of type.fields) o[f.name] = this.readField(r, f, 1)
    return o
  }

  private readField(r: JfrReader, f: FieldDef, depth: number): JfrValue {
    if (!f.array) return this.readOne(r, f, depth)
    const out: JfrValue[] = []
    const n = r.count(`${f.name} array`)
    this.elements += n
    if (this.elements > this.maxElements) r.fail(`more than ${this.maxElements} array elements in a chunk of ${this.header.size} bytes`)
    for (let i = 0; i < n; i++) out.push(this.readOne(r, f, depth))
    return out
  }

  private readOne(r: JfrReader, f: FieldDef, depth: number): JfrValue {
    if (f.constantPool) return new CpRef(f.type, r.key())
    return this.readType(r, this.types.get(f.type)!, depth)
  }

  private readType(r: JfrReader, t: TypeDef, depth: number): JfrValue {
    switch (t.kind) {
      case enumKinds.int:
      case enumKinds.long:
      case enumKinds.short:
      case enumKinds.char:
        return r.compressed ? r.long() : t.kind === enumKinds.long ? r.long() : t.kind === enumKinds.int ? r.int() : shortFixed(r)
      case enumKinds.byte:
      case enumKinds.boolean:
        return r.u8()
      case enumKinds.float:
        return r.float()
      case enumKinds.double:
        return r.double()
      case enumKinds.string:
        return r.string(this.stringType)
    }
    if (depth > MAX_NESTING) r.fail(`type ${t.name} nests deeper than ${MAX_NESTING} levels`)
    const o: JfrObject = {}
    for (const f of t.fields) o[f.name] = this.readField(r, f, depth + 1)
    return o
  }

  /** The constant a reference points to (undefined when the pool lacks it), or the value itself. */
  resolve(v: JfrValue | undefined): JfrValue | undefined {
    for (let hops = 0; v instanceof CpRef; hops++) {
      if (hops > 8) return undefined
      v = this.pools.get(v.type)?.get(v.key)
    }
    return v
  }
}

function shortFixed(r: JfrReader): number {
  r.need(2)
  const v = (r.buf[r.pos]! << 8) | r.buf[r.pos + 1]!
  r.pos += 2
  return v
}

/** Every chunk of a recording, in order. */
export function readChunks(buf: Uint8Array): Chunk[] {
  const chunks: Chunk[] = []
  for (let pos = 0; pos < buf.length; ) {
    const h = readChunkHeader(buf, pos)
    chunks.push(new Chunk(buf, h))
    pos += h.size
  }
  return chunks
}
