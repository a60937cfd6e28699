/**
 * Kiln's Profile as pprof (perftools.profiles.Profile): the one writer of the format, for
 * exports, SelectMergeStacktraces' PPROF and SelectMergeProfile.
 */
import type { Profile } from '../model/profile.ts'
import { ProtoWriter } from './proto.ts'
import { gzip } from './gzip.ts'

export interface EncodeOptions {
  /** Gzip the result, as SDKs send it (default true). */
  gzip?: boolean
}

/**
 * Encodes a Profile as pprof: one location per distinct frame (name, file, line, binary), one
 * function per distinct name and file, one mapping per distinct binary; a profile without
 * sources gets one function and one location per distinct name.
 */
export function encodePprof(p: Profile, opts: EncodeOptions = {}): Uint8Array {
  const strings = new Map<string, number>([['', 0]])
  const s = (v: string): number => {
    let i = strings.get(v)
    if (i === undefined) strings.set(v, (i = strings.size))
    return i
  }
  const w = new ProtoWriter()
  const valueType = (field: number, type: string, unit: string) => w.message(field, (m) => m.varint(1, s(type)).varint(2, s(unit)))
  for (const st of p.sampleTypes) valueType(1, st.type, st.unit)
  const t = encodeTables(p)
  const leafFirst: number[] = []
  for (const sample of p.samples) {
    leafFirst.length = 0
    for (let i = sample.stack.length - 1; i >= 0; i--) leafFirst.push(t.locOf[sample.stack[i]!]!)
    w.message(2, (m) => {
      // pprof values are integers: fractional ones (speedscope milliseconds) are rounded.
      m.packedVarints(1, leafFirst).packedVarints(2, sample.values.map(Math.round))
      for (const [k, v] of sample.labels ?? []) m.message(3, (l) => l.varint(1, s(k)).varint(2, s(v)))
    })
  }
  // Mappings say their functions are symbolized, so that pprof does not look for the binaries.
  t.mappings.forEach(([file, buildId], i) =>
    w.message(3, (m) =>
      m
        .varint(1, i + 1)
        .varint(5, s(file))
        .varint(6, s(buildId))
        .varint(7, 1)
        .varint(8, 1)
        .varint(9, 1),
    ),
  )
  for (const [id, fn, line, mapping] of t.locations)
    w.message(4, (m) =>
      m
        .varint(1, id)
        .varint(2, mapping)
        .message(4, (l) => l.varint(1, fn).varint(2, line)),
    )
  t.functions.forEach(([name, file], i) =>
    w.message(5, (m) =>
      m
        .varint(1, i + 1)
        .varint(2, s(name))
        .varint(3, s(name))
        .varint(4, s(file)),
    ),
  )
  w.varint(9, Math.round(p.timeMs * 1e6))
  w.varint(10, p.durationNanos)
  valueType(11, p.periodType.type, p.periodType.unit)
  w.varint(12, p.period)
  if (p.defaultSampleType) w.varint(14, s(p.defaultSampleType))
  for (const str of strings.keys()) w.string(6, str, true)
  const raw = w.finish()
  return opts.gzip === false ? raw : gzip(raw)
}

/** pprof's tables for a Profile: ids are 1 + the index in each list. */
function encodeTables(p: Profile) {
  const functions: [string, string][] = [] // name, file
  const mappings: [string, string][] = [] // file, build id
  const locations: [number, number, number, number][] = [] // id, function id, line, mapping id
  const fnIds = new Map<string, number>()
  const mapIds = new Map<string, number>()
  const locIds = new Map<string, number>()
  const idIn = <T>(ids: Map<string, number>, list: T[], key: string, entry: () => T): number => {
    let id = ids.get(key)
    if (id === undefined) {
      list.push(entry())
      ids.set(key, (id = list.length))
    }
    return id
  }
  const locOf: number[] = p.functions.map((name, i) => {
    if (i === 0) return 0 // index 0 is no function
    const src = p.sources?.[i]
    const file = src?.file ?? ''
    const fn = idIn(fnIds, functions, `${name}\u0000${file}`, () => [name, file])
    const map =
      src?.mapping || src?.buildId
        ? idIn(mapIds, mappings, `${src.mapping}\u0000${src.buildId}`, () => [src.mapping ?? '', src.buildId ?? ''])
        : 0
    const line = src?.line ?? 0
    return idIn(locIds, locations, `${fn}:${line}:${map}`, () => [locations.length + 1, fn, line, map])
  })
  return { functions, mappings, locations, locOf }
}
