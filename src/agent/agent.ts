/** `kiln agent`: samples every process on the host, labels each one, and uploads a profile per process per window. */
import { hostname } from 'node:os'
import { PerfSampler, samplerReason, type Window } from './perf-sampler.ts'
import { BpftraceSampler, type StackWindow } from './bpftrace-sampler.ts'
import { PodDirectory, processLabels } from './process.ts'
import { relabel, type RelabelRule } from './relabel.ts'
import { profileItem, Uploader, type Upload } from './upload.ts'
import { TraceRunner } from './trace.ts'
import type { TraceSource } from '../trace/types.ts'

export interface AgentOptions {
  server: string
  /** perf (default: names every frame) or bpftrace (counts in the kernel). */
  sampler: 'perf' | 'bpftrace'
  frequency: number
  intervalMs: number
  rules: RelabelRule[]
  /** Where Kubernetes keeps its log links (`containers/`, `pods/`): /var/log on a node. */
  logRoot: string
  /** The `node` label (the host name by default; the DaemonSet passes the node's name). */
  node: string
  maxQueueBytes: number
  log: (line: string) => void
  /** Request tracing: off (profiles only), with profiles (--trace), or alone (--trace-only). */
  trace?: 'off' | 'on' | 'only'
  /** The TraceSources to start with tracing on; the first (socket capture) is required. */
  traceSources?: TraceSource[]
}

/** What the agent sent and dropped: profiles, and trace rows when tracing was on. */
export interface AgentStats {
  profiles: Uploader['stats']
  trace?: Uploader['stats']
}

/** Per-process folded stacks of one window: pid → (perf's comm, stack → samples). */
export interface ProcessStacks {
  comm: string
  samples: number
  folded: string
}

/**
 * Splits collapsed stacks whose root frame is `comm-PID` (PerfCollapser's `pid` option) into
 * one folded profile per pid, without the root. pid 0 is the idle task: not a process.
 */
export function splitByPid(entries: Iterable<[string, number]>): Map<number, ProcessStacks> {
  const out = new Map<number, ProcessStacks>()
  for (const [stack, n] of entries) {
    const semi = stack.indexOf(';')
    const root = semi < 0 ? stack : stack.slice(0, semi)
    const dash = root.lastIndexOf('-')
    const pid = Number(root.slice(dash + 1))
    if (dash < 0 || !Number.isInteger(pid) || pid <= 0) continue
    const comm = root.slice(0, dash)
    let p = out.get(pid)
    if (!p) out.set(pid, (p = { comm, samples: 0, folded: '' }))
    p.samples += n
    p.folded += `${semi < 0 ? comm : stack.slice(semi + 1)} ${n}\n`
  }
  return out
}

// The /ingest name splits labels on ',' and ends them at '}'; keep values from breaking it.
const cleanValue = (v: string): string => v.replace(/[,{}\n]/g, '_')

/** `app.cpu{k=v,…}` for a label set; the app is `service_name` when a rule set it, else the comm. */
export function ingestName(labels: ReadonlyMap<string, string>, comm: string): string {
  const visible = [...labels].filter(([k]) => !k.startsWith('__') && k !== 'service_name')
  const app = (labels.get('service_name') || labels.get('comm') || comm).replace(/[{}\s]/g, '_') || 'unknown'
  return `${app}.cpu{${visible.map(([k, v]) => `${k}=${cleanValue(v)}`).join(',')}}`
}

/** Runs until `signal` aborts; the last window is uploaded before it returns. */
export async function runAgent(o: AgentOptions, signal: AbortSignal): Promise<AgentStats> {
  let tracer: TraceRunner | undefined
  if (o.trace && o.trace !== 'off') {
    tracer = new TraceRunner({ server: o.server, maxQueueBytes: o.maxQueueBytes, log: o.log, sources: o.traceSources ?? [] })
    await tracer.start()
  }
  let profiles: Uploader['stats'] | undefined
  let trace: Uploader['stats'] | undefined
  try {
    if (o.trace !== 'only') profiles = await runProfiler(o, signal)
    else if (!signal.aborted) await new Promise((r) => signal.addEventListener('abort', r, { once: true }))
  } finally {
    trace = await tracer?.stop()
  }
  return {
    profiles: profiles ?? { sent: 0, sentUnits: 0, dropped: 0, droppedUnits: 0, rejected: 0, retries: 0 },
    ...(trace ? { trace } : {}),
  }
}

async function runProfiler(o: AgentOptions, signal: AbortSignal): Promise<Uploader['stats']> {
  const pods = new PodDirectory(o.logRoot)
  const uploader = new Uploader({ server: o.server, maxQueueBytes: o.maxQueueBytes, log: o.log })
  const lastLabels = new Map<number, Map<string, string>>()

  const processWindow = (w: StackWindow): void => {
    // One upload per label set: processes that rules made alike (labelkeep, say) share one.
    const uploads = new Map<string, Upload>()
    let dropped = 0
    const seen = new Map<number, Map<string, string>>()
    for (const [pid, p] of w.stacks) {
      // Read /proc now; a process that has exited keeps what was read in the last window.
      const fresh = processLabels(pid, pods, p.comm)
      const base = fresh.has('exe') || !lastLabels.has(pid) ? fresh : lastLabels.get(pid)!
      seen.set(pid, base)
      const labels = relabel(new Map([['node', o.node], ...base]), o.rules)
      if (!labels) {
        dropped++
        continue
      }
      const name = ingestName(labels, p.comm)
      const same = uploads.get(name)
      if (same) {
        same.folded += p.folded
        same.samples += p.samples
      } else uploads.set(name, { name, folded: p.folded, samples: p.samples, from: w.from, until: w.until })
    }
    lastLabels.clear()
    for (const [k, v] of seen) lastLabels.set(k, v)
    sampler.retainMaps(new Set(seen.keys()))
    uploader.enqueue([...uploads.values()].map((u) => profileItem(u, o.frequency)))
    const span = `${new Date(w.from).toISOString().slice(11, 19)}–${new Date(w.until).toISOString().slice(11, 19)}`
    o.log(
      `window ${span}: ${w.samples} samples from ${seen.size} processes; ${uploads.size} profiles queued, ${dropped} dropped by relabel rules; ${uploader.stats.sent} sent since start`,
    )
  }

  const onWindow = (w: StackWindow) => {
    try {
      processWindow(w)
    } catch (e) {
      o.log(`window lost: ${(e as Error).message}`)
    }
  }
  const sampler =
    o.sampler === 'bpftrace'
      ? new BpftraceSampler({ frequency: o.frequency, intervalMs: o.intervalMs, onWindow })
      : new PerfSampler({
          frequency: o.frequency,
          intervalMs: o.intervalMs,
          onWindow: (w: Window) =>
            onWindow({ stacks: splitByPid(w.collapser.entries()), samples: w.collapser.samples, from: w.from, until: w.until }),
        })
  o.log(
    o.sampler === 'bpftrace'
      ? 'sampler: bpftrace (--sampler bpftrace): stacks counted in the kernel; user frames named by the agent from ELF symbols and /tmp/perf-PID.map, those of processes that exit before the window is printed stay [unknown]'
      : samplerReason(),
  )
  o.log(`${sampler.commands}; uploading to ${o.server} every ${Math.max(1, Math.round(o.intervalMs / 1000))}s as node ${o.node}`)
  sampler.start()
  const stop = () => void sampler.stop()
  signal.addEventListener('abort', stop, { once: true })
  try {
    await sampler.done
  } finally {
    signal.removeEventListener('abort', stop)
    await uploader.close(15_000)
  }
  const s = uploader.stats
  o.log(
    `stopped: ${s.sent} profiles (${s.sentUnits} samples) sent, ${s.dropped} dropped (${s.droppedUnits} samples), ${s.rejected} refused by the server`,
  )
  return s
}

export const defaultNode = (): string => process.env.NODE_NAME || hostname()
