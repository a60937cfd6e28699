import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { startKiln, fixtures, root, type TestServer } from '../server/helpers.ts'
import { decodePprof } from '../../src/formats/pprof.ts'
import { toFolded } from '../../src/model/profile.ts'

let kiln: TestServer
let dir: string
const kilnCli = (args: string[], input?: string) => {
  const r = spawnSync(process.execPath, [join(root, 'bin/kiln.js'), ...args], {
    encoding: 'utf8',
    input,
    env: { ...process.env, KILN_SERVER: kiln.url },
    timeout: 60_000,
  })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

before(async () => {
  kiln = await startKiln(['--retention', '0'])
  dir = mkdtempSync(join(tmpdir(), 'kiln-cli-'))
})
after(async () => {
  await kiln?.dispose()
  rmSync(dir, { recursive: true, force: true })
})

test('kiln ingest sniffs folded, perf script and pprof; kiln query prints a top table', async () => {
  writeFileSync(join(dir, 'app.folded'), 'main;parse 30\nmain;compute;sqrt 70\n')
  const perf = [
    'myprog 1234 100.000001:     250000 cpu-clock:',
    '\t    55d0 hot (/usr/bin/myprog)',
    '\t    5600 main (/usr/bin/myprog)',
    '',
    'myprog 1234 100.000002:     250000 cpu-clock:',
    '\t    5600 main (/usr/bin/myprog)',
    '',
    '',
  ].join('\n')
  writeFileSync(join(dir, 'rec.perf'), perf)
  let r = kilnCli(['ingest', join(dir, 'app.folded'), '--name', 'cliapp.cpu{env=test}'])
  assert.equal(r.code, 0, r.err)
  assert.match(r.err, /sent as folded/)
  r = kilnCli(['ingest', join(dir, 'rec.perf'), '--name', 'perfapp.cpu', '--sample-rate', '4000'])
  assert.equal(r.code, 0, r.err)
  assert.match(r.err, /sent as folded/)
  r = kilnCli(['query', '{service_name="cliapp"}'])
  assert.equal(r.code, 0, r.err)
  const lines = r.out.trim().split('\n')
  assert.match(lines[0]!, /^process_cpu:cpu:nanoseconds:cpu:nanoseconds  total 1 s$/)
  assert.match(lines[2]!, /^\s*700 ms\s+70\.00%\s+700 ms\s+70\.00%\s+sqrt$/)
  r = kilnCli(['query', '{service_name="perfapp"}', '--format', 'folded'])
  assert.equal(r.code, 0, r.err)
  assert.equal(r.out, 'myprog;main 250000\nmyprog;main;hot 250000\n', 'cpu-clock periods are nanoseconds: 2 samples of 250 µs')
})

test('kiln query exports pprof and speedscope files that decode to the same stacks', async () => {
  const out = join(dir, 'x.pb.gz')
  let r = kilnCli(['query', '{service_name="cliapp"}', '--format', 'pprof', '-o', out])
  assert.equal(r.code, 0, r.err)
  assert.equal(toFolded(decodePprof(readFileSync(out))), 'main;compute;sqrt 700000000\nmain;parse 300000000\n')
  r = kilnCli(['query', '{service_name="cliapp"}', '--format', 'speedscope'])
  const ss = JSON.parse(r.out)
  assert.equal(
    ss.profiles[0].weights.reduce((a: number, b: number) => a + b, 0),
    1e9,
  )
  assert.ok(gunzipSync(readFileSync(out)).length > 0)
})

test('kiln ingest of a pprof fixture; errors say what to do and exit non-zero', async () => {
  let r = kilnCli(['ingest', join(fixtures, 'pprof', 'heap.pb.gz'), '--name', 'heapapp', '--from', 'now'])
  assert.equal(r.code, 0, r.err)
  assert.match(r.err, /sent as pprof/)
  r = kilnCli(['query', '{service_name="heapapp"}', '--from', 'now-30y'])
  assert.equal(r.code, 2, 'several types: asks for --type')
  assert.match(r.err, /--type/)
  r = kilnCli(['query', '{service_name="heapapp"}', '--type', 'memory:inuse_space:bytes:space:bytes', '--from', 'now-30y'])
  assert.equal(r.code, 0, r.err)
  assert.match(r.out, /iB/)
  r = kilnCli(['query', '{a='])
  assert.equal(r.code, 1)
  assert.match(r.err, /selector/)
  r = kilnCli(['ingest', join(dir, 'missing.pb')])
  assert.notEqual(r.code, 0)
  assert.match(r.err, /cannot read/)
  writeFileSync(join(dir, 'junk.bin'), Buffer.from([0, 1, 2, 3, 0xff]))
  r = kilnCli(['ingest', join(dir, 'junk.bin')])
  assert.notEqual(r.code, 0)
  r = kilnCli(['query', '{}', '--server', 'http://127.0.0.1:1'])
  assert.equal(r.code, 1)
  assert.match(r.err, /cannot reach Kiln/)
  r = kilnCli(['ingest', '--help'])
  assert.equal(r.code, 0)
  assert.match(r.out, /Usage: kiln ingest/)
  r = kilnCli(['query', '--bogus'])
  assert.equal(r.code, 2)
})
