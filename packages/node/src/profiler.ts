/** The SDK's lifecycle: profile continuously, and every flush interval queue pprof uploads. */
import { hostname } from 'node:os'
import { encodePprof } from './pprof.ts'
import { Exporter } from './exporter.ts'
import { LabelTimeline } from './labels.ts'
import { AsyncLabels } from './async-labels.ts'
import { SpanTracking } from './spans.ts'
import { Aggregate, V8Session, cpuPprof, foldCpu, foldHeap, heapPprof } from './v8.ts'
import type { Config } from './config.ts'

export class KilnProfiler {
  readonly labels = new LabelTimeline()
  asyncLabels: AsyncLabels | null = null
  private spans: SpanTracking | null = null
  readonly exporter: Exporter
  private session: V8Session | null = null
  private timer: NodeJS.Timeout | null = null
  private agg = new Aggregate()
  private windowStartMs = 0
  private lastHeapMs = 0
  // Profiler calls run one after another: a cut never overlaps a flush or a stop.
  private chain: Promise<unknown> = Promise.resolve()

  constructor(readonly config: Config) {
    this.exporter = new Exporter({ ...config, log: config.logger })
    this.labels.onFull = () => void this.serial(() => this.cut())
  }

  get running(): boolean {
    return this.session !== null
  }

  /** Starts the profilers and the flush timer. */
  async start(): Promise<void> {
    if (this.session) return
    const session = (this.session = new V8Session())
    const c = this.config
    await session.startCpu(c.samplingIntervalMicros)
    if (c.heap) await session.startHeap(c.heapSamplingIntervalBytes, c.heapStackDepth)
    this.labels.start()
    if (c.spanProfiles) this.spans = await SpanTracking.start(this.labels, c.logger)
    if (c.asyncLabels || this.spans) this.asyncLabels = new AsyncLabels(this.labels, this.spans?.active)
    this.windowStartMs = this.lastHeapMs = Date.now()
    this.timer = setInterval(() => void this.serial(() => this.flush()), c.flushIntervalMs)
    // The profiler never keeps an application alive.
    this.timer.unref()
  }

  /** Stops profiling, sends the last period and waits (at most `deadlineMs`) for the queue. */
  async stop(deadlineMs = 5000): Promise<void> {
    if (!this.session) return
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    await this.serial(() => this.flush(true))
    await this.serial(async () => {
      await this.session?.close()
      this.session = null
      this.asyncLabels?.disable()
      this.asyncLabels = null
      this.spans?.stop()
      this.spans = null
      this.labels.stop()
    })
    await this.exporter.flush(deadlineMs)
  }

  private serial<T>(f: () => Promise<T>): Promise<T | undefined> {
    const next = this.chain.then(f).catch((e: unknown) => {
      this.config.logger(`@kiln/node: profiling error: ${(e as Error).message}`)
      return undefined
    })
    this.chain = next
    return next
  }

  /** Folds the CPU profile so far into the aggregate and restarts it (bounds the label timeline). */
  private async cut(last = false): Promise<void> {
    if (!this.session) return
    const p = await this.session.stopCpu(!last)
    foldCpu(p, this.agg, this.labels.labelsCursor())
    this.labels.forget(p.endTime)
  }

  private async flush(last = false): Promise<void> {
    if (!this.session) return
    await this.cut(last)
    const until = Date.now()
    const from = this.windowStartMs
    const c = this.config
    const name = seriesName(c)
    if (this.agg.samples.size) {
      this.exporter.push({
        name,
        pprof: encodePprof(cpuPprof(this.agg, from, until, c.samplingIntervalMicros)),
        fromMs: from,
        untilMs: until,
        sampleRate: Math.round(1e6 / c.samplingIntervalMicros),
      })
    }
    this.agg = new Aggregate()
    this.windowStartMs = until
    // At most one heap read per heapIntervalMs (each is a full GC), and one at the end.
    if (c.heap && (last || until - this.lastHeapMs >= c.heapIntervalMs - c.flushIntervalMs / 2)) {
      this.lastHeapMs = until
      const heap = new Aggregate()
      foldHeap(await this.session.heap(), c.heapSamplingIntervalBytes, heap)
      if (heap.samples.size)
        this.exporter.push({ name, pprof: encodePprof(heapPprof(heap, until, c.heapSamplingIntervalBytes)), fromMs: from, untilMs: until })
    }
    if (this.labels.dropped) {
      c.logger(
        `@kiln/node: ${this.labels.dropped} label changes not recorded (over 1,000,000 in one period); samples after them keep the earlier labels`,
      )
      this.labels.dropped = 0
    }
  }
}

/** `app{k=v,…}` as /ingest takes it: static tags plus the host name, as Pyroscope's SDKs add. */
export function seriesName(c: Config): string {
  const tags: Record<string, string> = { hostname: hostname(), ...c.tags }
  const pairs = Object.entries(tags).map(([k, v]) => `${k}=${String(v).replace(/[,{}=]/g, '_')}`)
  return `${c.appName}{${pairs.join(',')}}`
}
