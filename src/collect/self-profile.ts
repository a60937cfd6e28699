/**
 * The server profiles itself (CPU and heap, through V8's inspector: no native module) into its
 * own store, as service `kiln`, so a fresh `npm start` already has a service to look at.
 */
import { Session } from 'node:inspector/promises'
import { hostname } from 'node:os'
import { decodeCpuProfile, decodeHeapProfile, type CpuProfile, type HeapProfileNode } from '../formats/v8profile.ts'
import { makeLabels } from '../model/labels.ts'
import type { Ingester } from '../ingest/index.ts'

export interface SelfProfileOptions {
  ingest: Ingester
  /** The tenant the profiles are written to. */
  tenant: string
  log(msg: string): void
  periodMs?: number
  /** When the first profile is written (3 s by default), then every `periodMs`. */
  firstMs?: number
}

/** Starts profiling; every `periodMs` the last period's profiles are written. Returns a stop function. */
export async function startSelfProfiling(opts: SelfProfileOptions): Promise<() => Promise<void>> {
  const periodMs = opts.periodMs ?? 15_000
  const session = new Session()
  session.connect()
  // 10 ms (100 Hz), as Pyroscope's SDKs sample.
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 10_000 })
  await session.post('Profiler.start')
  await session.post('HeapProfiler.enable')
  await session.post('HeapProfiler.startSampling', { samplingInterval: 512 * 1024 })
  const labels = makeLabels([
    ['hostname', hostname()],
    ['pid', String(process.pid)],
  ])
  let stopped = false
  let busy: Promise<void> = Promise.resolve()
  let since = Date.now()

  const flush = async () => {
    const until = Date.now()
    const fromMs = since
    since = until
    const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: CpuProfile }
    if (!stopped) await session.post('Profiler.start')
    const heap = (await session.post('HeapProfiler.getSamplingProfile')) as unknown as { profile: { head: HeapProfileNode } }
    const meta = { app: 'kiln', labels, fromMs, untilMs: until, sampleRate: 100, spyName: 'kiln' }
    await opts.ingest.profile(opts.tenant, decodeCpuProfile(profile), meta)
    await opts.ingest.profile(opts.tenant, decodeHeapProfile(heap.profile.head, until), meta)
  }
  const tick = () => {
    busy = busy.then(flush).catch((e: unknown) => opts.log(`self-profiling: ${(e as Error).message}`))
  }
  // The first profile after 3 s: a fresh server has its own service to show within seconds, not
  // one period (15 s, plus the UI's next look) later.
  const first = setTimeout(tick, Math.min(opts.firstMs ?? 3_000, periodMs))
  first.unref()
  const timer = setInterval(tick, periodMs)
  timer.unref()
  return async () => {
    stopped = true
    clearTimeout(first)
    clearInterval(timer)
    await busy
    await session.post('Profiler.stop').catch(() => {})
    await session.post('HeapProfiler.stopSampling').catch(() => {})
    session.disconnect()
  }
}
