/**
 * speedscope's JSON file format (https://www.speedscope.app/file-format-schema.json): import of
 * sampled and evented profiles, export of one sample type as a sampled profile.
 */
import { KilnError } from '../model/errors.ts'
import { frameBudget } from './budget.ts'
import { ProfileBuilder, defaultLimits, defaultTypeIndex, type Limits, type Profile, type ValueType } from '../model/profile.ts'

export const SPEEDSCOPE_SCHEMA = 'https://www.speedscope.app/file-format-schema.json'

export interface SpeedscopeOptions {
  limits?: Limits
}

type Unit = 'none' | 'nanoseconds' | 'microseconds' | 'milliseconds' | 'seconds' | 'bytes'
const nanosPer: Record<Unit, number> = { none: 0, bytes: 0, nanoseconds: 1, microseconds: 1e3, milliseconds: 1e6, seconds: 1e9 }
const isUnit = (u: unknown): u is Unit => typeof u === 'string' && Object.hasOwn(nanosPer, u)

/** The sample type a speedscope unit stands for; time units stay as the file wrote them. */
function sampleTypeOf(unit: Unit): ValueType {
  if (unit === 'none') return { type: 'samples', unit: 'count' }
  if (unit === 'bytes') return { type: 'space', unit: 'bytes' }
  return { type: 'cpu', unit }
}

/** True when the first byte that is not whitespace (or a BOM) is `{`. */
export function sniffJsonObject(bytes: Uint8Array): boolean {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++
  return bytes[i] === 0x7b
}

const bad = (message: string) => new KilnError('KILN_BAD_SPEEDSCOPE', `speedscope file: ${message}`)
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

function arrayAt(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) throw bad(`${where} must be an array`)
  return v
}

function numberAt(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`${where} must be a number`)
  return v
}

/** Decodes a speedscope JSON file; null when the bytes are not a speedscope file. */
export function decodeSpeedscope(bytes: Uint8Array, opts: SpeedscopeOptions = {}): Profile | null {
  if (!sniffJsonObject(bytes)) return null
  let file: unknown
  try {
    file = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (e) {
    throw bad(`not valid JSON (${(e as Error).message}); export it again from speedscope`)
  }
  if (!isObject(file)) return null
  const mine = file.$schema === SPEEDSCOPE_SCHEMA || (isObject(file.shared) && Array.isArray(file.profiles))
  if (!mine) return null
  const shared = isObject(file.shared) ? file.shared : {}
  const frames = arrayAt(shared.frames, 'shared.frames')
  const profiles = arrayAt(file.profiles, 'profiles')
  const first = profiles[0]
  const unit = isObject(first) ? first.unit : 'none'
  if (!isUnit(unit)) throw bad(`profiles[0].unit ${JSON.stringify(unit)} is not one of ${Object.keys(nanosPer).join(', ')}`)

  let duration = 0
  for (const [i, p] of profiles.entries()) {
    if (!isObject(p)) throw bad(`profiles[${i}] must be an object`)
    if (p.unit !== unit)
      throw bad(
        `profiles[${i}] has unit ${JSON.stringify(p.unit)} but profiles[0] has ${JSON.stringify(unit)}; Kiln merges the profiles of one file into one sample type`,
      )
    duration = Math.max(duration, numberAt(p.endValue, `profiles[${i}].endValue`) - numberAt(p.startValue, `profiles[${i}].startValue`))
  }
  const sampleType = sampleTypeOf(unit)
  const limits = opts.limits ?? defaultLimits
  const b = new ProfileBuilder(
    { sampleTypes: [sampleType], periodType: sampleType, period: 0, timeMs: 0, durationNanos: Math.round(duration * nanosPer[unit]) },
    limits,
  )
  const fnOf = frames.map((f, i) => {
    if (!isObject(f) || typeof f.name !== 'string') throw bad(`shared.frames[${i}].name must be a string`)
    // A frame's file and line (speedscope's optional fields) keep one function's lines apart.
    const file = typeof f.file === 'string' ? f.file : ''
    const line = typeof f.line === 'number' && Number.isInteger(f.line) && f.line > 0 ? f.line : 0
    return b.frame(f.name || '[unknown]', file || line ? { file, line } : undefined)
  })
  const frame = (v: unknown, where: string): number => {
    const id = typeof v === 'number' ? fnOf[v] : undefined
    if (id === undefined) throw bad(`${where} is ${JSON.stringify(v)}, not an index into shared.frames (${frames.length} frames)`)
    return id
  }
  const ctx: Ctx = { b, frame, spend: frameBudget(bytes.length), maxDepth: limits.maxStackDepth }
  for (const [i, p] of profiles.entries()) {
    const at = `profiles[${i}]`
    if (!isObject(p)) continue
    if (p.type === 'sampled') addSampled(ctx, p, at)
    else if (p.type === 'evented') addEvented(ctx, p, at)
    else throw bad(`${at}.type ${JSON.stringify(p.type)} is neither "sampled" nor "evented"`)
  }
  return b.build()
}

interface Ctx {
  b: ProfileBuilder
  frame: (v: unknown, where: string) => number
  spend: (frames: number, where: string) => void
  maxDepth: number
}

function addSampled({ b, frame }: Ctx, p: Record<string, unknown>, at: string): void {
  const samples = arrayAt(p.samples, `${at}.samples`)
  const weights = arrayAt(p.weights, `${at}.weights`)
  if (samples.length !== weights.length) throw bad(`${at} has ${samples.length} samples but ${weights.length} weights; they must match`)
  for (const [j, s] of samples.entries()) {
    const where = `${at}.samples[${j}]`
    const stack = arrayAt(s, where).map((f, k) => frame(f, `${where}[${k}]`))
    b.add(stack, [numberAt(weights[j], `${at}.weights[${j}]`)], undefined, where)
  }
}

/** Evented: open/close events at times; each interval's weight goes to the stack open during it. */
function addEvented({ b, frame, spend, maxDepth }: Ctx, p: Record<string, unknown>, at: string): void {
  const events = arrayAt(p.events, `${at}.events`)
  const stack: number[] = []
  let last = numberAt(p.startValue, `${at}.startValue`)
  for (const [j, e] of events.entries()) {
    const where = `${at}.events[${j}]`
    if (!isObject(e)) throw bad(`${where} must be an object`)
    const t = numberAt(e.at, `${where}.at`)
    if (t < last) throw bad(`${where}.at is ${t}, earlier than the event before it (${last}); events must be in time order`)
    if (stack.length && t > last) {
      spend(stack.length, where)
      b.add(stack.slice(), [t - last], undefined, where)
    }
    last = t
    const f = frame(e.frame, `${where}.frame`)
    if (e.type === 'O') {
      stack.push(f)
      if (stack.length > maxDepth)
        throw new KilnError(
          'KILN_LIMIT',
          `${where}: more than ${maxDepth} frames open at once; the limit is ${maxDepth} (server option --max-stack-depth)`,
        )
    } else if (e.type === 'C') {
      if (stack[stack.length - 1] !== f)
        throw bad(`${where} closes frame ${JSON.stringify(e.frame)}, which is not the innermost open frame`)
      stack.pop()
    } else throw bad(`${where}.type ${JSON.stringify(e.type)} is neither "O" nor "C"`)
  }
  if (stack.length) throw bad(`${at} ends with ${stack.length} frames still open; every "O" event needs its "C"`)
}

export interface SpeedscopeEncodeOptions {
  /** Which sample type to export (default: the profile's default sample type, else the last, as pprof does). */
  typeIndex?: number
  /** The profile's name as speedscope shows it. */
  name?: string
}

/** Encodes one sample type as a speedscope file with one sampled profile. */
export function encodeSpeedscope(p: Profile, opts: SpeedscopeEncodeOptions = {}): Uint8Array {
  const ti = opts.typeIndex ?? defaultTypeIndex(p)
  const st = p.sampleTypes[ti]
  if (!st) throw new KilnError('KILN_BAD_REQUEST', `sample type ${ti} does not exist; the profile has ${p.sampleTypes.length}`)
  const unit: Unit = isUnit(st.unit) ? st.unit : 'none'
  const samples: number[][] = []
  const weights: number[] = []
  let total = 0
  for (const s of p.samples) {
    const v = s.values[ti]!
    if (!v) continue
    samples.push(s.stack.map((f) => f - 1))
    weights.push(v)
    total += v
  }
  const name = opts.name ?? `${st.type} (${st.unit})`
  const file = {
    $schema: SPEEDSCOPE_SCHEMA,
    shared: {
      frames: p.functions.slice(1).map((name, i) => {
        const src = p.sources?.[i + 1]
        return src ? { name, ...(src.file ? { file: src.file } : {}), ...(src.line ? { line: src.line } : {}) } : { name }
      }),
    },
    profiles: [{ type: 'sampled', name, unit, startValue: 0, endValue: total, samples, weights }],
    name,
    activeProfileIndex: 0,
    exporter: 'kiln',
  }
  return new TextEncoder().encode(JSON.stringify(file))
}
