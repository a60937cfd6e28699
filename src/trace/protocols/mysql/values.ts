/** COM_STMT_EXECUTE parameters in MySQL's binary protocol, decoded to text for common types. */
import { lenencStr } from './packets.ts'

class Short extends Error {}

function need(b: Buffer, o: number, n: number): void {
  if (o + n > b.length) throw new Short()
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0')

/** One value of `type` (enum_field_types in include/mysql_com.h) at `o`: its text and the offset after it. */
function value(b: Buffer, o: number, type: number, unsigned: boolean, max: number): { s: string; next: number } {
  switch (type) {
    case 1:
      need(b, o, 1)
      return { s: String(unsigned ? b.readUInt8(o) : b.readInt8(o)), next: o + 1 }
    case 2:
    case 13:
      need(b, o, 2)
      return { s: String(unsigned ? b.readUInt16LE(o) : b.readInt16LE(o)), next: o + 2 }
    case 3:
    case 9:
      need(b, o, 4)
      return { s: String(unsigned ? b.readUInt32LE(o) : b.readInt32LE(o)), next: o + 4 }
    case 8:
      need(b, o, 8)
      return { s: String(unsigned ? b.readBigUInt64LE(o) : b.readBigInt64LE(o)), next: o + 8 }
    case 4:
      need(b, o, 4)
      return { s: String(b.readFloatLE(o)), next: o + 4 }
    case 5:
      need(b, o, 8)
      return { s: String(b.readDoubleLE(o)), next: o + 8 }
    case 6:
      return { s: 'NULL', next: o }
    case 7:
    case 10:
    case 12: {
      // DATE / DATETIME / TIMESTAMP: a length (0, 4, 7 or 11), then year, month, day, h, m, s, µs.
      need(b, o, 1)
      const n = b[o]!
      need(b, o + 1, n)
      const r = b.subarray(o + 1, o + 1 + n)
      let s = n >= 4 ? `${pad(r.readUInt16LE(0), 4)}-${pad(r[2]!)}-${pad(r[3]!)}` : '0000-00-00'
      if (n >= 7) s += ` ${pad(r[4]!)}:${pad(r[5]!)}:${pad(r[6]!)}`
      if (n >= 11) s += `.${pad(r.readUInt32LE(7), 6)}`
      return { s, next: o + 1 + n }
    }
    case 11: {
      // TIME: a length (0, 8 or 12), sign, days, h, m, s, µs.
      need(b, o, 1)
      const n = b[o]!
      need(b, o + 1, n)
      const r = b.subarray(o + 1, o + 1 + n)
      let s = '00:00:00'
      if (n >= 8) s = `${r[0] ? '-' : ''}${r.readUInt32LE(1) * 24 + r[5]!}:${pad(r[6]!)}:${pad(r[7]!)}`
      if (n >= 12) s += `.${pad(r.readUInt32LE(8), 6)}`
      return { s, next: o + 1 + n }
    }
    default: {
      // Strings, decimals, blobs, JSON, enums, bits, geometry: length-encoded bytes.
      const v = lenencStr(b, o)
      if (!v) throw new Short()
      const text = v.s.subarray(0, max).toString('utf8')
      return { s: text + (v.s.length > max ? '…' : ''), next: v.next }
    }
  }
}

export interface Bound {
  /** Each parameter's type byte and unsigned flag, from this execute or the last one that sent them. */
  types: { type: number; unsigned: boolean }[]
  params: string[]
}

/**
 * The parameters of a COM_STMT_EXECUTE payload (after the command byte) for a statement with
 * `count` parameters; `last` are the types sent with an earlier execute (they are sent once).
 * Returns null when the payload does not parse.
 */
export function executeParams(p: Buffer, count: number, last: Bound['types'] | null, max: number): Bound | null {
  try {
    // stmt id (4), flags (1), iteration count (4).
    let o = 9
    if (count === 0) return { types: [], params: [] }
    const nullBytes = (count + 7) >> 3
    need(p, o, nullBytes + 1)
    const nulls = p.subarray(o, o + nullBytes)
    o += nullBytes
    const bound = p[o++]
    let types = last
    if (bound === 1) {
      need(p, o, 2 * count)
      types = []
      for (let i = 0; i < count; i++) types.push({ type: p[o + 2 * i]!, unsigned: (p[o + 2 * i + 1]! & 0x80) !== 0 })
      o += 2 * count
    }
    if (!types || types.length !== count) return null
    const params: string[] = []
    for (let i = 0; i < count; i++) {
      if (nulls[i >> 3]! & (1 << (i & 7))) {
        params.push('NULL')
        continue
      }
      const t = types[i]!
      const v = value(p, o, t.type, t.unsigned, max)
      params.push(v.s)
      o = v.next
    }
    return { types, params }
  } catch (e) {
    if (e instanceof Short || e instanceof RangeError) return null
    throw e
  }
}
