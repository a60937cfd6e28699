/**
 * Merged flame graph over one hour of 100 series at 10 s intervals (36,000 profiles), through
 * Kiln's whole query path, against a bare ClickHouse `GROUP BY stack_id` over the same rows in the
 * same engine; then the bytes stored per sample; then the scale curve (bench/query-scale.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore, type SeriesWrite } from '../src/store/index.ts'
import { makeLabels } from '../src/model/labels.ts'
import { flameGraph } from '../src/model/flamegraph.ts'
import { fmt } from './support.ts'
import { bareGroupBy, scaleCurve } from './query-scale.ts'

const SERIES = 100
const STEPS = Number(process.env.BENCH_STEPS ?? 360) // one hour at 10 s
const STACKS_PER_PROFILE = Number(process.env.BENCH_STACKS ?? 150)
const TYPE = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds'

// A synthetic program: 400 functions, 3,000 distinct stacks 8–32 frames deep (root first).
let seed = 42
const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff
const functions = ['', ...Array.from({ length: 400 }, (_, i) => `pkg${i % 23}.(*Type${i % 37}).method${i}`)]
const stacks = Array.from({ length: 3000 }, () => {
  const depth = 8 + Math.floor(rand() * 24)
  const s = [1 + Math.floor(rand() * 3)]
  for (let d = 1; d < depth; d++) s.push(1 + Math.floor(rand() * 400))
  return s
})

const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-query-'))
const store = await openStore({ dataDir: dir, retentionDays: 0 })
const t0 = Date.UTC(2026, 0, 1, 12)
const loadStart = performance.now()
let rows = 0
for (let step = 0; step < STEPS; step++) {
  const writes: SeriesWrite[] = []
  for (let s = 0; s < SERIES; s++) {
    const picked: number[][] = []
    const values: number[] = []
    for (let k = 0; k < STACKS_PER_PROFILE; k++) {
      // Zipf-like: a few stacks are hot, as in real profiles.
      picked.push(stacks[Math.floor(stacks.length * rand() ** 3)]!)
      values.push(10_000_000 * (1 + Math.floor(rand() * 20)))
    }
    writes.push({
      profileType: TYPE,
      labels: makeLabels([
        ['__name__', 'process_cpu'],
        ['service_name', `svc${s % 10}`],
        ['pod', `pod-${s}`],
      ]),
      timeMs: t0 + step * 10_000,
      durationNs: 10e9,
      functions,
      stacks: picked,
      values,
    })
    rows += STACKS_PER_PROFILE
  }
  await store.writer.write('bench', writes)
  if (step % 60 === 59) process.stderr.write(`loaded ${step + 1}/${STEPS} steps\n`)
}
const loadS = (performance.now() - loadStart) / 1000
await store.client.command({ query: 'OPTIMIZE TABLE kiln.samples FINAL' })
const sampleRows = (await store.stats()).find((t) => t.table === 'samples')!.rows

const sel = { tenant: 'bench', profileType: TYPE, matchers: [], from: t0, until: t0 + 3_600_000 }
const timed = async (f: () => Promise<unknown>) => {
  const s = performance.now()
  await f()
  return performance.now() - s
}
const median = (t: number[]) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)]!
// The first read fetches the stacks and names; later ones find them cached (they never change).
const cold = await timed(async () => flameGraph(await store.reader.mergedTree(sel), 8192))
const sel10 = { ...sel, matchers: [{ name: 'service_name', op: '=' as const, value: 'svc3' }] }
// Interleaved, so that the load of a shared machine falls on all three alike.
const times = { kiln: [] as number[], bare: [] as number[], kiln10: [] as number[] }
for (let i = 0; i < 7; i++) {
  times.kiln.push(await timed(async () => flameGraph(await store.reader.mergedTree(sel), 8192)))
  times.bare.push(await timed(() => bareGroupBy(store, sel)))
  times.kiln10.push(await timed(async () => flameGraph(await store.reader.mergedTree(sel10), 8192)))
}
const kiln = median(times.kiln)
const bare = median(times.bare)
const kiln10 = median(times.kiln10)

const stats = await store.stats()
const bytes = (t: string) => stats.find((s) => s.table === t)?.bytes ?? 0
const all = stats.reduce((a, s) => a + s.bytes, 0)
console.log(
  `data: ${SERIES} series × ${STEPS} profiles (1 h at 10 s), ${STACKS_PER_PROFILE} stacks each = ${fmt(rows, 0)} samples (${fmt(sampleRows, 0)} rows after merging); loaded in ${fmt(loadS)} s (${fmt(rows / loadS / 1e3)} k samples/s)`,
)
console.log(`bare ClickHouse GROUP BY stack_id: ${fmt(bare)} ms`)
console.log(`kiln merged flame graph (SQL merge + stacks + names + tree + levels, max 8192 nodes): ${fmt(kiln)} ms`)
console.log(`kiln, first read (stacks and names not cached yet): ${fmt(cold)} ms, ratio ${(cold / bare).toFixed(2)}`)
console.log(`kiln merged flame graph for 10 of the 100 series (selector {service_name="svc3"}): ${fmt(kiln10)} ms`)
console.log(`ratio kiln / bare GROUP BY: ${(kiln / bare).toFixed(2)}`)
console.log(
  `bytes per sample: ${(bytes('samples') / sampleRows).toFixed(2)} in the samples table, ${(all / sampleRows).toFixed(2)} with stacks, functions, series and profiles`,
)
if (process.env.BENCH_SCALE !== '0') await scaleCurve(store, { functions, stacks, type: TYPE })
await store.close()
rmSync(dir, { recursive: true, force: true })
