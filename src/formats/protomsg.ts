/**
 * Schema-driven protobuf messages for the Connect APIs (push.v1, querier.v1, types.v1): one field
 * table per message gives both the binary codec and protojson (camelCase names, int64 as strings,
 * bytes as base64). Not for hot paths: pprof has its own decoder.
 */
import { ProtoReader, ProtoWriter, WIRE_LEN, WIRE_I64 } from './proto.ts'

export type Kind = 'string' | 'int64' | 'double' | 'bool' | 'bytes' | 'enum' | 'message'

export interface Field {
  no: number
  /** protojson name (lowerCamelCase of the proto name). */
  json: string
  kind: Kind
  repeated?: boolean
  msg?: () => MessageDesc
  /** Enum value names, by number, for protojson. */
  enumNames?: string[]
}

export interface MessageDesc {
  name: string
  fields: Field[]
}

export type Msg = Record<string, unknown>

const defaultOf = (f: Field): unknown => (f.repeated ? [] : f.kind === 'string' ? '' : f.kind === 'bool' ? false : f.kind === 'bytes' ? new Uint8Array(0) : f.kind === 'message' ? undefined : 0)

/** Decodes binary protobuf into an object keyed by json names; unknown fields are skipped. */
export function decodeMsg(desc: MessageDesc, bytes: Uint8Array, r: ProtoReader = new ProtoReader(bytes)): Msg {
  const byNo = new Map(desc.fields.map((f) => [f.no, f]))
  const out: Msg = {}
  for (const f of desc.fields) out[f.json] = defaultOf(f)
  while (!r.eof()) {
    const key = r.key()
    const f = byNo.get(key >>> 3)
    const wire = key & 7
    if (!f) {
      r.skip(wire)
      continue
    }
    let v: unknown
    if (f.kind === 'int64' || f.kind === 'enum' || f.kind === 'bool') {
      if (f.repeated && wire === WIRE_LEN) {
        const arr: number[] = []
        r.packedVarints(wire, arr)
        ;(out[f.json] as unknown[]).push(...(f.kind === 'bool' ? arr.map(Boolean) : arr))
        continue
      }
      v = f.kind === 'bool' ? r.varint() !== 0 : f.kind === 'int64' ? r.int64() : r.varint()
    } else if (f.kind === 'double') {
      if (f.repeated && wire === WIRE_LEN) {
        const sub = r.sub()
        while (!sub.eof()) (out[f.json] as number[]).push(sub.double())
        continue
      }
      if (wire !== WIRE_I64) {
        r.skip(wire)
        continue
      }
      v = r.double()
    } else if (f.kind === 'string') v = r.string()
    else if (f.kind === 'bytes') v = r.bytes()
    else v = decodeMsg(f.msg!(), r.buf, r.sub())
    if (f.repeated) (out[f.json] as unknown[]).push(v)
    else out[f.json] = v
  }
  return out
}

/** Encodes an object keyed by json names into binary protobuf. */
export function encodeMsg(desc: MessageDesc, m: Msg, w: ProtoWriter = new ProtoWriter()): Uint8Array {
  for (const f of desc.fields) {
    const v = m[f.json]
    if (v === undefined || v === null) continue
    const vals = f.repeated ? (v as unknown[]) : [v]
    if (f.repeated && (f.kind === 'int64' || f.kind === 'enum')) {
      w.packedVarints(f.no, (vals as unknown[]).map(Number))
      continue
    }
    for (const x of vals) {
      switch (f.kind) {
        case 'string':
          w.string(f.no, String(x), f.repeated)
          break
        case 'int64':
        case 'enum':
          w.varint(f.no, Number(x))
          break
        case 'bool':
          w.bool(f.no, Boolean(x))
          break
        case 'double':
          if (f.repeated) w.double(f.no, Number(x))
          else w.double(f.no, Number(x))
          break
        case 'bytes':
          w.bytes(f.no, x as Uint8Array)
          break
        case 'message':
          w.message(f.no, (inner) => encodeMsg(f.msg!(), x as Msg, inner))
          break
      }
    }
  }
  return w.finish()
}

/** protojson → object (accepts camelCase and the proto's own names, numbers or strings for int64). */
export function fromJson(desc: MessageDesc, j: unknown): Msg {
  const out: Msg = {}
  for (const f of desc.fields) out[f.json] = defaultOf(f)
  if (j === null || typeof j !== 'object' || Array.isArray(j)) throw new TypeError(`${desc.name}: expected a JSON object`)
  const src = j as Record<string, unknown>
  for (const f of desc.fields) {
    const snake = f.json.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
    const raw = src[f.json] ?? src[snake]
    if (raw === undefined || raw === null) continue
    const one = (x: unknown): unknown => {
      switch (f.kind) {
        case 'string':
          return String(x)
        case 'int64': {
          const n = Number(x)
          if (!Number.isFinite(n)) throw new TypeError(`${desc.name}.${f.json}: expected an integer, got ${JSON.stringify(x)}`)
          return n
        }
        case 'double':
          return Number(x)
        case 'bool':
          return x === true || x === 'true'
        case 'enum': {
          if (typeof x === 'number') return x
          const i = f.enumNames?.indexOf(String(x)) ?? -1
          if (i < 0) throw new TypeError(`${desc.name}.${f.json}: unknown value ${JSON.stringify(x)}`)
          return i
        }
        case 'bytes':
          return new Uint8Array(Buffer.from(String(x), 'base64'))
        case 'message':
          return fromJson(f.msg!(), x)
      }
    }
    if (f.repeated) {
      if (!Array.isArray(raw)) throw new TypeError(`${desc.name}.${f.json}: expected an array`)
      out[f.json] = raw.map(one)
    } else out[f.json] = one(raw)
  }
  return out
}

/** object → protojson (int64 as strings, defaults omitted as protojson does). */
export function toJson(desc: MessageDesc, m: Msg): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const f of desc.fields) {
    const v = m[f.json]
    if (v === undefined || v === null) continue
    const one = (x: unknown): unknown => {
      switch (f.kind) {
        case 'int64':
          return String(Math.round(Number(x)))
        case 'bytes':
          return Buffer.from(x as Uint8Array).toString('base64')
        case 'enum':
          return f.enumNames?.[Number(x)] ?? Number(x)
        case 'message':
          return toJson(f.msg!(), x as Msg)
        default:
          return x
      }
    }
    if (f.repeated) {
      if ((v as unknown[]).length) out[f.json] = (v as unknown[]).map(one)
    } else if (v !== defaultOf(f) && !(f.kind === 'bytes' && (v as Uint8Array).length === 0)) out[f.json] = one(v)
  }
  return out
}
