/**
 * V8's own profiles, as `node:inspector` and Chrome DevTools produce them: the CPU profile
 * (`.cpuprofile`: nodes, samples, timeDeltas) and the sampling heap profile (a tree of
 * allocation sites with selfSize). Used by the server to profile itself.
 */
import { ProfileBuilder, type Profile } from '../model/profile.ts'

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}

export interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame; children?: number[] }[]
  startTime: number
  endTime: number
  samples?: number[]
  timeDeltas?: number[]
}

export interface HeapProfileNode {
  callFrame: CallFrame
  selfSize: number
  children: HeapProfileNode[]
}

/** `name file:line`, with the file shortened to what follows node_modules/ or the last two parts. */
export function frameName(cf: CallFrame): string {
  const fn = cf.functionName || '(anonymous)'
  if (!cf.url) return fn
  let file = cf.url.replace(/^file:\/\//, '')
  const nm = file.lastIndexOf('node_modules/')
  file = nm >= 0 ? file.slice(nm + 13) : file.split('/').slice(-2).join('/')
  return `${fn} ${file}:${cf.lineNumber + 1}`
}

// V8's synthetic root is not a frame.
const skip = new Set(['(root)'])
// Time V8 spent idle (waiting in the event loop) is not CPU time: such samples are dropped.
const IDLE = '(idle)'

/** A CPU profile as process_cpu nanoseconds: each sample weighs the time until the next one. */
export function decodeCpuProfile(p: CpuProfile): Profile {
  const b = new ProfileBuilder({
    sampleTypes: [{ type: 'cpu', unit: 'nanoseconds' }],
    periodType: { type: 'cpu', unit: 'nanoseconds' },
    period: 0,
    timeMs: Math.floor(p.startTime / 1000),
    durationNanos: Math.max(0, (p.endTime - p.startTime) * 1000),
  })
  const parent = new Map<number, number>()
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const stackOf = new Map<number, number[]>()
  const stack = (id: number): number[] => {
    let s = stackOf.get(id)
    if (s) return s
    const out: number[] = []
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const name = byId.get(x)!.callFrame.functionName
      if (!skip.has(name)) out.push(b.fn(frameName(byId.get(x)!.callFrame)))
    }
    s = out.reverse()
    stackOf.set(id, s)
    return s
  }
  const weights = new Map<number, number>()
  const samples = p.samples ?? []
  const deltas = p.timeDeltas ?? []
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i+1] is the time from sample i to the next: the time sample i stands for.
    const us = deltas[i + 1] ?? 0
    if (us > 0) weights.set(samples[i]!, (weights.get(samples[i]!) ?? 0) + us * 1000)
  }
  for (const [id, ns] of weights) {
    if (byId.get(id)!.callFrame.functionName === IDLE) continue
    const s = stack(id)
    if (s.length) b.add(s, [ns])
  }
  return b.build()
}

/** A sampling heap profile as memory inuse_space bytes. */
export function decodeHeapProfile(head: HeapProfileNode, timeMs: number): Profile {
  const b = new ProfileBuilder({
    sampleTypes: [{ type: 'inuse_space', unit: 'bytes' }],
    periodType: { type: 'space', unit: 'bytes' },
    period: 524_288,
    timeMs,
    durationNanos: 0,
  })
  const walk: [HeapProfileNode, number[]][] = [[head, []]]
  while (walk.length) {
    const [n, path] = walk.pop()!
    const here = n === head ? path : [...path, b.fn(frameName(n.callFrame))]
    if (n.selfSize > 0 && here.length) b.add(here, [n.selfSize])
    for (const c of n.children) walk.push([c, here])
  }
  return b.build()
}
