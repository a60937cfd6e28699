/**
 * pprof (perftools.profiles.Profile, google/pprof's profile.proto), raw or gzipped, to and from
 * Kiln's Profile. Decoding is one pass over the top-level fields: tables (strings, functions,
 * locations, mappings) are read into flat arrays and samples are only noted as byte ranges, since
 * the string table usually comes last; the samples are then read once, straight into the builder.
 */
import { KilnError } from '../model/errors.ts'
import type { Labels } from '../model/labels.ts'
import { ProfileBuilder, defaultLimits, type Limits, type Profile } from '../model/profile.ts'
import { ProtoError, ProtoReader, WIRE_LEN, WIRE_VARINT } from './proto.ts'
import { maybeGunzip, type GunzipOptions } from './gzip.ts'
import { frameBudget } from './budget.ts'
import { sniffText } from './sniff.ts'

export interface DecodeOptions extends GunzipOptions {
  limits?: Limits
}

// Field numbers of message Profile in profile.proto, with their wire types.
const PROFILE_FIELDS: ReadonlyArray<readonly [string, number] | undefined> = [
  undefined,
  ['sample_type', WIRE_LEN],
  ['sample', WIRE_LEN],
  ['mapping', WIRE_LEN],
  ['location', WIRE_LEN],
  ['function', WIRE_LEN],
  ['string_table', WIRE_LEN],
  ['drop_frames', WIRE_VARINT],
  ['keep_frames', WIRE_VARINT],
  ['time_nanos', WIRE_VARINT],
  ['duration_nanos', WIRE_VARINT],
  ['period_type', WIRE_LEN],
  ['period', WIRE_VARINT],
  ['comment', WIRE_LEN], // packed repeated int64; a single unpacked one is a varint (checked below)
  ['default_sample_type', WIRE_VARINT],
  ['doc_url', WIRE_LEN],
]

/**
 * True when the bytes (already gunzipped) read as a pprof message: not text (a pprof's first
 * bytes hold small varints, control characters as text) and the first fields are pprof's field
 * numbers with their wire types. A truncated pprof still passes, so that it is reported as a
 * broken pprof rather than as an unknown format.
 */
export function sniffPprof(bytes: Uint8Array): boolean {
  if (sniffText(bytes)) return false
  const r = new ProtoReader(bytes)
  let complete = 0
  try {
    for (let i = 0; i < 16 && !r.eof(); i++) {
      const k = r.key()
      const f = PROFILE_FIELDS[k >>> 3]
      const wire = k & 7
      if (!f || (wire !== f[1] && !(k >>> 3 === 13 && wire === WIRE_VARINT))) return false
      r.skip(wire)
      complete++
    }
  } catch {
    return complete > 0
  }
  return complete > 0
}

/** Maps ids (1, 2, 3, … in practice, but any uint64 on the wire) to dense indices. */
class IdIndex {
  private readonly dense: number[] = []
  private sparse: Map<number, number> | undefined
  set(id: number, index: number): void {
    if (id < 1 << 20) this.dense[id] = index
    else (this.sparse ??= new Map()).set(id, index)
  }
  get(id: number): number | undefined {
    return id < 1 << 20 ? this.dense[id] : this.sparse?.get(id)
  }
}

/** The tables of one pprof, as read in the first pass. */
class Tables {
  readonly strings: string[] = []
  readonly sampleTypes: number[] = [] // type, unit string indices, in pairs
  periodType: [number, number] = [0, 0]
  period = 0
  timeNanos = 0
  durationNanos = 0
  defaultSampleType = 0
  readonly sampleRanges: number[] = [] // start, end byte offsets, in pairs
  readonly mappings = new IdIndex() // mapping id → index in mapFile/mapBuildId
  readonly mapFile: number[] = [] // string indices
  readonly mapBuildId: number[] = []
  readonly functions = new IdIndex() // function id → index in fnNames/fnFiles; filled by indexFunctions
  readonly fnIds: number[] = [] // functions' ids and string indices (name, else system_name; filename), in table order
  readonly fnNames: number[] = []
  readonly fnFiles: number[] = []
  readonly locations = new IdIndex() // location id → location index
  readonly locIds: number[] = []
  readonly locMapping: number[] = []
  readonly locAddress: number[] = []
  readonly locLineStart: number[] = []
  readonly lineFunction: number[] = [] // function ids of all locations' lines, flat; a location owns [locLineStart[i], locLineStart[i+1])
  readonly lineNumber: number[] = [] // and their line numbers
}

/**
 * Where the decoder is, kept as numbers and formatted only for an error message: building a
 * "sample #12" string per sample took more than half of the decoding time.
 */
class Cursor {
  field = 'the profile'
  n = 0
  byte = -1
  set(field: string, n: number, byte: number): void {
    this.field = field
    this.n = n
    this.byte = byte
  }
  toString(): string {
    return this.n ? `${this.field} #${this.n}` : this.field
  }
  detail(): string {
    return this.byte >= 0 ? `${this} (byte ${this.byte})` : `${this}`
  }
}
type Where = { toString(): string }

/** Decodes a pprof profile (raw or gzipped). Throws a located KILN_BAD_PPROF when it is broken. */
export function decodePprof(input: Uint8Array, opts: DecodeOptions = {}): Profile {
  const bytes = maybeGunzip(input, opts)
  if (bytes.length === 0) throw new KilnError('KILN_BAD_PPROF', 'pprof is empty (0 bytes); send a profile with at least one sample type')
  const at = new Cursor()
  try {
    const t = readTables(bytes, at)
    return buildProfile(bytes, t, opts.limits ?? defaultLimits, at)
  } catch (e) {
    if (e instanceof ProtoError) throw new KilnError('KILN_BAD_PPROF', `pprof is corrupt or truncated: ${e.message}, in ${at.detail()}`)
    throw e
  }
}

function readTables(buf: Uint8Array, at: Cursor): Tables {
  const t = new Tables()
  const counts = new Array<number>(PROFILE_FIELDS.length).fill(0)
  const r = new ProtoReader(buf)
  while (!r.eof()) {
    const k = r.key()
    const field = k >>> 3
    const wire = k & 7
    const spec = PROFILE_FIELDS[field]
    if (!spec) {
      r.skip(wire)
      continue
    }
    const n = counts[field]!++
    at.set(spec[0], n + 1, r.pos)
    if (wire !== spec[1] && !(field === 13 && wire === WIRE_VARINT))
      throw new ProtoError(`field ${spec[0]} has wire type ${wire}, expected ${spec[1]}`)
    switch (field) {
      case 1:
        readValueType(r.sub(), t.sampleTypes)
        break
      case 2: {
        const [s, e] = r.lenRange()
        t.sampleRanges.push(s, e)
        break
      }
      case 3:
        readMapping(r.sub(), t)
        break
      case 4:
        readLocation(r.sub(), t)
        break
      case 5:
        readFunction(r.sub(), t)
        break
      case 6:
        t.strings.push(r.string())
        break
      case 9:
        t.timeNanos = r.int64()
        break
      case 10:
        t.durationNanos = r.int64()
        break
      case 11: {
        const pt: number[] = []
        readValueType(r.sub(), pt)
        t.periodType = [pt[0]!, pt[1]!]
        break
      }
      case 12:
        t.period = r.int64()
        break
      case 14:
        t.defaultSampleType = r.int64()
        break
      default:
        r.skip(wire)
    }
  }
  indexFunctions(t)
  return t
}

/** Reads a message's varint fields 1..n into out[1..n] (the last value of each wins); skips the rest. */
function readVarints(r: ProtoReader, n: number): number[] {
  const out = new Array<number>(n + 1).fill(0)
  while (!r.eof()) {
    const k = r.key()
    const f = k >>> 3
    if ((k & 7) === WIRE_VARINT && f <= n) out[f] = r.int64()
    else r.skip(k & 7)
  }
  return out
}

// ValueType { type = 1; unit = 2 }
function readValueType(r: ProtoReader, out: number[]): void {
  const v = readVarints(r, 2)
  out.push(v[1]!, v[2]!)
}

// Mapping { id = 1; …; filename = 5; build_id = 6; … }
function readMapping(r: ProtoReader, t: Tables): void {
  const v = readVarints(r, 6)
  t.mappings.set(v[1]!, t.mapFile.length)
  t.mapFile.push(v[5]!)
  t.mapBuildId.push(v[6]!)
}

// Function { id = 1; name = 2; system_name = 3; filename = 4; … }
function readFunction(r: ProtoReader, t: Tables): void {
  const v = readVarints(r, 4)
  t.fnIds.push(v[1]!)
  t.fnNames.push(v[2]! || v[3]!)
  t.fnFiles.push(v[4]!)
}

/**
 * Indexes the functions by id. Pyroscope's .NET profiler (before its 0.8.x fix) wrote every
 * function with id 0, one function per location, in the locations' order, and its lines name the
 * function by its location's id: Pyroscope then gives function i the id of location i, and so does
 * Kiln, whatever the spy (a table of only id-0 functions is unusable otherwise).
 */
function indexFunctions(t: Tables): void {
  const broken = t.fnIds.length > 0 && t.fnIds.every((id) => id === 0) && t.fnIds.length === t.locIds.length
  for (let i = 0; i < t.fnIds.length; i++) t.functions.set(broken ? t.locIds[i]! : t.fnIds[i]!, i)
}

function readLocation(r: ProtoReader, t: Tables): void {
  let id = 0
  let mapping = 0
  let address = 0
  const index = t.locMapping.length
  t.locLineStart.push(t.lineFunction.length)
  while (!r.eof()) {
    const k = r.key()
    if (k === 0x08) id = r.varint()
    else if (k === 0x10) mapping = r.varint()
    else if (k === 0x18) address = r.varint()
    else if (k === 0x22) {
      // Line { function_id = 1; line = 2; column = 3 }
      const l = r.sub()
      let fn = 0
      let line = 0
      while (!l.eof()) {
        const lk = l.key()
        if (lk === 0x08) fn = l.varint()
        else if (lk === 0x10) line = l.int64()
        else l.skip(lk & 7)
      }
      t.lineFunction.push(fn)
      t.lineNumber.push(line)
    } else r.skip(k & 7)
  }
  t.locMapping.push(mapping)
  t.locAddress.push(address)
  t.locIds.push(id)
  t.locations.set(id, index)
}

function buildProfile(buf: Uint8Array, t: Tables, limits: Limits, at: Cursor): Profile {
  const S = t.strings
  at.set('the string table', 0, -1)
  if (S.length === 0) throw new KilnError('KILN_BAD_PPROF', 'pprof has no string table; is this really a pprof profile?')
  if (S[0] !== '')
    throw new KilnError('KILN_BAD_PPROF', `pprof string table must start with the empty string, not ${JSON.stringify(S[0]!.slice(0, 40))}`)
  const str = (i: number, where: Where): string => {
    const s = S[i]
    if (s === undefined)
      throw new KilnError('KILN_BAD_PPROF', `pprof ${where} refers to string ${i}, but the string table has ${S.length} entries`)
    return s
  }
  const sampleTypes = []
  for (let i = 0; i < t.sampleTypes.length; i += 2) {
    sampleTypes.push({
      type: str(t.sampleTypes[i]!, `sample_type #${i / 2 + 1}`),
      unit: str(t.sampleTypes[i + 1]!, `sample_type #${i / 2 + 1}`),
    })
  }
  if (sampleTypes.length === 0)
    throw new KilnError('KILN_BAD_PPROF', 'pprof has no sample types; a profile needs at least one (e.g. cpu/nanoseconds)')
  const defaultSampleType = str(t.defaultSampleType, 'default_sample_type')
  const b = new ProfileBuilder(
    {
      sampleTypes,
      periodType: { type: str(t.periodType[0], 'period_type'), unit: str(t.periodType[1], 'period_type') },
      period: t.period,
      timeMs: Math.round(t.timeNanos / 1e6), // nearest ms: exact after an encode round trip, whose ns exceed 2^53
      durationNanos: t.durationNanos,
      ...(defaultSampleType ? { defaultSampleType } : {}),
    },
    limits,
  )

  // A location's mapping: the binary's file and build id (kept with each frame), '' when none.
  const mappingOf = (li: number): [string, string] => {
    const m = t.mappings.get(t.locMapping[li]!)
    return m === undefined ? ['', ''] : [S[t.mapFile[m]!] ?? '', S[t.mapBuildId[m]!] ?? '']
  }
  /** The frame of location li's line k (k < 0: a location with no lines), with its source when the profile gives one. */
  const frameOf = (li: number, k: number): number => {
    const fnId = k < 0 ? 0 : t.lineFunction[k]!
    const [mapping, buildId] = mappingOf(li)
    let name = ''
    let file = ''
    if (fnId !== 0) {
      const fi = t.functions.get(fnId)
      if (fi === undefined)
        throw new KilnError('KILN_BAD_PPROF', `pprof location #${li + 1} has a line of function ${fnId}, which is not in the profile`)
      name = str(t.fnNames[fi]!, `function ${fnId}`)
      file = str(t.fnFiles[fi]!, `function ${fnId}`)
    }
    if (!name) {
      if (mapping) name = mapping.slice(mapping.lastIndexOf('/') + 1)
      else name = t.locAddress[li] ? `0x${t.locAddress[li]!.toString(16)}` : '[unknown]'
    }
    const line = k < 0 ? 0 : t.lineNumber[k]!
    if (!file && !line && !mapping) return b.fn(name)
    return b.frame(name, { file, line, ...(mapping ? { mapping } : {}), ...(buildId ? { buildId } : {}) })
  }
  // Each location's frames, root first: a location's last line is the caller of the ones before it.
  const frames: (number[] | undefined)[] = []
  const framesOf = (li: number): number[] => {
    let f = frames[li]
    if (f) return f
    f = []
    const start = t.locLineStart[li]!
    const end = li + 1 < t.locLineStart.length ? t.locLineStart[li + 1]! : t.lineFunction.length
    if (start === end) f.push(frameOf(li, -1))
    for (let i = end - 1; i >= start; i--) f.push(frameOf(li, i))
    frames[li] = f
    return f
  }

  const locIds: number[] = []
  const values: number[] = []
  const spend = frameBudget(buf.length)
  const nTypes = sampleTypes.length
  const labelAt: Where = { toString: () => `${at} label` }
  for (let si = 0; si < t.sampleRanges.length; si += 2) {
    at.set('sample', si / 2 + 1, t.sampleRanges[si]!)
    const r = new ProtoReader(buf, t.sampleRanges[si]!, t.sampleRanges[si + 1]!)
    locIds.length = 0
    values.length = 0
    let labels: [string, string][] | undefined
    while (!r.eof()) {
      const k = r.key()
      if (k === 0x0a || k === 0x08) r.packedVarints(k & 7, locIds)
      else if (k === 0x12) {
        const v = r.sub()
        while (!v.eof()) values.push(v.int64())
      } else if (k === 0x10) values.push(r.int64())
      else if (k === 0x1a) {
        const label = readLabel(r.sub(), str, labelAt)
        if (label) (labels ??= []).push(label)
      } else r.skip(k & 7)
    }
    const stack: number[] = []
    for (let i = locIds.length - 1; i >= 0; i--) {
      const li = t.locations.get(locIds[i]!)
      if (li === undefined)
        throw new KilnError('KILN_BAD_PPROF', `pprof ${at} refers to location ${locIds[i]}, which is not in the profile`)
      const f = framesOf(li)
      for (let j = 0; j < f.length; j++) stack.push(f[j]!)
      // Checked while growing: a few bytes of repeated location ids must not build a huge array.
      if (stack.length > limits.maxStackDepth) {
        throw new KilnError(
          'KILN_LIMIT',
          `${at}: stack is more than ${limits.maxStackDepth} frames deep; the limit is ${limits.maxStackDepth} (server option --max-stack-depth)`,
        )
      }
    }
    spend(stack.length, at)
    let valid = values.length === nTypes
    for (let i = 0; i < values.length; i++) if (!(values[i]! >= 0)) valid = false
    // The builder rejects invalid values; it gets the location only then, to say where.
    b.add(stack, values.slice(), labels && sortLabels(labels), valid ? undefined : `${at}`)
  }
  return b.build()
}

/** Label { key = 1; str = 2; num = 3; num_unit = 4 }: string labels only, numeric ones are dropped. */
function readLabel(r: ProtoReader, str: (i: number, where: Where) => string, where: Where): [string, string] | undefined {
  const [, key = 0, value = 0] = readVarints(r, 2)
  if (value === 0) return undefined
  const v = str(value, where)
  return v ? [str(key, where), v] : undefined
}

/** Sorted by name, names unique (the last one wins), as `Labels` requires. */
function sortLabels(pairs: [string, string][]): Labels {
  const m = new Map(pairs)
  return [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
}

export { encodePprof, type EncodeOptions } from './pprof-encode.ts'
