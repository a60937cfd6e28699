/**
 * Fuzz: replies from a raw node:http2 server that frames, splits, mutates, truncates and ends them
 * every which way (seeded); each invoke must answer a status (never throw, hang or crash the run),
 * and an intact reply must decode to what was sent.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http2 from 'node:http2'
import { kilnRun, rng, workdir } from './helpers.ts'

const PROTO = `syntax = "proto3";
package fuzz;
message Req { string name = 1; }
message Reply { string greeting = 1; repeated int64 n = 2; }
service F { rpc Call(Req) returns (Reply); }
`
const CALLS = 60
const SEED = Number(process.env.KILN_FUZZ_SEED ?? 20261122)

/** Reply{greeting, n: [i, -i]} encoded by hand (field 1 string; field 2 packed varints). */
function reply(i: number): Buffer {
  const g = Buffer.from(`fuzz ${i}`)
  const varint = (v: bigint): number[] => {
    const out: number[] = []
    let x = BigInt.asUintN(64, v)
    for (; x > 0x7fn; x >>= 7n) out.push(Number((x & 0x7fn) | 0x80n))
    out.push(Number(x))
    return out
  }
  const packed = [...varint(BigInt(i)), ...varint(BigInt(-i))]
  return Buffer.from([0x0a, g.length, ...g, 0x12, packed.length, ...packed])
}

test(`invoke survives mangled replies (seed ${SEED}: KILN_FUZZ_SEED replays it)`, async () => {
  const kinds: string[] = []
  const server = http2.createServer()
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {}) // the resets this server sends itself
    const chunks: Buffer[] = []
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => {
      const body = Buffer.concat(chunks)
      const i = Number(body.subarray(7, 7 + body[6]!).toString()) // 5-byte prefix, tag, length, name
      const r = rng(SEED + i)
      const msg = reply(i)
      let frame = Buffer.concat([Buffer.from([0, 0, 0, 0, msg.length]), msg])
      const kind = ['intact', 'intact', 'mutated', 'truncated', 'status', 'no-trailers', 'reset', 'two-messages', 'http-status'][
        Math.floor(r() * 9)
      ]!
      kinds[i] = kind
      if (kind === 'mutated') for (let k = 0; k < 3; k++) frame[Math.floor(r() * frame.length)] = Math.floor(r() * 256)
      if (kind === 'truncated') frame = frame.subarray(0, Math.floor(r() * frame.length))
      if (kind === 'two-messages') frame = Buffer.concat([frame, frame])
      if (kind === 'reset') return stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR)
      if (kind === 'http-status') {
        stream.respond({ ':status': [404, 500, 503, 429][Math.floor(r() * 4)]! }, { endStream: true })
        return
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: kind !== 'no-trailers' })
      stream.on('wantTrailers', () => {
        const status = kind === 'status' ? ['3', '16', '99', 'x', ''][Math.floor(r() * 5)]! : '0'
        const message = ['bad%', '%E0%A4%A', 'ok%20fine', '\u00ff'.repeat(3)][Math.floor(r() * 4)]!
        stream.sendTrailers({ 'grpc-status': status, 'grpc-message': Buffer.from(message, 'latin1').toString('latin1') })
      })
      // The frame in 1–4 writes split at random points.
      let at = 0
      const pieces = 1 + Math.floor(r() * 4)
      for (let p = 1; p <= pieces; p++) {
        const end = p === pieces ? frame.length : Math.max(at, Math.floor(r() * frame.length))
        stream.write(frame.subarray(at, end))
        at = end
      }
      stream.end()
    })
    void headers
  })
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res))
  const addr = `127.0.0.1:${(server.address() as { port: number }).port}`
  try {
    const dir = workdir({
      'f.proto': PROTO,
      'script.js': `import grpc from 'k6/net/grpc'
const client = new grpc.Client()
client.load([], 'f.proto')
export const options = { iterations: 1 }
export default function () {
  client.connect(__ENV.ADDR, { plaintext: true })
  const out = []
  for (let i = 0; i < ${CALLS}; i++) {
    const r = client.invoke('fuzz.F/Call', { name: String(i) }, { timeout: '5s' })
    out.push([r.status, r.status === 0 ? r.message : r.error])
  }
  console.log('OUT ' + JSON.stringify(out))
}`,
    })
    const r = await kilnRun(['run', '-q', '--no-summary', '-e', `ADDR=${addr}`, 'script.js'], { cwd: dir })
    assert.equal(r.code, 0, r.stderr)
    assert.doesNotMatch(r.stderr, /ERRO/)
    const line = r.stderr.split('\n').find((l) => l.includes(' OUT '))!
    const out = JSON.parse(line.slice(line.indexOf(' OUT ') + 5).replace(/\s+source=console$/, '')) as [number, any][]
    assert.equal(out.length, CALLS)
    if (process.env.KILN_FUZZ_SHOW) console.error(out.map(([st], i) => `${kinds[i]}:${st}`).join(' '))
    out.forEach(([status, body], i) => {
      assert.ok(Number.isInteger(status) && status >= 0 && status <= 99, `call ${i} (${kinds[i]}): status ${status}`)
      if (kinds[i] === 'intact') assert.deepEqual([status, body], [0, { greeting: `fuzz ${i}`, n: [String(i), String(-i)] }], `call ${i}`)
      else if (status !== 0) assert.equal(typeof body.message, 'string', `call ${i} (${kinds[i]})`)
    })
  } finally {
    server.close()
  }
})
