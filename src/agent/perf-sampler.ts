/** System-wide sampling: `perf record -a -g -o - | perf script`, cut into windows as the samples stream in. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { once } from 'node:events'
import { KilnError } from '../model/errors.ts'
import { PerfCollapser } from '../flamegraph/collapse-perf.ts'
import { LineSplitter } from '../flamegraph/lines.ts'
import { PerfMaps } from './perf-map.ts'

/** One window of samples, collapsed with `comm-PID` roots, and the wall-clock span it covers (Unix ms). */
export interface Window {
  collapser: PerfCollapser
  from: number
  until: number
}

export interface SamplerOptions {
  /** Samples per second per CPU. */
  frequency: number
  /** Window length. */
  intervalMs: number
  onWindow: (w: Window) => void
}

/** perf script fields: the pid as well as the tid (a system-wide recording prints only the tid). */
const FIELDS = 'comm,pid,tid,time,event,ip,sym,dso'
// A JIT frame perf could not name: its map was loaded before that code was compiled.
const JIT_UNKNOWN = /^(\s*)([0-9a-f]+) \[unknown\] \(\/tmp\/perf-(\d+)\.map\)$/

/**
 * One perf record and one perf script for the agent's whole life, joined by a pipe: perf script
 * reads every binary's symbols once, where a perf script per window would pay ~0.5 CPU s each
 * time to replay the mmap events of every process on the host. `--no-buffering` makes perf
 * record pass each sample on as it comes: without it perf waits for its buffer to be half full,
 * 5–11 s on a quiet host at 19 Hz even with `-m 8` (32 KB per CPU), and windows stretch to that.
 * `-B -N`: no build-id pass and no ~/.debug cache (perf script finds symbols by path).
 */
export class PerfSampler {
  private record: ChildProcess | undefined
  private recordStderr = ''
  private stopping = false
  private rotate = false
  private from = 0
  private collapser = PerfSampler.collapser()
  private readonly maps = new PerfMaps()
  /** Settles when perf has exited and the last window is out: after stop(), or on its own with an error. */
  readonly done: Promise<void>
  private settle!: { resolve: () => void; reject: (e: Error) => void }

  constructor(private readonly o: SamplerOptions) {
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }))
  }

  private static collapser(): PerfCollapser {
    return new PerfCollapser({ pid: true, countSamples: true })
  }

  /** The perf command lines, for the log. */
  get commands(): string {
    return `perf ${this.recordArgs.join(' ')} | perf script -i - -F ${FIELDS}`
  }

  private get recordArgs(): string[] {
    return ['record', '-a', '-g', '-F', String(this.o.frequency), '-m', '8', '--no-buffering', '-B', '-N', '-o', '-']
  }

  start(): void {
    this.from = Date.now()
    const notInstalled = (e: NodeJS.ErrnoException) =>
      this.settle.reject(
        e.code === 'ENOENT'
          ? new KilnError(
              'KILN_UNSUPPORTED',
              'perf is not installed; install it (Debian: apt-get install linux-perf) and start the agent again',
            )
          : e,
      )
    // Their own process groups: a Ctrl-C meant for the agent must not cut the last window short.
    const record = spawn('perf', this.recordArgs, { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    this.record = record
    record.on('error', notInstalled)
    record.stderr!.setEncoding('utf8')
    record.stderr!.on('data', (t: string) => (this.recordStderr = (this.recordStderr + t).slice(-4000)))
    const script = spawn('perf', ['script', '-i', '-', '-F', FIELDS], { stdio: [record.stdout!, 'pipe', 'ignore'], detached: true })
    script.on('error', notInstalled)
    const lines = new LineSplitter((l) => this.line(l))
    script.stdout!.setEncoding('latin1')
    script.stdout!.on('data', (chunk: string) => lines.push(chunk))
    const timer = setInterval(() => (this.rotate = true), this.o.intervalMs)
    // perf record's 'close' never comes (its stdout went on to perf script): its exit code and
    // the end of its stderr (the error message, if any) are what to wait for.
    const recordDone = Promise.all([once(record, 'exit'), once(record.stderr!, 'end')]).then(() => record.exitCode)
    script.on('close', () => {
      clearInterval(timer)
      lines.end()
      void recordDone.then((code) => {
        if (this.collapser.samples > 0) this.emit()
        if (this.stopping || code === 0) this.settle.resolve()
        else this.settle.reject(perfFailure(this.recordStderr, code))
      })
    })
  }

  private line(l: string): void {
    if (l.charCodeAt(0) === 9 || l.charCodeAt(0) === 32) {
      const m = l.endsWith('.map)') ? JIT_UNKNOWN.exec(l) : null
      if (m) {
        const name = this.maps.lookup(Number(m[3]), parseInt(m[2]!, 16))
        if (name) l = `${m[1]}${m[2]} ${name} (/tmp/perf-${m[3]}.map)`
      }
    }
    this.collapser.line(l)
    if (l === '' && this.rotate) this.emit()
  }

  private emit(): void {
    this.rotate = false
    const now = Date.now()
    const w = { collapser: this.collapser, from: this.from, until: now }
    this.collapser = PerfSampler.collapser()
    this.from = now
    this.o.onWindow(w)
  }

  /** Forgets the JIT maps of processes that were not in the last window. */
  retainMaps(alive: Set<number>): void {
    this.maps.retain(alive)
  }

  /** Asks perf to stop; the samples still in the pipe make the last window. */
  async stop(): Promise<void> {
    this.stopping = true
    await interrupt(this.record, this.done)
  }
}

/** SIGINT to a sampler's process (perf and bpftrace both finish their output on it), then waits for `done`. */
export async function interrupt(child: ChildProcess | undefined, done: Promise<void>): Promise<void> {
  if (child && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(child.pid!, 'SIGINT')
    } catch {
      // already gone
    }
  }
  await done.catch(() => undefined)
}

function perfFailure(stderr: string, code: number | null): KilnError {
  const said = stderr.trim().split('\n').filter(Boolean).slice(0, 3).join(' / ')
  if (/Access to performance monitoring|No permission|Permission denied|perf_event_paranoid/.test(stderr)) {
    let paranoid = '?'
    try {
      paranoid = readFileSync('/proc/sys/kernel/perf_event_paranoid', 'utf8').trim()
    } catch {
      // no procfs
    }
    return new KilnError(
      'KILN_UNAUTHORIZED',
      `perf may not sample the whole host: run kiln agent as root (or with CAP_PERFMON and CAP_SYS_ADMIN), or set kernel.perf_event_paranoid to -1 (now ${paranoid}). perf said: ${said}`,
    )
  }
  return new KilnError('KILN_INTERNAL', `perf record exited (code ${code}): ${said || 'no message'}`)
}

/**
 * Why perf is the default, for the log. bpftrace's `profile:hz` probe attaches on this kernel,
 * but its ustack() (v0.17 here) gives only addresses the agent must name (elf-symbols.ts; its own
 * naming took 85–155 s per window at load 17), and only while the process lives: user frames of
 * processes that exit before their window is printed stay [unknown].
 */
export function samplerReason(): string {
  const r = spawnSync('bpftrace', ['--version'], { encoding: 'utf8', timeout: 5000 })
  const version = r.status === 0 ? r.stdout.trim() : undefined
  return version
    ? `sampler: perf (${version} is installed — --sampler bpftrace uses it — but its ustack loses user symbols of processes that exit mid-window)`
    : 'sampler: perf (bpftrace is not installed)'
}
