/**
 * CPU overhead of @kiln/node on a CPU-bound app, against the same app without profiling and with
 * @pyroscope/nodejs at the same settings (100 Hz, heap sampling every 512 KiB, CPU and heap
 * profiles flushed every 2 s, wrapWithLabels around each unit of work); and @kiln/node with its
 * default heap interval (60 s), since each heap read through the inspector is a full GC. Each run is its own process doing a fixed amount of
 * work; the measure is process CPU time (user + system, all threads: V8's sampler included) per
 * unit, the median of interleaved rounds. Uploads go to a sink on loopback in this process.
 */
import { execFile } from 'node:child_process'
import { createServer } from 'node:http'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fmt, root } from './support.ts'

const units = Number(process.env.BENCH_UNITS ?? 8000)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)

const app = (mode: string) => `
${
  mode.startsWith('kiln')
    ? `import * as sdk from ${JSON.stringify(join(root, 'packages/node/src/index.ts'))}
sdk.init({ serverAddress: process.env.SINK, appName: 'bench', flushIntervalMs: 2000, samplingIntervalMicros: 10000, heapSamplingIntervalBytes: 524288, heapStackDepth: 64${mode === 'kiln' ? ', heapIntervalMs: 2000' : ''} })
await sdk.start()
const wrap = sdk.wrapWithLabels`
    : ''
}
${
  mode === 'pyroscope'
    ? `import { createRequire } from 'node:module'
const sdk = createRequire(import.meta.url)(${JSON.stringify(join(root, 'node_modules/@pyroscope/nodejs'))})
sdk.init({ serverAddress: process.env.SINK, appName: 'bench', flushIntervalMs: 2000,
  wall: { samplingDurationMs: 2000, samplingIntervalMicros: 10000, collectCpuTime: true }, heap: { samplingIntervalBytes: 524288, stackDepth: 64 } })
sdk.start()
const wrap = (labels, fn) => sdk.wrapWithLabels(labels, fn)`
    : ''
}
${mode === 'none' ? 'const wrap = (labels, fn) => fn()' : ''}
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2) }
function sortWork() { const a = Array.from({ length: 2000 }, (_, i) => (i * 7919) % 2003); return a.sort((x, y) => x - y)[1000] }
function textWork() { let s = ''; for (let i = 0; i < 300; i++) s += i.toString(36); return s.length }
function unit(i) { return fib(18) + sortWork() + textWork() + i }
let acc = 0
// Warm-up (JIT), not measured.
for (let i = 0; i < 300; i++) acc += wrap({ route: '/w' }, () => unit(i))
const c0 = process.cpuUsage()
const t0 = performance.now()
for (let i = 0; i < ${units}; i++) {
  acc += wrap({ route: i % 2 ? '/a' : '/b' }, () => unit(i))
  if (i % 50 === 0) await new Promise((r) => setImmediate(r))
}
const c = process.cpuUsage(c0)
const wallMs = performance.now() - t0
console.log(JSON.stringify({ cpuMs: (c.user + c.system) / 1000, wallMs, acc }))
${mode.startsWith('kiln') ? 'await sdk.stop(2000)' : mode === 'pyroscope' ? 'await sdk.stop()' : ''}
process.exit(0)
`

// The sink: answers every upload at once, as a healthy server would.
let uploads = 0
const sink = createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    uploads++
    res.writeHead(200, { 'content-length': 0 }).end()
  })
})
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()))
const SINK = `http://127.0.0.1:${(sink.address() as { port: number }).port}`
const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-sdk-'))
const modes = ['none', 'kiln', 'kiln-heap-60s', 'pyroscope'] as const
const results: Record<string, { cpuMs: number; wallMs: number }[]> = { none: [], kiln: [], 'kiln-heap-60s': [], pyroscope: [] }
try {
  for (const m of modes) writeFileSync(join(dir, `${m}.mts`), app(m))
  for (let r = 0; r < rounds; r++) {
    for (const m of modes) {
      // Async spawn: the sink in this process must keep answering while the child runs.
      const out = await new Promise<string>((resolve, reject) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', join(dir, `${m}.mts`)],
          { cwd: root, env: { ...process.env, SINK } },
          (err, stdout, stderr) => (err ? reject(new Error(`${m}: ${err.message}\n${stderr}`)) : resolve(stdout)),
        )
      })
      results[m]!.push(JSON.parse(out.trim().split('\n').pop()!))
    }
  }
} finally {
  sink.close()
  rmSync(dir, { recursive: true, force: true })
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const cpu = Object.fromEntries(modes.map((m) => [m, median(results[m]!.map((x) => x.cpuMs))])) as Record<(typeof modes)[number], number>
const wall = Object.fromEntries(modes.map((m) => [m, median(results[m]!.map((x) => x.wallMs))])) as Record<(typeof modes)[number], number>
console.log(`${units} units of CPU-bound work, ${rounds} interleaved rounds, medians; ${uploads} uploads received`)
for (const m of modes)
  console.log(
    `  ${m.padEnd(14)} CPU ${fmt(cpu[m], 0)} ms   wall ${fmt(wall[m], 0)} ms   CPU per unit ${fmt((cpu[m] / units) * 1000, 0)} µs`,
  )
console.log(
  `@kiln/node CPU overhead: ${fmt(((cpu.kiln - cpu.none) / cpu.none) * 100)}% (ratio to no profiling ${fmt(cpu.kiln / cpu.none, 3)})`,
)
console.log(
  `@kiln/node with its default heap interval (60 s: no heap read, so no forced GC, within a run): ${fmt(((cpu['kiln-heap-60s'] - cpu.none) / cpu.none) * 100)}% (ratio ${fmt(cpu['kiln-heap-60s'] / cpu.none, 3)})`,
)
console.log(
  `@pyroscope/nodejs CPU overhead: ${fmt(((cpu.pyroscope - cpu.none) / cpu.none) * 100)}% (ratio ${fmt(cpu.pyroscope / cpu.none, 3)})`,
)
console.log(
  `ratio @kiln/node / @pyroscope/nodejs CPU at the same settings: ${fmt(cpu.kiln / cpu.pyroscope, 3)}; with Kiln's default heap interval: ${fmt(cpu['kiln-heap-60s'] / cpu.pyroscope, 3)} (below 1: Kiln costs less)`,
)
