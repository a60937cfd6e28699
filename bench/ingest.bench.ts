/**
 * Ingest throughput of one Kiln server process (pprof bodies as SDKs send them, over HTTP, each
 * acknowledged only once durable) against the bare cost of decoding the same bodies in one thread,
 * and against the HTTP floor: a bare Node server that reads each body and answers, driven by the
 * same client in interleaved slices.
 */
import { decodePprof } from '../src/formats/pprof.ts'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn, type ChildProcess } from 'node:child_process'
import { addTicks, client, hasWrk, kilnThreads, startFloor, threadTicks } from './ingest-clients.ts'
import { realisticBodies, fmt, root } from './support.ts'
import { hostileUploads } from '../test/server/hostile-bodies.ts'

/** A `kiln server` process on `dataDir` (KILN_BIN: another build's bin/kiln.js, to compare two commits with this same client). */
async function startKiln(dataDir: string): Promise<{ proc: ChildProcess; url: string }> {
  const bin = process.env.KILN_BIN ?? join(root, 'bin/kiln.js')
  const args = ['server', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--no-self-profile', '--retention', '0']
  const proc = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  const url = await new Promise<string>((resolve, reject) => {
    proc.stderr!.on('data', (d: Buffer) => {
      log += d
      const m = /listening on (http:\/\/\S+)/.exec(log)
      if (m) resolve(m[1]!.replace('localhost', '127.0.0.1'))
    })
    proc.on('exit', () => reject(new Error(log)))
  })
  return { proc, url }
}

// BENCH_HOSTILE=N: instead of throughput, how long /ready takes to answer (polled every 20 ms)
// while N uploads of 15 MB / 250,000 distinct folded stacks are in flight (issue 12 §3), and the
// server's own figures where it has them (kiln_event_loop_*: how late its timer fired, and the
// main thread's CPU time between two firings).
const hostile = Number(process.env.BENCH_HOSTILE ?? 0)
if (hostile) {
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-bench-hostile-'))
  const { proc, url } = await startKiln(dataDir)
  const bodies = hostileUploads(hostile)
  const t0 = performance.now()
  let finished = 0
  let failed = 0
  const uploads = bodies.map((body, i) =>
    fetch(`${url}/ingest?name=hostile${i}.cpu`, { method: 'POST', body })
      .then(
        async (r) => {
          await r.arrayBuffer()
          if (!r.ok) failed++
        },
        () => failed++,
      )
      .finally(() => finished++),
  )
  const ready: number[] = []
  while (finished < hostile) {
    const t = performance.now()
    await (await fetch(`${url}/ready`)).arrayBuffer()
    ready.push(performance.now() - t)
    await new Promise((r) => setTimeout(r, 20))
  }
  await Promise.all(uploads)
  const took = (performance.now() - t0) / 1000
  const metrics = await (await fetch(`${url}/metrics`)).text()
  proc.kill('SIGTERM')
  await new Promise((r) => proc.on('exit', r))
  rmSync(dataDir, { recursive: true, force: true })
  ready.sort((a, b) => a - b)
  const at = (q: number) => fmt(ready[Math.min(ready.length - 1, Math.floor(ready.length * q))]!, 0)
  const own = (name: string) => /^(\S+) (\S+)$/m.exec(metrics.split('\n').find((l) => l.startsWith(`${name} `)) ?? '')?.[2]
  console.log(`${hostile} uploads of ${fmt(bodies[0]!.length / 1e6)} MB (250,000 distinct stacks each) in ${fmt(took)} s, ${failed} failed`)
  console.log(`/ready while they were in flight: ${ready.length} answers, median ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`)
  const busy = own('kiln_event_loop_busy_max_seconds')
  if (busy)
    console.log(
      `server: longest turn ${fmt(Number(busy) * 1000, 0)} ms of main-thread CPU, timer late by up to ${fmt(Number(own('kiln_event_loop_delay_max_seconds')) * 1000, 0)} ms`,
    )
  process.exit(0)
}

const seconds = Number(process.env.BENCH_SECONDS ?? 10)
// Enough connections to keep the server busy: with 16 (the default before session 15) a request's
// durable ack (the decoding worker's queue, then the log's write) made each connection wait ~5 ms,
// and the rate measured that latency, not throughput (bench/README.md). Kiln is also driven with
// FEW connections, printed beside, for that latency-bound figure.
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 64)
const FEW = 16
const bodies = realisticBodies()

// 1. The limit: bare decode of the same bodies, one thread of this process, in bursts between the
// servers' slices (below) so that it sees the same machine as they do; 3 s in all at the default.
let decoded = 0
let decodedSamples = 0
let decodeMs = 0
const decodeFor = (ms: number) => {
  const t0 = performance.now()
  while (performance.now() - t0 < ms) {
    for (const b of bodies) {
      decodePprof(b.body)
      decoded++
      decodedSamples += b.samples
    }
  }
  decodeMs += performance.now() - t0
}
for (let i = 0; i < 5; i++) for (const b of bodies) decodePprof(b.body)
const samplesPerBody = bodies.reduce((n, b) => n + b.samples, 0) / bodies.length

// 2. Kiln and the two floors, each a process of its own; wrk (or this process) is the client.
const dataDir = mkdtempSync(join(tmpdir(), 'kiln-bench-ingest-'))
const { proc, url } = await startKiln(dataDir)
const floors = { bare: await startFloor(dataDir, 'bare'), decode: await startFloor(dataDir, 'decode') }
const drive = client(dataDir, bodies, concurrency)
const driveFew = concurrency === FEW ? undefined : client(dataDir, bodies, FEW)
// Servers do not outlive a bench that fails or is interrupted.
process.on('exit', () => [proc, floors.bare.proc, floors.decode.proc].forEach((p) => p.kill('SIGKILL')))
process.on('SIGINT', () => process.exit(130))
const servers = [
  { name: 'kiln', url, pid: proc.pid! },
  ...(driveFew ? [{ name: 'few', url, pid: proc.pid!, drive: driveFew }] : []),
  { name: 'bare', url: floors.bare.url, pid: floors.bare.proc.pid! },
  { name: 'decode', url: floors.decode.url, pid: floors.decode.proc.pid! },
]
const total = Object.fromEntries(
  servers.map((s) => [s.name, { ok: 0, failed: 0, seconds: 0, ticks: new Map<number, { name: string; ticks: number }>() }]),
)
// Warm-up (JIT, the engine's first parts), not counted.
for (const s of servers) await (s.drive ?? drive)(s.url, 1000)
// Interleaved 2 s slices, so all three see the same machine noise; each server's threads' CPU
// time is counted over its own slices.
for (let left = seconds * 1000; left > 0; left -= 2000) {
  decodeFor(600)
  for (const s of servers) {
    const before = threadTicks(s.pid)
    const d = await (s.drive ?? drive)(s.url, Math.min(2000, left))
    addTicks(total[s.name]!.ticks, before, threadTicks(s.pid))
    total[s.name]!.ok += d.ok
    total[s.name]!.failed += d.failed
    total[s.name]!.seconds += d.seconds
  }
}
for (const f of Object.values(floors)) f.proc.kill()
proc.kill('SIGTERM')
await new Promise((r) => proc.on('exit', r))
rmSync(dataDir, { recursive: true, force: true })

const decodeS = decodeMs / 1000
const decodeRate = decoded / decodeS
const rate = (name: string) => total[name]!.ok / total[name]!.seconds
/** Microseconds of CPU per answered request (ticks are 1/100 s). */
const perRequest = (ticks: number, name: string) => fmt((ticks * 1e4) / Math.max(1, total[name]!.ok), 0)
const cpu = (name: string) =>
  perRequest(
    [...total[name]!.ticks.values()].reduce((n, t) => n + t.ticks, 0),
    name,
  )
const threads = Object.entries(kilnThreads(proc.pid!, total.kiln!.ticks))
console.log(
  `bodies: ${bodies.length} realistic pprof files (${fmt(bodies.reduce((a, b) => a + b.body.length, 0) / bodies.length / 1024)} KiB gzipped on average)`,
)
console.log(
  `client: ${hasWrk ? 'wrk, 1 thread' : `Node's fetch in this process (${process.env.BENCH_CLIENT === 'node' ? 'BENCH_CLIENT=node' : 'no wrk found'})`}, ${concurrency} connections; ${seconds} s each in interleaved 2 s slices`,
)
console.log(
  `bare decode (1 thread, 0.6 s before each round of slices):   ${fmt(decodeRate)} profiles/s, ${fmt(decodedSamples / decodeS / 1e3)} k samples/s`,
)
console.log(
  `kiln ingest (durable ack): ${fmt(rate('kiln'))} profiles/s, ${fmt((rate('kiln') * samplesPerBody) / 1e3)} k samples/s, ${total.kiln!.failed} failed; CPU ${cpu('kiln')} us a request (${threads.map(([k, t]) => `${k} ${perRequest(t, 'kiln')}`).join(', ')})`,
)
if (driveFew)
  console.log(
    `kiln ingest, ${FEW} connections (bound by each request's latency): ${fmt(rate('few'))} profiles/s; CPU ${cpu('few')} us a request; ratio to the bare decode ${(rate('few') / decodeRate).toFixed(2)}`,
  )
console.log(`floor, bare Node server reading each body: ${fmt(rate('bare'))} requests/s; CPU ${cpu('bare')} us a request`)
console.log(`floor + decode in a worker thread: ${fmt(rate('decode'))} requests/s; CPU ${cpu('decode')} us a request`)
console.log(`ratio ingest / bare decode: ${(rate('kiln') / decodeRate).toFixed(2)}`)
console.log(
  `ratio ingest / floor: ${(rate('kiln') / rate('bare')).toFixed(2)}; / floor + decode: ${(rate('kiln') / rate('decode')).toFixed(2)}`,
)
console.log(
  `ratio floor / bare decode: ${(rate('bare') / decodeRate).toFixed(2)}; floor + decode / bare decode: ${(rate('decode') / decodeRate).toFixed(2)}`,
)
