/** System-wide sampling with `perf record -a -g`, cut into windows by perf itself (--switch-output). */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { KilnError } from '../model/errors.ts'

/** One window of samples: a perf.data file and the wall-clock span it covers (Unix ms). */
export interface Window {
  file: string
  from: number
  until: number
}

export interface SamplerOptions {
  /** Samples per second per CPU. */
  frequency: number
  /** Window length; perf switches files on whole seconds. */
  intervalMs: number
  /** Where perf writes its rotating files. */
  dir: string
  onWindow: (w: Window) => void
}

const DUMP = /\[ perf record: Dump (.+?) \]/

/**
 * Runs `perf record -a -g` with `--switch-output=<N>s`: perf closes a file every N seconds and
 * starts the next without a gap, so no sample falls between windows. `-B -N`: no build-id pass
 * and no ~/.debug cache after each file (perf script finds symbols by path, which is all the
 * agent needs; the cache would copy every binary it ever sampled).
 */
export class PerfSampler {
  private child: ChildProcess | undefined
  private last = 0
  private stderr = ''
  private stopping = false
  /** Settles when perf exits: after stop(), or on its own with an error. */
  readonly done: Promise<void>
  private settle!: { resolve: () => void; reject: (e: Error) => void }

  constructor(private readonly o: SamplerOptions) {
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }))
  }

  /** The perf command line, for the log. */
  get args(): string[] {
    const seconds = Math.max(1, Math.round(this.o.intervalMs / 1000))
    return ['record', '-a', '-g', '-F', String(this.o.frequency), '-B', '-N', '-o', join(this.o.dir, 'perf.data'), `--switch-output=${seconds}s`]
  }

  start(): void {
    this.last = Date.now()
    // Its own process group: a Ctrl-C meant for the agent must not cut perf's last file short.
    const child = spawn('perf', this.args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true })
    this.child = child
    let pending = ''
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (t: string) => {
      this.stderr = (this.stderr + t).slice(-4000)
      pending += t
      const lines = pending.split('\n')
      pending = lines.pop()!
      for (const l of lines) {
        const m = DUMP.exec(l)
        if (!m) continue
        const now = Date.now()
        this.o.onWindow({ file: m[1]!, from: this.last, until: now })
        this.last = now
      }
    })
    child.on('error', (e: NodeJS.ErrnoException) =>
      this.settle.reject(e.code === 'ENOENT' ? new KilnError('KILN_UNSUPPORTED', 'perf is not installed; install it (Debian: apt-get install linux-perf) and start the agent again') : e),
    )
    child.on('close', (code, signal) => {
      if (this.stopping && (code === 0 || signal === 'SIGINT')) return this.settle.resolve()
      this.settle.reject(perfFailure(this.stderr, code))
    })
  }

  /** Asks perf to write its last window and waits for it to exit. */
  async stop(): Promise<void> {
    this.stopping = true
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      try {
        process.kill(-this.child.pid!, 'SIGINT')
      } catch {
        // already gone
      }
    }
    await this.done.catch(() => undefined)
  }
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
 * Which sampler the agent uses and why, for its log. bpftrace's `profile:hz` probe attaches on
 * this kernel, but its ustack() (v0.17 here) prints JIT frames as bare addresses — it does not
 * read /tmp/perf-PID.map — and names user frames only for processes still alive when the map is
 * printed; perf script does both, so perf samples and bpftrace is only reported.
 */
export function samplerReason(): string {
  const r = spawnSync('bpftrace', ['--version'], { encoding: 'utf8', timeout: 5000 })
  const version = r.status === 0 ? r.stdout.trim() : undefined
  return version
    ? `sampler: perf (${version} is installed, but its ustack leaves JIT frames from /tmp/perf-PID.map unnamed and loses user symbols of processes that exit mid-window)`
    : 'sampler: perf (bpftrace is not installed)'
}
