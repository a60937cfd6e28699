/**
 * JFR recordings (JDK Flight Recorder, async-profiler, the Pyroscope Java agent) to Kiln profiles:
 * one Profile per kind of event, with the profile types Pyroscope gives Java, and the agent's
 * context labels (a LabelsSnapshot sent beside the recording) applied to each sample.
 */
import { KilnError } from '../model/errors.ts'
import { makeLabels, type Labels } from '../model/labels.ts'
import { ProfileBuilder, defaultLimits, type Limits, type Profile, type ValueType } from '../model/profile.ts'
import { maybeGunzip, type GunzipOptions } from './gzip.ts'
import { frameBudget } from './budget.ts'
import { CpRef, JfrError, type JfrObject, type JfrValue } from './jfr-reader.ts'
import { readChunks, type Chunk } from './jfr-chunk.ts'
import { ProtoError, ProtoReader } from './proto.ts'

export interface JfrOptions extends GunzipOptions {
  /** Pyroscope's LabelsSnapshot protobuf (gzipped or not): context id → labels. */
  labels?: Uint8Array
  /**
   * Hz of the execution samples (the ingest `sampleRate`): each is worth 1e9/Hz ns. Default: the
   * recording's own setting (async-profiler's `interval`, the JDK's jdk.ExecutionSample `period`), else 100.
   */
  sampleRate?: number
  limits?: Limits
}

/** One output profile: `metric` is the `__name__` (process_cpu, wall, memory, mutex, block). */
export interface JfrProfile {
  metric: string
  profile: Profile
}

/** The kinds of profile a recording yields, in Pyroscope's order, with its sample and period types. */
interface Kind {
  metric: string
  sampleTypes: ValueType[]
  periodType: ValueType
}
const kinds = {
  cpu: { metric: 'process_cpu', sampleTypes: [{ type: 'cpu', unit: 'nanoseconds' }], periodType: { type: 'cpu', unit: 'nanoseconds' } },
  wall: { metric: 'wall', sampleTypes: [{ type: 'wall', unit: 'nanoseconds' }], periodType: { type: 'wall', unit: 'nanoseconds' } },
  inTlab: {
    metric: 'memory',
    sampleTypes: [
      { type: 'alloc_in_new_tlab_objects', unit: 'count' },
      { type: 'alloc_in_new_tlab_bytes', unit: 'bytes' },
    ],
    periodType: { type: 'space', unit: 'bytes' },
  },
  outTlab: {
    metric: 'memory',
    sampleTypes: [
      { type: 'alloc_outside_tlab_objects', unit: 'count' },
      { type: 'alloc_outside_tlab_bytes', unit: 'bytes' },
    ],
    periodType: { type: 'space', unit: 'bytes' },
  },
  lock: {
    metric: 'mutex',
    sampleTypes: [
      { type: 'contentions', unit: 'count' },
      { type: 'delay', unit: 'nanoseconds' },
    ],
    periodType: { type: 'mutex', unit: 'count' },
  },
  park: {
    metric: 'block',
    sampleTypes: [
      { type: 'contentions', unit: 'count' },
      { type: 'delay', unit: 'nanoseconds' },
    ],
    periodType: { type: 'block', unit: 'count' },
  },
  live: { metric: 'memory', sampleTypes: [{ type: 'live', unit: 'count' }], periodType: { type: 'objects', unit: 'count' } },
  allocSample: {
    metric: 'memory',
    sampleTypes: [
      { type: 'alloc_sample_objects', unit: 'count' },
      { type: 'alloc_sample_bytes', unit: 'bytes' },
    ],
    periodType: { type: 'space', unit: 'bytes' },
  },
  malloc: {
    metric: 'memory',
    sampleTypes: [
      { type: 'malloc_objects', unit: 'count' },
      { type: 'malloc_bytes', unit: 'bytes' },
    ],
    periodType: { type: 'space', unit: 'bytes' },
  },
} as const satisfies Record<string, Kind>
type KindName = keyof typeof kinds

/**
 * The events read, what each becomes and its second value's field. Durations are in ticks of the
 * chunk's clock (async-profiler uses the TSC, e.g. 2.8e9 ticks/s) and are turned into nanoseconds.
 */
const eventKinds: Record<string, { kind: KindName; value?: string; ticks?: boolean }> = {
  'jdk.ExecutionSample': { kind: 'cpu' },
  'profiler.WallClockSample': { kind: 'wall', value: 'samples' },
  'jdk.ObjectAllocationInNewTLAB': { kind: 'inTlab', value: 'tlabSize' },
  'jdk.ObjectAllocationOutsideTLAB': { kind: 'outTlab', value: 'allocationSize' },
  'jdk.ObjectAllocationSample': { kind: 'allocSample', value: 'weight' },
  'jdk.JavaMonitorEnter': { kind: 'lock', value: 'duration', ticks: true },
  'jdk.ThreadPark': { kind: 'park', value: 'duration', ticks: true },
  'profiler.LiveObject': { kind: 'live' },
  'profiler.Malloc': { kind: 'malloc', value: 'size' },
}

/** True when the bytes (gunzipped) start with a JFR chunk's magic "FLR\0". */
export function sniffJfr(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x46 && b[1] === 0x4c && b[2] === 0x52 && b[3] === 0
}

/**
 * Class and library names with generated parts that change from run to run, made stable so that
 * profiles of different runs merge: `App$$Lambda$14/0x0000000800c0b000` → `App$$Lambda$_`.
 */
const stableNames: [RegExp, string][] = [
  // JDK 8-17: `$$Lambda$14/0x…` or `$$Lambda$93+0x…/1908981452`; JDK 21: `$$Lambda/0x…`.
  [/^(.+\$\$Lambda)(?:\$\d+)?(?:\+0x[\da-f]+)?(?:[./](?:0x)?[\da-f]+)?$/, '$1$_'],
  [/^(jdk\/internal\/reflect\/Generated(?:Constructor|SerializationConstructor|Method)Accessor)\d+$/, '$1_'],
  [/^(\.?\/tmp\/)?libzstd-jni-\d+\.\d+\.\d+-\d+\.so( \(deleted\))?$/, 'libzstd-jni-_.so'],
  [/^(\.?\/tmp\/)?libasyncProfiler-[\w-]+-[0-9a-f]{16,}\.so( \(deleted\))?$/, 'libasyncProfiler-_.so'],
]
function stableName(s: string): string {
  for (const [re, to] of stableNames) if (re.test(s)) return s.replace(re, to)
  return s
}

/** Decodes a LabelsSnapshot: `contexts` (1: map<int64, Context{labels(1): map<int64,int64>}>), `strings` (2: map<int64,string>). */
export function decodeLabelsSnapshot(bytes: Uint8Array): Map<number, Labels> {
  const contexts = new Map<number, [number, number][]>()
  const strings = new Map<number, string>()
  const entry = (r: ProtoReader, value: (r: ProtoReader) => void): number => {
    let key = 0
    while (!r.eof()) {
      const k = r.key()
      if (k === 8) key = r.int64()
      else if (k === 18) value(r)
      else r.skip(k & 7)
    }
    return key
  }
  try {
    const r = new ProtoReader(bytes)
    while (!r.eof()) {
      const k = r.key()
      if (k === 10) {
        const pairs: [number, number][] = []
        const id = entry(r.sub(), (v) => {
          const ctx = v.sub()
          while (!ctx.eof()) {
            const ck = ctx.key()
            if (ck !== 10) {
              ctx.skip(ck & 7)
              continue
            }
            const pair: [number, number] = [0, 0]
            const e = ctx.sub()
            while (!e.eof()) {
              const ek = e.key()
              if (ek === 8) pair[0] = e.int64()
              else if (ek === 16) pair[1] = e.int64()
              else e.skip(ek & 7)
            }
            pairs.push(pair)
          }
        })
        contexts.set(id, pairs)
      } else if (k === 18) {
        let s = ''
        const id = entry(r.sub(), (v) => (s = v.string()))
        strings.set(id, s)
      } else r.skip(k & 7)
    }
  } catch (e) {
    if (e instanceof ProtoError)
      throw new KilnError(
        'KILN_BAD_JFR',
        `labels (LabelsSnapshot protobuf) ${e.message}; send the labels the Pyroscope Java agent wrote, gzipped or not`,
      )
    throw e
  }
  const out = new Map<number, Labels>()
  for (const [id, pairs] of contexts) {
    const named = pairs.map(([k, v]) => [strings.get(k) ?? '', strings.get(v) ?? ''] as const).filter(([k]) => k !== '')
    out.set(id, makeLabels(named))
  }
  return out
}

/** Where events are being read: the chunk (constant keys are per chunk) and its method names. */
interface Site {
  chunk: Chunk
  index: number
  names: Map<number | bigint, string>
  /** "chunk 2 of 3, " when there are several, for messages. */
  where: string
  event: string
  budget: ReturnType<typeof frameBudget>
  contexts: Map<number, Labels>
}

/** One output profile being built: values summed per stack trace and context. */
class Acc {
  readonly builder: ProfileBuilder
  private readonly samples = new Map<string, { stack: number[]; values: number[]; labels?: Labels }>()
  /** Stack-trace constant → function indices, root first (null: no such trace). */
  private readonly stacks = new Map<string, number[] | null>()
  constructor(meta: ConstructorParameters<typeof ProfileBuilder>[0], limits: Limits) {
    this.builder = new ProfileBuilder(meta, limits)
  }

  add(site: Site, ref: JfrValue | undefined, ctx: number, values: number[], pos: number): void {
    const at = () => `${site.where}${site.event} event at byte ${pos}`
    const refKey = ref instanceof CpRef ? `${site.index}:${ref.key}` : ''
    let stack = this.stacks.get(refKey)
    if (stack === undefined) {
      stack = stackOf(site.chunk, this.builder, ref, site.names)
      this.stacks.set(refKey, stack)
      if (stack) site.budget(stack.length, { toString: at })
    }
    if (!stack) return
    for (const v of values)
      if (!(v >= 0 && Number.isFinite(v))) throw new JfrError(`${at()}: value ${values.join(', ')} is not a non-negative number`)
    const key = `${refKey}/${ctx}`
    const s = this.samples.get(key)
    if (s) for (let i = 0; i < values.length; i++) s.values[i]! += values[i]!
    else this.samples.set(key, { stack, values: [...values], labels: site.contexts.get(ctx) })
  }

  build(): Profile {
    for (const s of this.samples.values()) this.builder.add(s.stack, s.values, s.labels)
    return this.builder.build()
  }
}

/** Decodes a JFR recording (gzipped or not) into one profile per kind of event it holds. */
export function decodeJfr(input: Uint8Array, opts: JfrOptions = {}): JfrProfile[] {
  const bytes = maybeGunzip(input, opts)
  if (!sniffJfr(bytes)) {
    throw new KilnError(
      'KILN_BAD_JFR',
      `not a JFR recording: it does not start with "FLR\\0" (${bytes.length} bytes); record with -XX:StartFlightRecording or async-profiler -o jfr`,
    )
  }
  const contexts = opts.labels ? decodeLabelsSnapshot(maybeGunzip(opts.labels, opts)) : new Map<number, Labels>()
  const budget = frameBudget(bytes.length)
  let chunks: Chunk[]
  try {
    chunks = readChunks(bytes)
  } catch (e) {
    throw located(e, '')
  }
  const where = (i: number) => (chunks.length > 1 ? `chunk ${i + 1} of ${chunks.length}, ` : '')
  const settings = chunks.map((c, i) => {
    try {
      return readSettings(c)
    } catch (e) {
      throw located(e, where(i))
    }
  })
  const own = settings.map((s) => s.periodNs).filter((p) => p > 0)
  const period = opts.sampleRate && opts.sampleRate > 0 ? 1e9 / opts.sampleRate : own.length ? Math.min(...own) : 1e7
  const timeMs = Math.floor(chunks[0]!.header.startNanos / 1e6)
  const durationNanos = chunks.reduce((d, c) => d + c.header.durationNanos, 0)
  const accs = new Map<KindName, Acc>()
  const acc = (k: KindName): Acc => {
    let a = accs.get(k)
    if (!a) {
      const { sampleTypes, periodType } = kinds[k]
      const meta = { sampleTypes: [...sampleTypes], periodType, period: k === 'cpu' || k === 'wall' ? period : 1, timeMs, durationNanos }
      accs.set(k, (a = new Acc(meta, opts.limits ?? defaultLimits)))
    }
    return a
  }

  chunks.forEach((chunk, index) => {
    const site: Site = { chunk, index, names: new Map(), where: where(index), event: '', budget, contexts }
    try {
      const engine = settings[index]!.engine
      const ticksToNs = 1e9 / chunk.header.ticksPerSecond
      for (const [name, ek] of Object.entries(eventKinds)) {
        const type = chunk.typesByName.get(name)
        const offsets = type && chunk.events.get(type.id)
        if (!offsets) continue
        site.event = name
        for (const pos of offsets) {
          const e = chunk.readEvent(pos)
          const ctx = contextOf(e)
          if (ek.kind === 'cpu') {
            // Wall-clock mode samples sleeping threads too: those are wall time, not CPU time.
            const state = chunk.resolve(e.state)
            const stateName = isObject(state) ? chunk.resolve(state.name) : undefined
            if (stateName !== 'STATE_SLEEPING') acc('cpu').add(site, e.stackTrace, ctx, [period], pos)
            if (engine === 'wall') acc('wall').add(site, e.stackTrace, ctx, [period], pos)
            continue
          }
          let second = ek.value ? num(chunk.resolve(e[ek.value])) : 0
          if (ek.ticks) second = Math.round(second * ticksToNs)
          const values = ek.kind === 'wall' ? [second * period] : ek.kind === 'live' ? [1] : [1, second]
          acc(ek.kind).add(site, e.stackTrace, ctx, values, pos)
        }
      }
    } catch (e) {
      throw located(e, site.where)
    }
  })

  const out: JfrProfile[] = []
  for (const k of Object.keys(kinds) as KindName[]) {
    const a = accs.get(k)
    if (a) out.push({ metric: kinds[k].metric, profile: a.build() })
  }
  return out
}

/**
 * What the recording says about its sampling, from its jdk.ActiveSetting events: async-profiler's
 * engine (`event`: cpu, itimer, wall) and `interval` in ns; the JDK's `period` of jdk.ExecutionSample
 * ("10 ms"; the smallest wins when several recordings ran at once).
 */
function readSettings(chunk: Chunk): { engine: string; periodNs: number } {
  let engine = ''
  let interval = 0
  let jdkPeriod = 0
  const setting = chunk.typesByName.get('jdk.ActiveSetting')
  const sample = chunk.typesByName.get('jdk.ExecutionSample')
  for (const pos of (setting && chunk.events.get(setting.id)) ?? []) {
    const e = chunk.readEvent(pos)
    const name = chunk.resolve(e.name)
    const value = String(chunk.resolve(e.value) ?? '')
    if (name === 'event') engine = value
    else if (name === 'interval' && /^\d+$/.test(value)) interval = Number(value)
    else if (name === 'period' && sample && e.id === sample.id) {
      const m = /^(\d+)\s*(ns|us|ms|s)$/.exec(value)
      const ns = m ? Number(m[1]) * { ns: 1, us: 1e3, ms: 1e6, s: 1e9 }[m[2] as 'ns'] : 0
      if (ns > 0 && (!jdkPeriod || ns < jdkPeriod)) jdkPeriod = ns
    }
  }
  return { engine, periodNs: engine ? interval : jdkPeriod }
}

function num(v: JfrValue | undefined): number {
  return typeof v === 'number' ? v : 0
}

/** The Pyroscope agent's context id (a field of async-profiler's events in its fork); 0 is "none". */
function contextOf(e: JfrObject): number {
  return typeof e.contextId === 'number' ? e.contextId : 0
}

/**
 * The function indices of a stack-trace constant, root first (JFR lists the leaf first), named
 * `pkg/Class.method` as Pyroscope names Java frames. null when the trace is missing.
 */
function stackOf(chunk: Chunk, b: ProfileBuilder, ref: JfrValue | undefined, names: Map<number | bigint, string>): number[] | null {
  const methods = chunk.frameMethods(ref)
  if (!methods) return null
  const out: number[] = []
  for (let i = methods.length - 1; i >= 0; i--) {
    const m = methods[i]!
    let name = names.get(m.key)
    if (name === undefined) {
      const method = chunk.resolve(m)
      if (!isObject(method)) continue
      const cls = chunk.resolve(method.type)
      const className = isObject(cls) ? symbol(chunk, cls.name) : ''
      name = `${className}.${symbol(chunk, method.name)}`
      names.set(m.key, name)
    }
    out.push(b.fn(name))
  }
  return out
}

function symbol(chunk: Chunk, ref: JfrValue | undefined): string {
  const s = chunk.resolve(ref)
  const str = isObject(s) ? chunk.resolve(s.string) : s
  return typeof str === 'string' ? stableName(str) : ''
}

function isObject(v: JfrValue | undefined): v is JfrObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof CpRef)
}

/** A reader error as KILN_BAD_JFR saying where; KilnErrors (limits) pass through. */
function located(e: unknown, where: string): unknown {
  if (e instanceof JfrError)
    return new KilnError(
      'KILN_BAD_JFR',
      `JFR recording: ${where}${e.message}; send the whole .jfr file as the JVM or async-profiler wrote it`,
    )
  if (e instanceof RangeError) return new KilnError('KILN_BAD_JFR', `JFR recording: ${where}${e.message}`)
  return e
}
