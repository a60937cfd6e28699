/**
 * Runs one bpftrace program as a child process for a source that prints one line per event
 * (`printf`, flushed per line with `-B line`): on this kernel bpftrace was slow to print maps
 * (see agent/bpftrace-sampler.ts), and a line per event keeps nothing in kernel maps but what is
 * in flight. The program gets a ready probe appended; `start` resolves once it fired, so a
 * caller's first event after `start` is seen.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { KilnError } from '../../model/errors.ts'
import { LineSplitter } from '../../flamegraph/lines.ts'

const READY = 'KILN_READY'
// Appended last: bpftrace attaches probes in program order, so when this one fires the source's are in.
// getppid is a syscall nothing else on a host makes often, filtered to this process.
const readyProbe = () => `\ntracepoint:syscalls:sys_enter_getppid /pid == ${process.pid}/ { printf("${READY}\\n"); }\n`

/** CLOCK_MONOTONIC (bpftrace's `nsecs`, Node's hrtime) → ns since the epoch, fixed when the program starts. */
export function monotonicToEpoch(): (mono: bigint) => bigint {
  const offset = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint()
  return (mono) => mono + offset
}

/** Mounts tracefs where bpftrace looks for tracepoint formats, when a container's /sys lacks it. */
export function ensureTracefs(): void {
  if (existsSync('/sys/kernel/tracing/events') || existsSync('/sys/kernel/debug/tracing/events')) return
  try {
    mkdirSync('/sys/kernel/tracing', { recursive: true })
  } catch {
    // mount reports it
  }
  const r = spawnSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing'], { encoding: 'utf8' })
  if (r.status !== 0 && !existsSync('/sys/kernel/tracing/events')) {
    throw new KilnError(
      'KILN_UNSUPPORTED',
      `tracefs is not mounted and mounting it failed (${(r.stderr || String(r.error)).trim()}): mount -t tracefs nodev /sys/kernel/tracing`,
    )
  }
}

export interface BpftraceRunOptions {
  /** The source's name, for messages. */
  name: string
  program: string
  /** Each output line that is not bpftrace's own chatter. */
  onLine: (line: string) => void
  /** How long attaching may take: bpftrace 0.17 compiles with LLVM first (~0.3 s idle, several s on a loaded 2-core host). */
  readyTimeoutMs?: number
  /** The agent's log: told when bpftrace dies after it attached. */
  log?: (line: string) => void
  /** bpftrace's settings (BPFTRACE_STRLEN, …). */
  env?: Record<string, string>
}

export class BpftraceRun {
  private child: ChildProcess | undefined
  private stderr = ''
  private stopping = false
  private ready = false
  /** Events the kernel's perf buffer could not hold (bpftrace's "Lost N events"). */
  lost = 0
  private exited!: Promise<number | null>

  constructor(private readonly o: BpftraceRunOptions) {}

  get program(): string {
    return this.o.program + readyProbe()
  }

  /** Spawns bpftrace; resolves when the probes are attached, rejects with a KilnError when bpftrace cannot run the program. */
  async start(): Promise<void> {
    ensureTracefs()
    const child = spawn('bpftrace', ['-B', 'line', '-e', this.program], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, ...this.o.env },
    })
    this.child = child
    const readySeen = this.marker()
    const lines = new LineSplitter((l) => {
      if (l === READY) {
        this.ready = true
        return this.onMarker?.()
      }
      const lost = /^Lost (\d+) events/.exec(l)
      if (lost) this.lost += Number(lost[1])
      else if (l && !l.startsWith('Attaching ')) this.o.onLine(l)
    })
    child.stdout!.setEncoding('latin1')
    child.stdout!.on('data', (t: string) => lines.push(t))
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (t: string) => {
      this.stderr = (this.stderr + t).slice(-4000)
      for (const m of t.matchAll(/Lost (\d+) events/g)) this.lost += Number(m[1])
    })
    this.exited = new Promise((resolve, reject) => {
      child.on('error', (e: NodeJS.ErrnoException) =>
        reject(
          e.code === 'ENOENT'
            ? new KilnError('KILN_UNSUPPORTED', `${this.o.name} needs bpftrace: install it (Debian: apt-get install bpftrace)`)
            : e,
        ),
      )
      child.on('close', (code) => {
        lines.end()
        if (this.ready && !this.stopping)
          this.o.log?.(`${this.o.name}: bpftrace exited (code ${code}) while tracing, no more rows from it: ${this.said()}`)
        resolve(code)
      })
    })
    this.exited.catch(() => undefined)
    const poke = this.poke()
    const limit = this.o.readyTimeoutMs ?? 30_000
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        readySeen,
        this.exited.then((code) => {
          throw this.failure(code)
        }),
        new Promise(
          (_, reject) =>
            (timer = setTimeout(
              () =>
                reject(
                  new KilnError('KILN_UNSUPPORTED', `${this.o.name}: bpftrace did not attach its probes in ${limit} ms: ${this.said()}`),
                ),
              limit,
            )),
        ),
      ])
    } catch (e) {
      await this.stop()
      throw e
    } finally {
      clearInterval(poke)
      clearTimeout(timer)
    }
  }

  /**
   * Drains, then SIGINT as a user's ^C; SIGKILL if bpftrace has not exited in 5 s. bpftrace stops
   * reading its perf buffers at SIGINT, so events still in them would be lost (seen under load:
   * the last calls of a test missing): the ready probe is fired once more first, and its line —
   * printed after every event that was in the buffers before it — is waited for (≤ 2 s).
   */
  async stop(): Promise<void> {
    this.stopping = true
    const c = this.child
    if (!c) return
    if (c.exitCode === null && c.signalCode === null) {
      if (this.ready) {
        const poke = this.poke()
        let timer: NodeJS.Timeout | undefined
        await Promise.race([this.marker(), this.exited, new Promise((r) => (timer = setTimeout(r, 2000)))]).catch(() => undefined)
        clearInterval(poke)
        clearTimeout(timer)
      }
      try {
        process.kill(c.pid!, 'SIGINT')
      } catch {
        // already gone
      }
    }
    const kill = setTimeout(() => c.kill('SIGKILL'), 5000)
    await this.exited.catch(() => undefined)
    clearTimeout(kill)
  }

  private onMarker: (() => void) | undefined

  /** The next line of the ready probe. */
  private marker(): Promise<void> {
    return new Promise<void>((resolve) => (this.onMarker = resolve))
  }

  /** Fires the ready probe every 50 ms (reading process.ppid makes a getppid call each time) until cleared. */
  private poke(): NodeJS.Timeout {
    return setInterval(() => void process.ppid, 50)
  }

  /** bpftrace's pid (for measuring its CPU), while it runs. */
  get pid(): number | undefined {
    return this.child?.pid
  }

  /** Whether bpftrace died after it was attached (the source then has stopped collecting). */
  get died(): boolean {
    return this.ready && !this.stopping && this.child !== undefined && (this.child.exitCode !== null || this.child.signalCode !== null)
  }

  private said(): string {
    return (
      this.stderr
        .trim()
        .split('\n')
        .filter((l) => l && !l.includes('RLIMIT_MEMLOCK'))
        .slice(0, 3)
        .join(' / ') || 'no message'
    )
  }

  private failure(code: number | null): KilnError {
    const said = this.said()
    if (/only supports running as the root|Operation not permitted|Permission denied/i.test(said)) {
      return new KilnError(
        'KILN_UNAUTHORIZED',
        `${this.o.name}: bpftrace may not load BPF programs here (${said}); run kiln agent --trace as root`,
      )
    }
    return new KilnError('KILN_UNSUPPORTED', `${this.o.name}: bpftrace exited (code ${code}) before its probes were attached: ${said}`)
  }
}
