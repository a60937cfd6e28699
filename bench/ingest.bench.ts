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
import { writeFileSync } from 'node:fs'
import { realisticBodies, fmt, root } from './support.ts'

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
  const bodies = Array.from({ length: hostile }, (_, u) =>
    Buffer.from(
      Array.from(
        { length: 250_000 },
        (_, i) => `main;http.handler${i % 5000};service.work_${u}_${i};leaf_function_${i % 97} ${1 + (i % 7)}`,
      ).join('\n'),
    ),
  )
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
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16)
const bodies = realisticBodies()

// 1. The limit: bare decode of the same bodies, one thread.
let decoded = 0
let decodedSamples = 0
for (let i = 0; i < 5; i++) for (const b of bodies) decodePprof(b.body)
const t0 = performance.now()
while (performance.now() - t0 < 3000) {
  for (const b of bodies) {
    decodePprof(b.body)
    decoded++
    decodedSamples += b.samples
  }
}
const decodeS = (performance.now() - t0) / 1000
const decodeRate = decoded / decodeS

// 2. Kiln: a server in its own process; this process is the client.
const dataDir = mkdtempSync(join(tmpdir(), 'kiln-bench-ingest-'))
const { proc, url } = await startKiln(dataDir)
// The HTTP floor: reads the body, answers 200 — what the HTTP round trips alone cost here.
writeFileSync(
  join(dataDir, 'floor.mjs'),
  `import http from 'node:http'
const s = http.createServer((req, res) => { req.on('data', () => {}); req.on('end', () => res.end('{}')) })
s.listen(0, '127.0.0.1', () => console.log(s.address().port))
setTimeout(() => process.exit(0), 600000)`,
)
const floorProc = spawn(process.execPath, [join(dataDir, 'floor.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] })
const floorUrl = `http://127.0.0.1:${await new Promise<string>((r) => floorProc.stdout!.once('data', (d: Buffer) => r(d.toString().trim())))}`

/** Posts the bodies from `concurrency` clients for `ms`; counts the answers 200. */
async function drive(base: string, ms: number) {
  let sent = 0
  let samples = 0
  let failed = 0
  const deadline = performance.now() + ms
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      let i = w
      while (performance.now() < deadline) {
        const b = bodies[i++ % bodies.length]!
        const r = await fetch(`${base}/ingest?name=bench${w % 4}{worker=w${w}}&format=pprof&spyName=gospy`, {
          method: 'POST',
          body: Buffer.from(b.body),
        })
        await r.arrayBuffer()
        if (r.ok) {
          sent++
          samples += b.samples
        } else failed++
      }
    }),
  )
  return { sent, samples, failed }
}

// Interleaved 2 s slices, Kiln then the floor, so both see the same machine noise.
let sent = 0
let sentSamples = 0
let failed = 0
let floorSent = 0
let ingestS = 0
let floorS = 0
for (let left = seconds * 1000; left > 0; left -= 2000) {
  let t = performance.now()
  const k = await drive(url, Math.min(2000, left))
  ingestS += (performance.now() - t) / 1000
  sent += k.sent
  sentSamples += k.samples
  failed += k.failed
  t = performance.now()
  floorSent += (await drive(floorUrl, Math.min(2000, left))).sent
  floorS += (performance.now() - t) / 1000
}
floorProc.kill()
proc.kill('SIGTERM')
await new Promise((r) => proc.on('exit', r))
rmSync(dataDir, { recursive: true, force: true })

const ingestRate = sent / ingestS
console.log(
  `bodies: ${bodies.length} realistic pprof files (${fmt(bodies.reduce((a, b) => a + b.body.length, 0) / bodies.length / 1024)} KiB gzipped on average)`,
)
console.log(`bare decode (1 thread):   ${fmt(decodeRate)} profiles/s, ${fmt(decodedSamples / decodeS / 1e3)} k samples/s`)
console.log(
  `kiln ingest (HTTP, ${concurrency} clients, durable ack): ${fmt(ingestRate)} profiles/s, ${fmt(sentSamples / ingestS / 1e3)} k samples/s, ${failed} failed`,
)
console.log(`HTTP floor (bare Node server, same client): ${fmt(floorSent / floorS)} requests/s`)
console.log(`ratio ingest / bare decode: ${(ingestRate / decodeRate).toFixed(2)}`)
console.log(`ratio ingest / HTTP floor: ${(ingestRate / (floorSent / floorS)).toFixed(2)}`)
