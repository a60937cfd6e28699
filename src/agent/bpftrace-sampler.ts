/** System-wide sampling with bpftrace's `profile:hz` probe: stacks counted in the kernel, printed once a window. */
import { spawn, type ChildProcess } from 'node:child_process'
import { KilnError } from '../model/errors.ts'
import { LineSplitter } from '../flamegraph/lines.ts'
import type { ProcessStacks } from './agent.ts'
import { NativeSymbols } from './elf-symbols.ts'
import { PerfMaps } from './perf-map.ts'
import { interrupt } from './perf-sampler.ts'

export interface StackWindow {
  stacks: Map<number, ProcessStacks>
  samples: number
  from: number
  until: number
}

// A map key as bpftrace -f json prints `@[pid, comm, kstack, ustack]`: stacks are "" or
// "\n" followed by one indented frame per line, innermost first.
const KEY = /^(\d+),(.*?),((?:\n {4}[^\n]*)*\n?),((?:\n {4}[^\n]*)*\n?)$/
const OFFSET = /\+\d+$/
const ADDRESS = /^0x([0-9a-f]+)$/

/**
 * bpftrace map entries → per-process folded stacks. User frames come as addresses (the sampler
 * runs bpftrace with BPFTRACE_NO_USER_SYMBOLS=1): named from the process's ELF files by `native`
 * (C++ names demangled), else from its perf map (JIT code), else [unknown].
 */
export function foldBpftraceMap(
  map: Record<string, number>,
  maps: PerfMaps,
  native?: NativeSymbols,
): { stacks: Map<number, ProcessStacks>; samples: number } {
  const stacks = new Map<number, ProcessStacks>()
  const lines = new Map<number, Map<string, number>>()
  let samples = 0
  const named: [pid: number, comm: string, frames: string[], n: number][] = []
  const mangled = new Set<string>()
  for (const [key, n] of Object.entries(map)) {
    const m = KEY.exec(key)
    if (!m || typeof n !== 'number' || !(n > 0)) continue
    const pid = Number(m[1])
    if (pid === 0) continue // the idle task
    const frames = (text: string, user: boolean) =>
      text
        .split('\n')
        .map((f) => f.trim())
        .filter(Boolean)
        .map((f) => {
          const a = ADDRESS.exec(f)
          if (!a) return f.replace(OFFSET, '')
          if (!user) return '[unknown]'
          const addr = parseInt(a[1]!, 16)
          const elf = native?.lookup(pid, addr)
          if (elf?.startsWith('_Z')) mangled.add(elf)
          return elf || maps.lookup(pid, addr) || '[unknown]'
        })
        .reverse()
    named.push([pid, m[2]!, [...frames(m[4]!, true), ...frames(m[3]!, false)], n])
  }
  const demangled = native && mangled.size > 0 ? native.demangle(mangled) : undefined
  for (const [pid, comm, frames, n] of named) {
    const stack = frames.map((f) => (demangled?.get(f) ?? f).replaceAll(';', ':')).join(';') || comm || '[unknown]'
    let p = stacks.get(pid)
    if (!p) stacks.set(pid, (p = { comm, samples: 0, folded: '' }))
    p.samples += n
    samples += n
    let perPid = lines.get(pid)
    if (!perPid) lines.set(pid, (perPid = new Map()))
    perPid.set(stack, (perPid.get(stack) ?? 0) + n)
  }
  for (const [pid, perPid] of lines) stacks.get(pid)!.folded = [...perPid].map(([s, n]) => `${s} ${n}\n`).join('')
  return { stacks, samples }
}

/** Runs `bpftrace -f json` with a profile probe and an interval probe that prints and clears the map. */
export class BpftraceSampler {
  private child: ChildProcess | undefined
  private stderr = ''
  private stopping = false
  private from = 0
  private readonly maps = new PerfMaps()
  private readonly native = new NativeSymbols()
  readonly done: Promise<void>
  private settle!: { resolve: () => void; reject: (e: Error) => void }

  constructor(private readonly o: { frequency: number; intervalMs: number; onWindow: (w: StackWindow) => void }) {
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }))
  }

  get program(): string {
    return `profile:hz:${this.o.frequency} { @[pid, comm, kstack, ustack] = count(); } interval:ms:${Math.round(this.o.intervalMs)} { print(@); clear(@); }`
  }

  get commands(): string {
    return `BPFTRACE_NO_USER_SYMBOLS=1 bpftrace -f json -e '${this.program}'`
  }

  start(): void {
    this.from = Date.now()
    // User frames as addresses, named by the agent (elf-symbols.ts says why: 85–155 s against
    // 1.7 s to print one window at load 17).
    const child = spawn('bpftrace', ['-f', 'json', '-e', this.program], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, BPFTRACE_NO_USER_SYMBOLS: '1' },
    })
    this.child = child
    const lines = new LineSplitter((l) => this.line(l))
    child.stdout!.setEncoding('latin1')
    child.stdout!.on('data', (t: string) => lines.push(t))
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (t: string) => (this.stderr = (this.stderr + t).slice(-4000)))
    child.on('error', (e: NodeJS.ErrnoException) =>
      this.settle.reject(
        e.code === 'ENOENT'
          ? new KilnError(
              'KILN_UNSUPPORTED',
              'bpftrace is not installed; install it (Debian: apt-get install bpftrace) or use --sampler perf',
            )
          : e,
      ),
    )
    child.on('close', (code) => {
      lines.end()
      if (this.stopping || code === 0) return this.settle.resolve()
      const said = this.stderr
        .trim()
        .split('\n')
        .filter((l) => !l.includes('RLIMIT_MEMLOCK'))
        .slice(0, 3)
        .join(' / ')
      this.settle.reject(
        new KilnError('KILN_UNSUPPORTED', `bpftrace exited (code ${code}): ${said || 'no message'}; run as root, or use --sampler perf`),
      )
    })
  }

  private line(l: string): void {
    if (!l.startsWith('{"type": "map"')) return
    let map: Record<string, number> | undefined
    try {
      map = (JSON.parse(l) as { data?: { '@'?: Record<string, number> } }).data?.['@']
    } catch {
      return
    }
    if (!map) return
    const now = Date.now()
    const { stacks, samples } = foldBpftraceMap(map, this.maps, this.native)
    const w = { stacks, samples, from: this.from, until: now }
    this.from = now
    if (samples > 0 || !this.stopping) this.o.onWindow(w)
  }

  retainMaps(alive: Set<number>): void {
    this.maps.retain(alive)
    this.native.retain(alive)
  }

  /** SIGINT: bpftrace prints the map once more as it exits, which makes the last window. */
  async stop(): Promise<void> {
    this.stopping = true
    await interrupt(this.child, this.done)
  }
}
