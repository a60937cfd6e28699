/**
 * @kiln/node: continuous profiling for Node.js. `init()` then `start()`; CPU, wall and heap
 * profiles go to the server every flush interval; `wrapWithLabels` adds dynamic labels.
 */
import { resolve, type Options } from './config.ts'
import { KilnProfiler } from './profiler.ts'

export type { Options } from './config.ts'
export { startPullServer, type PullOptions, type PullServer } from './pull.ts'

let profiler: KilnProfiler | null = null

/** Configures the SDK (options, else PYROSCOPE_* environment variables). Call once, before start. */
export function init(options: Options = {}): void {
  if (profiler?.running) throw new Error('@kiln/node: init() while profiling: call stop() first')
  profiler = new KilnProfiler(resolve(options))
}

/** Starts profiling. Resolves once the profilers run; never rejects for a server problem. */
export async function start(): Promise<void> {
  if (!profiler) throw new Error('@kiln/node: call init({ appName, serverAddress }) before start()')
  await profiler.start()
}

/** Stops profiling and sends what was collected, waiting at most `deadlineMs` (default 5000). */
export async function stop(deadlineMs?: number): Promise<void> {
  await profiler?.stop(deadlineMs)
}

/**
 * Runs `fn(...args)` with `labels` added to the CPU and wall samples taken while it runs: its
 * synchronous part, and its `await` continuations too with `init({ asyncLabels: true })`.
 */
export function wrapWithLabels<A extends unknown[], R>(labels: Record<string, string | number>, fn: (...args: A) => R, ...args: A): R {
  const t = profiler?.labels
  if (!t) return fn(...args)
  const prev = t.current
  const id = t.merged(labels)
  t.enter(id)
  try {
    const a = profiler!.asyncLabels
    return a ? a.run(id, () => fn(...args)) : fn(...args)
  } finally {
    t.enter(prev)
  }
}

/** The labels in force now (static tags are not included). */
export function getLabels(): Record<string, string> {
  const t = profiler?.labels
  return t ? Object.fromEntries(t.set(t.current)) : {}
}

/** Counters for monitoring the SDK itself: profiles sent and dropped. */
export function stats(): { sent: number; dropped: number } {
  return { sent: profiler?.exporter.sent ?? 0, dropped: profiler?.exporter.dropped ?? 0 }
}
