import { KilnError } from './errors.ts'
import type { Labels } from './labels.ts'

/** A sample type or period type: pprof's ValueType with its strings resolved. */
export interface ValueType {
  type: string
  unit: string
}

/** One stack with its values (one per sample type). */
export interface Sample {
  /** Function indices into `Profile.functions`, root first. */
  stack: number[]
  values: number[]
  /** Sample labels (pprof string labels, dynamic SDK labels); usually absent. */
  labels?: Labels
}

/**
 * Where a frame is, when the format says: its function's source file and line (pprof's Function
 * filename and the Line's line), and the binary it ran from (pprof's Mapping filename and build id).
 * Two frames of one function at two lines are two entries of `Profile.functions` with one name.
 */
export interface FrameSource {
  file: string
  line: number
  mapping?: string
  buildId?: string
}

/** A frame's identity as text: its name alone when it has no source (so the store's ids of name-only frames stay what they were). */
export function frameKey(name: string, src: FrameSource | undefined): string {
  return src ? `${name}\u0000${src.file}\u0000${src.line}\u0000${src.mapping ?? ''}\u0000${src.buildId ?? ''}` : name
}

/** Whether two frames of one name are one function: the fields of frameKey, compared without building its text. */
export function sameSource(a: FrameSource | undefined, b: FrameSource | undefined): boolean {
  if (!a || !b) return a === b
  return a.line === b.line && a.file === b.file && (a.mapping ?? '') === (b.mapping ?? '') && (a.buildId ?? '') === (b.buildId ?? '')
}

/**
 * Kiln's one profile model, whatever format it came from: stacks of function names with one value
 * per sample type. Build it through ProfileBuilder, which rejects invalid input.
 */
export interface Profile {
  sampleTypes: ValueType[]
  periodType: ValueType
  period: number
  /** Start of the profile, ms since the epoch; 0 when the format does not say. */
  timeMs: number
  durationNanos: number
  /** Function names; index 0 is unused so that 0 can mean "none". */
  functions: string[]
  /** Each function's source where known (same indices as `functions`); absent when none is. */
  sources?: (FrameSource | undefined)[]
  samples: Sample[]
  /** Name of the sample type a viewer should show first (pprof default_sample_type). */
  defaultSampleType?: string
}

export interface Limits {
  maxStackDepth: number
  maxSamples: number
  maxFunctionNameLength: number
}
export const defaultLimits: Limits = { maxStackDepth: 4096, maxSamples: 2_000_000, maxFunctionNameLength: 4096 }

/** Builds a Profile, interning function names; throws a located KilnError on invalid input. */
export class ProfileBuilder {
  readonly functions: string[] = ['']
  readonly samples: Sample[] = []
  private sources: (FrameSource | undefined)[] | undefined
  private readonly index = new Map<string, number>()
  /** Frames with a source, by name: each with its source and index. */
  private readonly framesByName = new Map<string, { src: FrameSource; id: number }[]>()
  constructor(
    readonly meta: Omit<Profile, 'functions' | 'samples' | 'sources'>,
    private readonly limits: Limits = defaultLimits,
  ) {
    if (meta.sampleTypes.length === 0) throw new KilnError('KILN_BAD_PROFILE', 'profile has no sample types')
  }

  /** Interns a function name and returns its index. */
  fn(name: string): number {
    let id = this.index.get(name)
    if (id === undefined) {
      if (name.length > this.limits.maxFunctionNameLength) name = name.slice(0, this.limits.maxFunctionNameLength) + '…'
      id = this.functions.length
      this.functions.push(name)
      this.index.set(name, id)
    }
    return id
  }

  /**
   * Interns a frame: a function name at a source (a name alone when `src` is undefined). Found by
   * name, then by comparing sources: a decoder hands the same name and file strings over again,
   * whose hashes V8 keeps, where frameKey's text was a new string to build and hash each time
   * (`frame` was 6 % of an ingest worker's CPU).
   */
  frame(name: string, src: FrameSource | undefined): number {
    if (!src) return this.fn(name)
    let same = this.framesByName.get(name)
    if (same) for (const f of same) if (sameSource(f.src, src)) return f.id
    const id = this.functions.length
    this.functions.push(name.length > this.limits.maxFunctionNameLength ? name.slice(0, this.limits.maxFunctionNameLength) + '…' : name)
    if (!same) this.framesByName.set(name, (same = []))
    same.push({ src, id })
    ;(this.sources ??= [])[id] = src
    return id
  }

  /** Adds a stack given as function names, root first. */
  addNames(stack: readonly string[], values: number[], labels?: Labels): void {
    this.add(
      stack.map((n) => this.fn(n)),
      values,
      labels,
    )
  }

  /** Adds a stack given as function indices (from `fn`), root first. */
  add(stack: number[], values: number[], labels?: Labels, where?: string): void {
    const at = where ? `${where}: ` : ''
    if (values.length !== this.meta.sampleTypes.length) {
      throw new KilnError(
        'KILN_BAD_PROFILE',
        `${at}sample has ${values.length} values, expected ${this.meta.sampleTypes.length} (one per sample type)`,
      )
    }
    for (const v of values) {
      if (!Number.isFinite(v)) throw new KilnError('KILN_BAD_PROFILE', `${at}sample value ${v} is not a finite number`)
      if (v < 0) throw new KilnError('KILN_BAD_PROFILE', `${at}sample value ${v} is negative`)
    }
    if (stack.length > this.limits.maxStackDepth) {
      throw new KilnError(
        'KILN_LIMIT',
        `${at}stack is ${stack.length} frames deep; the limit is ${this.limits.maxStackDepth} (server option --max-stack-depth)`,
      )
    }
    for (const f of stack) {
      if (!(f > 0 && f < this.functions.length)) throw new KilnError('KILN_BAD_PROFILE', `${at}stack refers to unknown function ${f}`)
    }
    if (this.samples.length >= this.limits.maxSamples) {
      throw new KilnError('KILN_LIMIT', `profile has more than ${this.limits.maxSamples} samples`)
    }
    if (values.every((v) => v === 0)) return
    this.samples.push(labels && labels.length ? { stack, values, labels } : { stack, values })
  }

  build(): Profile {
    const p: Profile = { ...this.meta, functions: this.functions, samples: this.samples }
    if (this.sources) {
      this.sources.length = this.functions.length
      p.sources = this.sources
    }
    return p
  }
}

/** `name:sample_type:sample_unit:period_type:period_unit`, Pyroscope's profile type id. */
export interface ProfileType {
  name: string
  sampleType: string
  sampleUnit: string
  periodType: string
  periodUnit: string
}

export function profileTypeId(t: ProfileType): string {
  return `${t.name}:${t.sampleType}:${t.sampleUnit}:${t.periodType}:${t.periodUnit}`
}

export function parseProfileTypeId(id: string): ProfileType {
  const p = id.split(':')
  if (p.length < 5 || p.length > 6 || !p[0]) {
    throw new KilnError(
      'KILN_BAD_REQUEST',
      `profile type ${JSON.stringify(id)} is not name:sample_type:sample_unit:period_type:period_unit, e.g. process_cpu:cpu:nanoseconds:cpu:nanoseconds`,
    )
  }
  return { name: p[0]!, sampleType: p[1]!, sampleUnit: p[2]!, periodType: p[3]!, periodUnit: p[4]! }
}

/** The `__name__` Pyroscope derives from a pprof sample type. */
export function metricNameForSampleType(sampleType: string, periodType = ''): string {
  const t = sampleType.toLowerCase()
  if (t.includes('cpu') || (t === 'samples' && periodType === 'cpu')) return 'process_cpu'
  if (t === 'wall' || periodType === 'wall') return 'wall'
  if (t.startsWith('alloc_') || t.startsWith('inuse_') || t.includes('space') || t.includes('objects') || t === 'live') return 'memory'
  if (t.startsWith('mutex_')) return 'mutex'
  if (t.startsWith('block_')) return 'block'
  if (t.startsWith('goroutine')) return 'goroutines'
  if (periodType === 'contentions' || periodType === 'mutex') return 'mutex'
  if (periodType === 'block') return 'block'
  if (periodType === 'goroutine') return 'goroutines'
  if (periodType === 'space' || periodType === 'objects') return 'memory'
  return 'process_cpu'
}

/** The sample type to show when none is asked for: `defaultSampleType`, else the last, as pprof does. */
export function defaultTypeIndex(p: Pick<Profile, 'sampleTypes' | 'defaultSampleType'>): number {
  const i = p.sampleTypes.findIndex((t) => t.type === p.defaultSampleType)
  return i >= 0 ? i : p.sampleTypes.length - 1
}

/** Sums each sample type's values. */
export function totals(p: Profile): number[] {
  const t = p.sampleTypes.map(() => 0)
  for (const s of p.samples) for (let i = 0; i < t.length; i++) t[i]! += s.values[i]!
  return t
}

/** Folded stacks `a;b;c 12` of one sample type, sorted, merged — the canonical text dump. */
export function toFolded(p: Profile, typeIndex = 0): string {
  const m = new Map<string, number>()
  for (const s of p.samples) {
    const v = s.values[typeIndex]!
    if (!v) continue
    const k = s.stack.map((f) => p.functions[f]).join(';')
    m.set(k, (m.get(k) ?? 0) + v)
  }
  return (
    [...m.entries()]
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([k, v]) => `${k} ${v}`)
      .join('\n') + (m.size ? '\n' : '')
  )
}
