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
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { realisticBodies, fmt, root } from './support.ts'

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
const proc = spawn(
  process.execPath,
  // KILN_BIN: another build's bin/kiln.js, to compare two commits with this same client.
  [
    process.env.KILN_BIN ?? join(root, 'bin/kiln.js'),
    'server',
    '--port',
    '0',
    '--host',
    '127.0.0.1',
    '--data-dir',
    dataDir,
    '--no-self-profile',
  ],
  { stdio: ['ignore', 'ignore', 'pipe'] },
)
let log = ''
const url = await new Promise<string>((resolve, reject) => {
  proc.stderr!.on('data', (d: Buffer) => {
    log += d
    const m = /listening on (http:\/\/\S+)/.exec(log)
    if (m) resolve(m[1]!.replace('localhost', '127.0.0.1'))
  })
  proc.on('exit', () => reject(new Error(log)))
})
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
