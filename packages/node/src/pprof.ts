/**
 * The minimal pprof (profile.proto) writer the SDK needs: V8's profiles go straight to pprof
 * with file and line kept, without the server's format-neutral model (so the package stands alone).
 */
import { gzipSync } from 'node:zlib'

/** A protobuf message being written: varints and length-delimited fields into a growing buffer. */
class Pb {
  private buf = new Uint8Array(256)
  private len = 0
  private room(n: number): void {
    if (this.len + n <= this.buf.length) return
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n))
    next.set(this.buf.subarray(0, this.len))
    this.buf = next
  }
  private raw(v: number): void {
    this.room(10)
    // Values here are ≤ 2^53: split so that the shifts stay in 32-bit range.
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80
      v = Math.floor(v / 0x80)
    }
    this.buf[this.len++] = v
  }
  varint(field: number, v: number): this {
    if (v === 0) return this
    this.raw(field * 8)
    this.raw(v)
    return this
  }
  bytes(field: number, b: Uint8Array): this {
    this.raw(field * 8 + 2)
    this.raw(b.length)
    this.room(b.length)
    this.buf.set(b, this.len)
    this.len += b.length
    return this
  }
  message(field: number, fill: (m: Pb) => void): this {
    const m = new Pb()
    fill(m)
    return this.bytes(field, m.finish())
  }
  packed(field: number, values: readonly number[]): this {
    const m = new Pb()
    for (const v of values) m.raw(v)
    return this.bytes(field, m.finish())
  }
  finish(): Uint8Array {
    return this.buf.subarray(0, this.len)
  }
}

/** A frame as V8 reports it. */
export interface Frame {
  functionName: string
  url: string
  /** 0-based, as V8 gives it. */
  lineNumber: number
}

/** One aggregated sample: a stack of location ids (leaf first), its values and labels. */
export interface PprofSample {
  locations: number[]
  values: number[]
  labels?: readonly (readonly [string, string])[]
}

export interface PprofInput {
  sampleTypes: [string, string][]
  periodType: [string, string]
  period: number
  timeNanos: number
  durationNanos: number
  /** Location id → frame; ids are what samples refer to. */
  locations: Map<number, Frame>
  samples: PprofSample[]
}

/** `name file:line`, the file shortened to what follows node_modules/ or its last two parts. */
export function frameName(f: Frame): string {
  const fn = f.functionName || '(anonymous)'
  if (!f.url) return fn
  let file = f.url.replace(/^file:\/\//, '')
  const nm = file.lastIndexOf('node_modules/')
  file = nm >= 0 ? file.slice(nm + 13) : file.split('/').slice(-2).join('/')
  return `${fn} ${file}:${f.lineNumber + 1}`
}

/** Encodes and gzips a pprof, as Go's net/http/pprof and the Pyroscope SDKs send it. */
export function encodePprof(p: PprofInput): Buffer {
  const strings = new Map<string, number>([['', 0]])
  const s = (v: string): number => {
    let i = strings.get(v)
    if (i === undefined) strings.set(v, (i = strings.size))
    return i
  }
  const out = new Pb()
  const valueType = (field: number, [type, unit]: [string, string]) => out.message(field, (m) => m.varint(1, s(type)).varint(2, s(unit)))
  for (const st of p.sampleTypes) valueType(1, st)
  for (const sample of p.samples) {
    out.message(2, (m) => {
      m.packed(1, sample.locations).packed(2, sample.values.map(Math.round))
      for (const [k, v] of sample.labels ?? []) m.message(3, (l) => l.varint(1, s(k)).varint(2, s(v)))
    })
  }
  // One function per distinct frame name; one location per V8 node (its line).
  const fnIds = new Map<string, number>()
  for (const [id, f] of p.locations) {
    const name = frameName(f)
    let fid = fnIds.get(name)
    if (fid === undefined) {
      fnIds.set(name, (fid = fnIds.size + 1))
      out.message(5, (m) =>
        m
          .varint(1, fid!)
          .varint(2, s(name))
          .varint(3, s(f.functionName || '(anonymous)'))
          .varint(4, s(f.url))
          .varint(5, f.lineNumber + 1),
      )
    }
    out.message(4, (m) => m.varint(1, id).message(4, (l) => l.varint(1, fid!).varint(2, f.lineNumber + 1)))
  }
  out.varint(9, p.timeNanos)
  out.varint(10, p.durationNanos)
  valueType(11, p.periodType)
  out.varint(12, p.period)
  for (const str of strings.keys()) out.bytes(6, Buffer.from(str, 'utf8'))
  return gzipSync(out.finish())
}
