/** Uploads a user makes by hand (issue 12 §6): 413 every time, gzipped bodies, old recordings re-timed. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { startKiln, call, q, root, CPU, type TestServer } from '../server/helpers.ts'
import { encodePprof } from '../../src/formats/pprof.ts'
import { ProfileBuilder } from '../../src/model/profile.ts'

let kiln: TestServer
let dir: string
const kilnCli = (args: string[]) => {
  const r = spawnSync(process.execPath, [join(root, 'bin/kiln.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, KILN_SERVER: kiln.url },
    timeout: 120_000,
  })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

before(async () => {
  kiln = await startKiln(['--max-body-bytes', String(1 << 20)])
  dir = mkdtempSync(join(tmpdir(), 'kiln-by-hand-'))
})
after(async () => {
  await kiln?.dispose()
  rmSync(dir, { recursive: true, force: true })
})

test('a body over the limit gets its 413 every time, with or without a content-length', async () => {
  const big = Buffer.alloc(25 << 20, 0x61)
  for (let i = 0; i < 4; i++) {
    const r = await call(`${kiln.url}/ingest?${q({ name: 'big.cpu' })}`, { method: 'POST', body: big })
    assert.equal(r.status, 413, r.text)
    assert.equal(r.json.code, 'KILN_TOO_LARGE')
  }
  // Chunked: the limit is found while reading.
  const chunks = Array.from({ length: 25 }, () => Buffer.alloc(1 << 20, 0x61))
  const streamed = await call(`${kiln.url}/ingest?${q({ name: 'big.cpu' })}`, {
    method: 'POST',
    body: Readable.toWeb(Readable.from(chunks)) as ReadableStream,
    duplex: 'half',
  } as RequestInit)
  assert.equal(streamed.status, 413, streamed.text)
  assert.equal((await call(`${kiln.url}/ingest?${q({ name: 'small.cpu' })}`, { method: 'POST', body: 'main 1\n' })).status, 200)
})

test('kiln ingest: over the limit even gzipped is a 413 message (not EPIPE), every time; text is sent gzipped', async () => {
  // 24 MB of random hex: gzip only halves it, so it stays over the 1 MiB limit.
  const lines: string[] = []
  for (let i = 0; i < 200_000; i++) lines.push(`main;f${randomBytes(30).toString('hex')} ${1 + (i % 9)}`)
  writeFileSync(join(dir, 'huge.folded'), lines.join('\n') + '\n')
  for (let i = 0; i < 3; i++) {
    const r = kilnCli(['ingest', join(dir, 'huge.folded'), '--name', 'huge.cpu'])
    assert.equal(r.code, 1, r.err)
    assert.match(r.err, /413.*over the limit/, r.err)
    assert.doesNotMatch(r.err, /EPIPE|ECONNRESET|cannot reach/)
  }
  // 3 MB of repetitive folded text: over the 1 MiB limit raw, a few KiB gzipped.
  writeFileSync(join(dir, 'repetitive.folded'), 'main;loop;work 1\n'.repeat(180_000))
  const r = kilnCli(['ingest', join(dir, 'repetitive.folded'), '--name', 'rep.cpu'])
  assert.equal(r.code, 0, r.err)
  const top = await call(`${kiln.url}/api/v1/top?${q({ type: CPU, query: '{service_name="rep"}' })}`)
  assert.equal(top.json.rows.find((x: { name: string }) => x.name === 'work')?.self, 180_000 * 1e7)
})

test('an old recording is refused by retention with a hint, and stored as now with --at now (or --from)', async () => {
  const b = new ProfileBuilder({
    sampleTypes: [{ type: 'cpu', unit: 'nanoseconds' }],
    periodType: { type: 'cpu', unit: 'nanoseconds' },
    period: 10_000_000,
    timeMs: Date.UTC(2021, 5, 1),
    durationNanos: 10e9,
  })
  b.add([b.fn('main'), b.fn('old_work')], [50_000_000])
  writeFileSync(join(dir, 'old.pb.gz'), encodePprof(b.build(), { gzip: true }))
  const refused = kilnCli(['ingest', join(dir, 'old.pb.gz'), '--name', 'oldapp'])
  assert.equal(refused.code, 1)
  assert.match(refused.err, /older than the retention period.*kiln ingest --at now/)
  const atNow = kilnCli(['ingest', join(dir, 'old.pb.gz'), '--name', 'oldapp', '--at', 'now'])
  assert.equal(atNow.code, 0, atNow.err)
  const fromGiven = kilnCli(['ingest', join(dir, 'old.pb.gz'), '--name', 'oldapp2', '--from', 'now-5m'])
  assert.equal(fromGiven.code, 0, fromGiven.err)
  for (const svc of ['oldapp', 'oldapp2']) {
    const top = await call(`${kiln.url}/api/v1/top?${q({ type: CPU, query: `{service_name="${svc}"}`, from: 'now-10m' })}`)
    assert.equal(top.json.rows.find((x: { name: string }) => x.name === 'old_work')?.self, 50_000_000, svc)
  }
})
