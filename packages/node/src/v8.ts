/**
 * V8's own profilers through `node:inspector` (no native module): the CPU profiler (a sample of
 * the main thread every interval, with time deltas) and the sampling heap profiler, folded into
 * pprof samples.
 */
import { Session } from 'node:inspector/promises'
import { console as inspectorConsole } from 'node:inspector'
import type { Frame, PprofInput, PprofSample } from './pprof.ts'
import type { LabelSet } from './labels.ts'

interface CpuNode {
  id: number
  callFrame: Frame
  children?: number[]
}
export interface CpuProfile {
  nodes: CpuNode[]
  startTime: number
  endTime: number
  samples?: number[]
  timeDeltas?: number[]
}
interface HeapNode {
  id: number
  callFrame: Frame
  selfSize: number
  children: HeapNode[]
}
export interface HeapProfile {
  head: HeapNode
  samples: { size: number; nodeId: number }[]
}

// V8 marks the thread waiting in the event loop with this node: wall time, not CPU time.
const IDLE = '(idle)'

/** Stacks as location ids, leaf first; one location per distinct frame (function, file, line). */
export class Frames {
  readonly locations = new Map<number, Frame>()
  private readonly ids = new Map<string, number>()
  id(f: Frame): number {
    const key = `${f.functionName}\u0000${f.url}\u0000${f.lineNumber}`
    let id = this.ids.get(key)
    if (id === undefined) {
      id = this.ids.size + 1
      this.ids.set(key, id)
      this.locations.set(id, { functionName: f.functionName, url: f.url, lineNumber: f.lineNumber })
    }
    return id
  }
}

/** Samples summed by stack and label set. */
export class Aggregate {
  readonly frames = new Frames()
  readonly samples = new Map<string, PprofSample>()
  add(locations: number[], labels: LabelSet, values: number[]): void {
    const key = labels.length ? `${locations.join(',')}|${labels.map((l) => l.join('=')).join(',')}` : locations.join(',')
    const s = this.samples.get(key)
    if (!s) this.samples.set(key, { locations, values: [...values], ...(labels.length ? { labels } : {}) })
    else for (let i = 0; i < values.length; i++) s.values[i]! += values[i]!
  }
}

/** Folds a V8 CPU profile into [cpu ns, wall ns] samples; `labelsAt` gives each sample's labels. */
export function foldCpu(p: CpuProfile, agg: Aggregate, labelsAt?: (timeUs: number) => LabelSet): void {
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const stacks = new Map<number, number[]>()
  const stackOf = (id: number): number[] => {
    let s = stacks.get(id)
    if (s) return s
    s = []
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const n = byId.get(x)
      if (!n || (n.callFrame.functionName === '(root)' && !n.callFrame.url)) continue
      s.push(agg.frames.id(n.callFrame))
    }
    stacks.set(id, s)
    return s
  }
  const samples = p.samples ?? []
  const deltas = p.timeDeltas ?? []
  let t = p.startTime
  for (let i = 0; i < samples.length; i++) {
    t += deltas[i] ?? 0
    // The time until the next sample is the time this sample stands for.
    const us = i + 1 < samples.length ? (deltas[i + 1] ?? 0) : p.endTime - t
    if (!(us > 0)) continue
    const id = samples[i]!
    const stack = stackOf(id)
    if (!stack.length) continue
    const idle = byId.get(id)!.callFrame.functionName === IDLE
    agg.add(stack, labelsAt ? labelsAt(t) : [], [idle ? 0 : us * 1000, us * 1000])
  }
}

/** Folds a sampling heap profile into [inuse_objects, inuse_space] samples. */
export function foldHeap(p: HeapProfile, intervalBytes: number, agg: Aggregate): void {
  // V8 samples an allocation of `size` bytes with probability 1 − e^(−size/interval); each sample
  // stands for 1/p objects (selfSize is already scaled the same way).
  const objects = new Map<number, number>()
  for (const s of p.samples) objects.set(s.nodeId, (objects.get(s.nodeId) ?? 0) + 1 / (1 - Math.exp(-s.size / intervalBytes)))
  const walk: [HeapNode, number[]][] = [[p.head, []]]
  while (walk.length) {
    const [n, rootFirst] = walk.pop()!
    const here = n === p.head ? rootFirst : [...rootFirst, agg.frames.id(n.callFrame)]
    if (n.selfSize > 0 && here.length) agg.add([...here].reverse(), [], [objects.get(n.id) ?? 0, n.selfSize])
    for (const c of n.children) walk.push([c, here])
  }
}

/** The pprof of folded CPU samples: cpu and wall nanoseconds per stack. */
export function cpuPprof(agg: Aggregate, fromMs: number, untilMs: number, intervalUs: number): PprofInput {
  return {
    sampleTypes: [
      ['cpu', 'nanoseconds'],
      ['wall', 'nanoseconds'],
    ],
    periodType: ['wall', 'nanoseconds'],
    period: intervalUs * 1000,
    timeNanos: fromMs * 1e6,
    durationNanos: Math.max(0, untilMs - fromMs) * 1e6,
    locations: agg.frames.locations,
    samples: [...agg.samples.values()],
  }
}

/** The pprof of a heap snapshot: in-use objects and bytes per allocation stack. */
export function heapPprof(agg: Aggregate, atMs: number, intervalBytes: number): PprofInput {
  return {
    sampleTypes: [
      ['inuse_objects', 'count'],
      ['inuse_space', 'bytes'],
    ],
    periodType: ['space', 'bytes'],
    period: intervalBytes,
    timeNanos: atMs * 1e6,
    durationNanos: 0,
    locations: agg.frames.locations,
    samples: [...agg.samples.values()],
  }
}

let anchors = 0

/** One inspector session: start/stop of the CPU profiler and the heap sampler. */
export class V8Session {
  private readonly session = new Session()
  // V8's heap sampler is one per isolate: a session stops only what it started.
  private cpu = false
  private heapSampling = false
  constructor() {
    this.session.connect()
  }
  async startCpu(intervalUs: number): Promise<void> {
    await this.session.post('Profiler.enable')
    await this.session.post('Profiler.setSamplingInterval', { interval: intervalUs })
    await this.session.post('Profiler.start')
    this.cpu = true
  }
  /** Stops the CPU profiler and returns its profile; `restart` starts the next one at once. */
  async stopCpu(restart: boolean): Promise<CpuProfile> {
    if (!restart) {
      this.cpu = false
      return ((await this.session.post('Profiler.stop')) as unknown as { profile: CpuProfile }).profile
    }
    // V8 disposes of its CpuProfiler when its last profile stops, and a new one re-logs all code
    // (~15 ms) and loses code optimized before it started: such frames are then counted in their
    // caller. A console.profile anchor keeps the same profiler alive from stop to start.
    const anchor = `@kiln/node anchor ${++anchors}`
    inspectorConsole.profile(anchor)
    try {
      const { profile } = (await this.session.post('Profiler.stop')) as unknown as { profile: CpuProfile }
      await this.session.post('Profiler.start')
      return profile
    } finally {
      inspectorConsole.profileEnd(anchor)
    }
  }
  async startHeap(intervalBytes: number, stackDepth: number): Promise<void> {
    await this.session.post('HeapProfiler.enable')
    await this.session.post('HeapProfiler.startSampling', { samplingInterval: intervalBytes, stackDepth } as never)
    this.heapSampling = true
  }
  async heap(): Promise<HeapProfile> {
    return (await this.session.post('HeapProfiler.getSamplingProfile')).profile as unknown as HeapProfile
  }
  async close(): Promise<void> {
    if (this.cpu) await this.session.post('Profiler.stop').catch(() => {})
    if (this.heapSampling) await this.session.post('HeapProfiler.stopSampling').catch(() => {})
    this.session.disconnect()
  }
}
