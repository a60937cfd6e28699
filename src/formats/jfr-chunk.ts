/**
 * One JFR chunk read generically: the metadata event that describes every type and field, the
 * constant pools (threads, stack traces, methods, classes, symbols) that events refer to by index,
 * and the offsets of all other events by type, decoded into plain objects only when asked for.
 */
import { CpRef, HEADER_SIZE, JfrError, JfrReader, readChunkHeader, type ChunkHeader, type JfrObject, type JfrValue } from './jfr-reader.ts'

// 32 nested struct levels: JDK types nest at most 3 deep (event → StackTrace → StackFrame).
const MAX_NESTING = 32

// Field kinds, precomputed per type so that reading a value is a switch, not a string compare.
const kinds = { struct: 0, int: 1, long: 2, short: 3, char: 4, byte: 5, boolean: 6, float: 7, double: 8, string: 9 } as const
const primitiveKinds = new Map<string, number>([
  ['int', kinds.int],
  ['long', kinds.long],
  ['short', kinds.short],
  ['char', kinds.char],
  ['byte', kinds.byte],
  ['boolean', kinds.boolean],
  ['float', kinds.float],
  ['double', kinds.double],
  ['java.lang.String', kinds.string],
])

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

/** One chunk: its header, types and constants, and the offsets of its events by type. */
export class Chunk {
  readonly types = new Map<number, TypeDef>()
  readonly typesByName = new Map<string, TypeDef>()
  /** Constants by type and key: where each is in the chunk, and those decoded so far. */
  private readonly offsets = new Map<number, Map<number | bigint, number>>()
  private readonly values = new Map<number, Map<number | bigint, JfrValue>>()
  /** Offsets of the events of each type id, in file order (metadata and constants excluded). */
  readonly events = new Map<number, number[]>()
  private stringType = -1
  /**
   * Array elements read so far, capped: a struct type without fields takes no bytes, so a forged
   * type could otherwise make each count byte expand into a huge array.
   */
  private elements = 0
  private readonly maxElements: number
  // One reader each for events and for constants decoded on first use (a hot path: no allocation).
  private readonly eventReader: JfrReader
  private readonly constantReader: JfrReader

  constructor(
    readonly buf: Uint8Array,
    readonly header: ChunkHeader,
  ) {
    const h = header
    const end = h.start + h.size
    this.maxElements = (1 << 20) + 16 * h.size
    this.eventReader = this.reader(h.start, end)
    this.constantReader = this.reader(h.start, end)
    this.readMetadata(h.start + h.metadataOffset)
    // One linear walk over the events: constants are read now (events refer to them), other
    // events are noted by type and read only if asked for.
    let pos = h.start + HEADER_SIZE
    const r = this.reader(pos, end)
    while (pos < end) {
      r.pos = pos
      r.end = end
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
      const t: TypeDef = {
        id: num(c.attrs.get('id'), `class ${name} id`),
        name,
        kind: primitiveKinds.get(name) ?? kinds.struct,
        fields: [],
      }
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
      let pool = this.offsets.get(typeId)
      if (!pool) this.offsets.set(typeId, (pool = new Map()))
      for (let n = r.count(`${t.name} constant`); n > 0; n--) {
        const key = r.key()
        pool.set(key, r.pos)
        this.readType(r, t, 0, false)
      }
    }
  }

  /** Reads one event at `pos` as an object of its fields. */
  readEvent(pos: number): JfrObject {
    const r = this.eventReader
    r.pos = pos
    r.end = this.header.start + this.header.size
    r.end = pos + r.int()
    const type = this.types.get(r.long())!
    const o: JfrObject = {}
    for (const f of type.fields) o[f.name] = this.readField(r, f, 1, true)
    return o
  }

  /** Reads a field's value, or with `build` false only walks over it (checked, nothing allocated). */
  private readField(r: JfrReader, f: FieldDef, depth: number, build: boolean): JfrValue {
    if (!f.array) return this.readOne(r, f, depth, build)
    const n = r.count(`${f.name} array`)
    this.elements += n
    if (this.elements > this.maxElements) r.fail(`more than ${this.maxElements} array elements in a chunk of ${this.header.size} bytes`)
    const out: JfrValue[] | null = build ? [] : null
    for (let i = 0; i < n; i++) {
      const v = this.readOne(r, f, depth, build)
      out?.push(v)
    }
    return out
  }

  private readOne(r: JfrReader, f: FieldDef, depth: number, build: boolean): JfrValue {
    if (f.constantPool) {
      const key = r.key()
      return build ? new CpRef(f.type, key) : null
    }
    return this.readType(r, this.types.get(f.type)!, depth, build)
  }

  private readType(r: JfrReader, t: TypeDef, depth: number, build: boolean): JfrValue {
    switch (t.kind) {
      case kinds.long:
        return r.long()
      case kinds.int:
        return r.int()
      case kinds.short:
      case kinds.char:
        return r.short()
      case kinds.byte:
      case kinds.boolean:
        return r.u8()
      case kinds.float:
        return r.float()
      case kinds.double:
        return r.double()
      case kinds.string:
        return r.string(this.stringType, !build)
    }
    if (depth > MAX_NESTING) r.fail(`type ${t.name} nests deeper than ${MAX_NESTING} levels`)
    const o: JfrObject | null = build ? {} : null
    for (const f of t.fields) {
      const v = this.readField(r, f, depth + 1, build)
      if (o) o[f.name] = v
    }
    return o
  }

  /**
   * The methods of a stack-trace constant, leaf first, read straight from its bytes: the hot
   * path of every decode (thousands of traces of tens of frames), so no frame objects are built.
   * Undefined when the trace is missing or its type is not jdk.types.StackTrace's usual shape.
   */
  frameMethods(ref: JfrValue | undefined): CpRef[] | undefined {
    if (!(ref instanceof CpRef)) return undefined
    const t = this.types.get(ref.type)
    const at = this.offsets.get(ref.type)?.get(ref.key)
    const framesField = t?.fields.find((f) => f.name === 'frames')
    const frame = framesField && this.types.get(framesField.type)
    if (at === undefined || !t || !framesField?.array || framesField.constantPool || !frame) return undefined
    const r = this.constantReader
    r.pos = at
    const out: CpRef[] = []
    for (const f of t.fields) {
      if (f !== framesField) {
        this.readField(r, f, 1, false)
        continue
      }
      const n = r.count('frames array')
      this.elements += n
      if (this.elements > this.maxElements) r.fail(`more than ${this.maxElements} array elements in a chunk of ${this.header.size} bytes`)
      for (let i = 0; i < n; i++) {
        for (const ff of frame.fields) {
          if (ff.name === 'method' && ff.constantPool && !ff.array) out.push(new CpRef(ff.type, r.key()))
          else this.readField(r, ff, 2, false)
        }
      }
    }
    return out
  }

  /** The constant a reference points to (undefined when the pool lacks it), or the value itself. */
  resolve(v: JfrValue | undefined): JfrValue | undefined {
    for (let hops = 0; v instanceof CpRef; hops++) {
      if (hops > 8) return undefined
      v = this.constant(v.type, v.key)
    }
    return v
  }

  /** A constant, decoded from its offset on first use: most constants (threads, classes never sampled) are never used. */
  private constant(type: number, key: number | bigint): JfrValue | undefined {
    let cache = this.values.get(type)
    const hit = cache?.get(key)
    if (hit !== undefined) return hit
    const at = this.offsets.get(type)?.get(key)
    if (at === undefined) return undefined
    const r = this.constantReader
    r.pos = at
    const value = this.readType(r, this.types.get(type)!, 0, true)
    if (!cache) this.values.set(type, (cache = new Map()))
    cache.set(key, value)
    return value
  }
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
