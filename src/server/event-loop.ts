/**
 * How long work holds the server's event loop, measured two ways by one 10 ms timer:
 *
 * - delay: how late the timer fires (wall clock) — what a request waiting behind that work sees,
 *   but on a loaded machine mostly the time the process was not given a core;
 * - busy: the main thread's CPU time between two firings (Linux: /proc/thread-self/schedstat) —
 *   the longest piece of work that ran without a turn of the loop, whatever else the machine ran.
 *   A test can bound this one honestly under load; the delay it can only print. Precisely, it is
 *   the CPU of the loop iteration during which the timer fell due (its poll phase may run many
 *   callbacks: every ready socket's reads, a worker's messages, finished file writes; then its
 *   immediates), plus that of the iterations since the last firing, which all began before the due
 *   time: at most one tick (10 ms) of them. So it never undercounts an iteration, and overcounts it
 *   by at most 10 ms.
 * KILN_DEBUG_LOOP=1 stamps on stderr each interval over 50 ms of CPU, =N each over N ms, with its
 * start and end on the monotonic clock (process.hrtime, also that of a --cpu-prof and of perf's
 * `-k CLOCK_MONOTONIC`), to find in a profile what ran then.
 */
import { closeSync, openSync, readSync } from 'node:fs'

const TICK_MS = 10
const debugEnv = Number(process.env.KILN_DEBUG_LOOP || 0)
const debugMs = debugEnv > 1 ? debugEnv : process.env.KILN_DEBUG_LOOP ? 50 : 0
const BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10]

/** A Prometheus histogram of seconds, with the largest value seen. */
class Histogram {
  readonly counts = new Array<number>(BUCKETS.length).fill(0)
  count = 0
  sum = 0
  max = 0
  observe(s: number): void {
    this.count++
    this.sum += s
    if (s > this.max) this.max = s
    const i = BUCKETS.findIndex((b) => s <= b)
    if (i >= 0) this.counts[i]!++
  }
  text(name: string, help: string): string[] {
    let cum = 0
    return [
      `# HELP ${name}_seconds ${help}`,
      `# TYPE ${name}_seconds histogram`,
      ...BUCKETS.map((b, i) => `${name}_seconds_bucket{le="${b}"} ${(cum += this.counts[i]!)}`),
      `${name}_seconds_bucket{le="+Inf"} ${this.count}`,
      `${name}_seconds_sum ${this.sum.toFixed(6)}`,
      `${name}_seconds_count ${this.count}`,
      `# HELP ${name}_max_seconds The largest ${name}_seconds since the server started.`,
      `# TYPE ${name}_max_seconds gauge`,
      `${name}_max_seconds ${this.max.toFixed(6)}`,
    ]
  }
}

/**
 * This thread's CPU time in ns (Linux: /proc/thread-self/schedstat, opened once and read in
 * place), or undefined where the kernel does not say. readFileSync on each 10 ms tick (open,
 * stat, read, close, a fresh buffer) cost the idle server ~3 % of a core, 8 % with its heap.
 */
function threadCpu(): { read: () => number; close: () => void } | undefined {
  let fd: number
  try {
    fd = openSync('/proc/thread-self/schedstat', 'r')
  } catch {
    return undefined
  }
  const buf = Buffer.alloc(64)
  const read = () => {
    const n = readSync(fd, buf, 0, buf.length, 0)
    let ns = 0
    for (let i = 0; i < n; i++) {
      const c = buf[i]!
      if (c < 48 || c > 57) break
      ns = ns * 10 + (c - 48)
    }
    return ns
  }
  return { read, close: () => closeSync(fd) }
}

export class EventLoopMonitor {
  private readonly delay = new Histogram()
  private readonly busy = new Histogram()
  private readonly timer: NodeJS.Timeout
  private readonly measuresCpu: boolean
  private cpu: ReturnType<typeof threadCpu>

  constructor() {
    let last = performance.now()
    const threadCpuNs = (this.cpu = threadCpu())
    let cpu = threadCpuNs?.read()
    let lastMono = 0n
    this.measuresCpu = cpu !== undefined
    this.timer = setInterval(() => {
      const now = performance.now()
      this.delay.observe(Math.max(0, now - last - TICK_MS) / 1000)
      last = now
      if (cpu === undefined) return
      const c = threadCpuNs!.read()
      this.busy.observe((c - cpu) / 1e9)
      // For finding what holds the loop (with KILN_DEBUG_WRITES' commit lines and a profile).
      const mono = debugMs ? process.hrtime.bigint() / 1000n : 0n
      if (debugMs && c - cpu > debugMs * 1e6)
        process.stderr.write(`event loop held for ${((c - cpu) / 1e6).toFixed(1)} ms of CPU (monotonic ${lastMono} to ${mono} us)\n`)
      lastMono = mono
      cpu = c
    }, TICK_MS)
    this.timer.unref()
  }

  metricsText(): string[] {
    return [
      ...this.delay.text('kiln_event_loop_delay', `How late a ${TICK_MS} ms timer on the event loop fired (wall clock).`),
      ...(this.measuresCpu
        ? this.busy.text(
            'kiln_event_loop_busy',
            `Main-thread CPU time between two firings of a ${TICK_MS} ms timer: work that held the event loop.`,
          )
        : []),
    ]
  }

  stop(): void {
    clearInterval(this.timer)
    this.cpu?.close()
    this.cpu = undefined
  }
}
