/** Shared by the benchmarks: realistic pprof bodies and a Kiln server process. */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawn, type ChildProcess } from 'node:child_process'
import { decodePprof, encodePprof } from '../src/formats/pprof.ts'

export const root = new URL('..', import.meta.url).pathname
/** pprof files made by the real tools (scripts/fixtures/make-pprof.sh; test/fixtures/README.md). */
export const fixtureDir = join(root, 'test', 'fixtures', 'pprof')

/** The repository's pprof fixtures (Go, @pyroscope/nodejs), re-timed to now and gzipped as SDKs send them. */
export function realisticBodies(): { name: string; body: Uint8Array; samples: number }[] {
  const files = ['cpu.pb.gz', 'heap.pb.gz', 'nodejs-wall.pb.gz', 'nodejs-heap.pb.gz', 'goroutine.pprof', 'block.pprof', 'mutex.pprof']
  return files.map((f) => {
    const p = decodePprof(readFileSync(join(fixtureDir, f)))
    p.timeMs = Date.now()
    return { name: f, body: encodePprof(p, { gzip: true }), samples: p.samples.length * p.sampleTypes.length }
  })
}

export const fmt = (n: number, d = 1) => n.toLocaleString('en-US', { maximumFractionDigits: d })

/**
 * The load-test target: a Node HTTP server answering "hello", in its own process (as the target
 * would be), so no client shares its event loop. It exits by itself after 10 minutes. `GET
 * /__count` answers how many other requests it has served (for rates over part of a run).
 */
export async function startHelloServer(dir: string): Promise<{ url: string; proc: ChildProcess }> {
  writeFileSync(
    join(dir, 'server.mjs'),
    `import http from 'node:http'
let n = 0
const s = http.createServer((req, res) => {
  if (req.url === '/__count') return res.end(String(n))
  n++
  res.end('hello')
})
s.listen(0, '127.0.0.1', () => console.log(s.address().port))
setTimeout(() => process.exit(0), 600000)`,
  )
  const proc = spawn(process.execPath, [join(dir, 'server.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<string>((r) => proc.stdout!.once('data', (d: Buffer) => r(d.toString().trim())))
  return { url: `http://127.0.0.1:${port}/`, proc }
}

/**
 * In-process contenders timed in interleaved rounds of ~50 ms each (so every one sees the same
 * machine noise) until BENCH_SECONDS (default 6) have passed; returns runs per second by name.
 */
export function interleavedRates(contenders: Record<string, () => unknown>, warmRuns = 10): Record<string, number> {
  const spent: Record<string, number> = {}
  const rounds: Record<string, number> = {}
  for (let warm = 0; warm < warmRuns; warm++) for (const run of Object.values(contenders)) run()
  const deadline = Date.now() + Number(process.env.BENCH_SECONDS ?? 6) * 1000
  while (Date.now() < deadline) {
    for (const [name, run] of Object.entries(contenders)) {
      const t0 = process.hrtime.bigint()
      let n = 0
      do {
        run()
        n++
      } while (process.hrtime.bigint() - t0 < 50_000_000n)
      spent[name] = (spent[name] ?? 0) + Number(process.hrtime.bigint() - t0) / 1e9
      rounds[name] = (rounds[name] ?? 0) + n
    }
  }
  return Object.fromEntries(Object.keys(contenders).map((name) => [name, rounds[name]! / spent[name]!]))
}
