/**
 * A small JFR writer for the edge-case tests: one chunk with a metadata event, one constant-pool
 * event and events, from a compact description. It writes the format as the JDK documents it
 * (compressed or fixed-size integers, every string encoding), independently of Kiln's reader.
 */

/** A field: `name:type`, `name:type*` (constant-pool reference), `name:type[]` (array); `name:#99` names a type id. */
export interface ClassSpec {
  id: number
  name: string
  fields?: string[]
}

/** A value as the writer encodes it for a field's type. */
export type Val = number | bigint | string | null | Val[] | { [field: string]: Val } | { enc: 2 | 3 | 4 | 5; s: string }

export interface ChunkSpec {
  compressed?: boolean
  ticksPerSecond?: number
  startNanos?: number
  classes: ClassSpec[]
  /** type id → [constant key, value][] */
  constants: [number, [number | bigint, Val][]][]
  events: [number, Record<string, Val>][]
  /** Bytes of zeros after the constants, inside their event (readers skip to the event's end). */
  padding?: number
}

/** The primitive types every chunk declares, with the ids the specs refer to. */
export const PRIM = { long: 10, int: 11, boolean: 12, String: 13, byte: 14, float: 15, double: 16, short: 17 }
const primNames: Record<number, string> = {
  10: 'long',
  11: 'int',
  12: 'boolean',
  13: 'java.lang.String',
  14: 'byte',
  15: 'float',
  16: 'double',
  17: 'short',
}

class Out {
  b: number[] = []
  constructor(readonly compressed: boolean) {}
  /** JFR LEB128: 7 bits per byte, the 9th byte carries 8. */
  leb(v: bigint): void {
    let x = BigInt.asUintN(64, v)
    for (let i = 0; i < 8; i++) {
      if (x < 0x80n) {
        this.b.push(Number(x))
        return
      }
      this.b.push(Number(x & 0x7fn) | 0x80)
      x >>= 7n
    }
    this.b.push(Number(x))
  }
  fixed(v: bigint, bytes: number): void {
    const x = BigInt.asUintN(bytes * 8, v)
    for (let i = bytes - 1; i >= 0; i--) this.b.push(Number((x >> BigInt(8 * i)) & 0xffn))
  }
  long(v: number | bigint): void {
    if (this.compressed) this.leb(BigInt(v))
    else this.fixed(BigInt(v), 8)
  }
  int(v: number): void {
    if (this.compressed) this.leb(BigInt(v))
    else this.fixed(BigInt(v), 4)
  }
  string(v: string | null | { enc: number; s: string }): void {
    if (v === null) return void this.b.push(0)
    const { enc, s } = typeof v === 'string' ? { enc: v === '' ? 1 : 3, s: v } : v
    this.b.push(enc)
    if (enc === 1) return
    if (enc === 2) return this.long(Number(s))
    if (enc === 4) {
      this.int(s.length)
      for (let i = 0; i < s.length; i++) this.int(s.charCodeAt(i))
      return
    }
    const bytes = enc === 3 ? [...new TextEncoder().encode(s)] : [...s].map((c) => c.charCodeAt(0))
    this.int(bytes.length)
    this.b.push(...bytes)
  }
  /** An event: its size first, as a 4-byte padded varint (as the JDK writes it) or a fixed int. */
  event(body: number[]): void {
    const size = body.length + 4
    if (this.compressed) this.b.push((size & 0x7f) | 0x80, ((size >> 7) & 0x7f) | 0x80, ((size >> 14) & 0x7f) | 0x80, (size >> 21) & 0x7f)
    else this.fixed(BigInt(size), 4)
    for (const x of body) this.b.push(x)
  }
}

interface Field {
  name: string
  type: number
  cp: boolean
  array: boolean
}

/** Writes one chunk; returns its bytes. */
export function writeJfr(spec: ChunkSpec): Uint8Array {
  const compressed = spec.compressed ?? true
  const classes: ClassSpec[] = [...Object.entries(primNames).map(([id, name]) => ({ id: Number(id), name })), ...spec.classes]
  const byName = new Map(classes.map((c) => [c.name, c.id]))
  const fields = new Map<number, Field[]>()
  for (const c of classes) {
    fields.set(
      c.id,
      (c.fields ?? []).map((f) => {
        const m = /^(\w+):([\w.#]+)(\*|\[\])?$/.exec(f)!
        const type = m[2]!.startsWith('#') ? Number(m[2]!.slice(1)) : (byName.get(m[2]!) ?? byName.get(`java.lang.${m[2]}`))
        if (type === undefined) throw new Error(`unknown type in ${f}`)
        return { name: m[1]!, type, cp: m[3] === '*', array: m[3] === '[]' }
      }),
    )
  }
  const value = (o: Out, type: number, v: Val): void => {
    const t = primNames[type]
    if (t === 'long' || t === 'int' || t === 'short')
      return t === 'long' ? o.long(v as number) : t === 'int' || o.compressed ? o.int(v as number) : o.fixed(BigInt(v as number), 2)
    if (t === 'boolean' || t === 'byte') return void o.b.push(v as number)
    if (t === 'float' || t === 'double') {
      const dv = new DataView(new ArrayBuffer(8))
      if (t === 'float') dv.setFloat32(0, v as number)
      else dv.setFloat64(0, v as number)
      return void o.b.push(...new Uint8Array(dv.buffer, 0, t === 'float' ? 4 : 8))
    }
    if (t === 'java.lang.String') return o.string(v as string | null)
    // A struct given as a non-object is written as nothing: forged input for the reader's guards.
    if (typeof v !== 'object' || v === null) return
    const obj = v as Record<string, Val>
    for (const f of fields.get(type)!) {
      const fv = obj[f.name] ?? 0
      const one = (x: Val) => (f.cp ? o.long(x as number | bigint) : value(o, f.type, x))
      if (f.array) {
        o.int((fv as Val[]).length)
        for (const x of fv as Val[]) one(x)
      } else one(fv)
    }
  }

  // Metadata: a string table, then root { metadata { class { field… }… }, region }.
  const strings: string[] = []
  const str = (s: string) => {
    let i = strings.indexOf(s)
    if (i < 0) i = strings.push(s) - 1
    return i
  }
  const el = (o: Out, name: string, attrs: [string, string][], children: ((o: Out) => void)[]) => {
    o.int(str(name))
    o.int(attrs.length)
    for (const [k, v] of attrs) {
      o.int(str(k))
      o.int(str(v))
    }
    o.int(children.length)
    for (const c of children) c(o)
  }
  const tree = new Out(compressed)
  el(
    tree,
    'root',
    [],
    [
      (o) =>
        el(
          o,
          'metadata',
          [],
          classes.map(
            (c) => (o2: Out) =>
              el(
                o2,
                'class',
                [
                  ['name', c.name],
                  ['id', String(c.id)],
                ],
                fields.get(c.id)!.map((f) => (o3: Out) => {
                  const attrs: [string, string][] = [
                    ['name', f.name],
                    ['class', String(f.type)],
                  ]
                  if (f.cp) attrs.push(['constantPool', 'true'])
                  if (f.array) attrs.push(['dimension', '1'])
                  el(o3, 'field', attrs, [])
                }),
              ),
          ),
        ),
      (o) => el(o, 'region', [], []),
    ],
  )
  const meta = new Out(compressed)
  meta.long(0) // type: metadata
  meta.long(0)
  meta.long(0)
  meta.long(1)
  meta.int(strings.length)
  for (const s of strings) meta.string(s)
  meta.b.push(...tree.b)

  const cp = new Out(compressed)
  cp.long(1) // type: constants
  cp.long(0)
  cp.long(0)
  cp.long(0)
  cp.b.push(0)
  cp.int(spec.constants.length)
  for (const [type, entries] of spec.constants) {
    cp.long(type)
    cp.int(entries.length)
    for (const [key, v] of entries) {
      cp.long(key)
      value(cp, type, v)
    }
  }
  for (let i = spec.padding ?? 0; i > 0; i--) cp.b.push(0)

  const body = new Out(compressed)
  const metadataOffset = 68
  body.event(meta.b)
  const constantPoolOffset = 68 + body.b.length
  body.event(cp.b)
  for (const [type, fieldsOf] of spec.events) {
    const e = new Out(compressed)
    e.long(type)
    value(e, type, fieldsOf)
    body.event(e.b)
  }
  const header = new Out(false)
  header.b.push(0x46, 0x4c, 0x52, 0, 0, 2, 0, 1)
  header.fixed(BigInt(68 + body.b.length), 8)
  header.fixed(BigInt(constantPoolOffset), 8)
  header.fixed(BigInt(metadataOffset), 8)
  header.fixed(BigInt(spec.startNanos ?? 1_700_000_000_000_000_000), 8)
  header.fixed(1_000_000_000n, 8)
  header.fixed(0n, 8)
  header.fixed(BigInt(spec.ticksPerSecond ?? 1e9), 8)
  header.fixed(compressed ? 1n : 0n, 4)
  return Uint8Array.from([...header.b, ...body.b])
}
