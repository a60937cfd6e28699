import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { createServer } from 'node:http'
import { copyFileSync, readFileSync, statSync, truncateSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { kiln } from './cli.ts'
import { cProgram, perfUnavailable, work } from './recordings.ts'
import { framesOf } from './svg.ts'
import { nobodyCannotRun } from '../nobody.ts'

const bin = join(import.meta.dirname, '..', '..', 'bin', 'kiln.js')
const unavailable = perfUnavailable()
if (unavailable) console.log(`# skipping kiln profile recordings: ${unavailable}`)
const skip = unavailable ?? false

/** Runs kiln without blocking this process's event loop (a test server answers meanwhile). */
function kilnAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    c.stdout.on('data', (d) => (stdout += d))
    c.stderr.on('data', (d) => (stderr += d))
    c.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}

const sumCounts = (folded: string, re = /./) =>
  folded
    .trim()
    .split('\n')
    .filter((l) => re.test(l))
    .reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0)

test('kiln profile -- CMD writes an SVG flame graph of the command', { skip }, () => {
  const out = join(work, 'profile-c.svg')
  const r = kiln(['profile', '--frequency', '499', '--svg', out, '--', cProgram(), '100'])
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stderr, /wrote .*profile-c\.svg \((\d+) samples\)/)
  const frames = framesOf(readFileSync(out, 'latin1'))
  const names = new Set(frames.map((f) => f.name))
  for (const n of ['all', 'spin', 'main', 'spin_alpha', 'spin_beta', 'leaf_work'])
    assert.ok(names.has(n), `frame ${n} in ${[...names].join(',')}`)
  assert.match(frames[0]!.title, /^all \(\d+ samples, 100\.00%\)$/)
})

test('kiln profile --duration stops a command that would run forever; its output stays off the profile', { skip }, () => {
  const r = kiln(['profile', '--duration', '1s', '--frequency', '199', '--', 'sh', '-c', 'echo from-the-command; while :; do :; done'])
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stdout, /^sh;\S.* \d+$/m)
  assert.doesNotMatch(r.stdout, /from-the-command/)
  assert.match(r.stderr, /from-the-command/)
  const out = join(work, 'forever.svg')
  const s = kiln(['profile', '--duration', '1s', '--svg', out, '--', 'sh', '-c', 'echo from-the-command; while :; do :; done'])
  assert.equal(s.status, 0, s.stderr)
  assert.equal(s.stdout, 'from-the-command\n', 'with --svg the command keeps its stdout')
})

test('kiln profile --pid records a running Node process for --duration; JIT frames named', { skip }, async () => {
  const node = spawn(
    process.execPath,
    [
      '--perf-basic-prof',
      '-e',
      'function kilnPidLoop(n){let s=0;for(let i=0;i<n;i++)s+=Math.sqrt(i);return s}const t=Date.now();while(Date.now()-t<20000)kilnPidLoop(1e5)',
    ],
    { stdio: 'ignore' },
  )
  try {
    await new Promise((r) => setTimeout(r, 500))
    const r = await kilnAsync(['profile', '--pid', String(node.pid), '--duration', '1.5s', '--frequency', '199'])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^node;.*;JS:[^;]*\[eval\][^;]*( |;)/m, 'JS frames named from /tmp/perf-PID.map')
    // One count per sample: about frequency × duration samples, never periods in nanoseconds.
    const total = sumCounts(r.stdout)
    assert.ok(total > 20 && total < 199 * 1.5 * 1.5, `total ${total}`)
  } finally {
    node.kill()
  }
})

test('kiln profile --server pushes folded stacks to /ingest with name, from, until, format and sampleRate', { skip }, async () => {
  const seen: { method: string; url: URL; type: string; body: string }[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('latin1')
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      seen.push({ method: req.method!, url: new URL(req.url!, 'http://x'), type: req.headers['content-type'] ?? '', body })
      res.writeHead(seen.length === 1 ? 200 : 500).end(seen.length === 1 ? '' : 'store is down')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  try {
    const before = Math.floor(Date.now() / 1000)
    const r = await kilnAsync([
      'profile',
      '--server',
      url,
      '--name',
      'spin.cpu{env=test,host=ci}',
      '--frequency',
      '299',
      '--',
      cProgram(),
      '30',
    ])
    const after = Math.ceil(Date.now() / 1000)
    assert.equal(r.status, 0, r.stderr)
    assert.equal(seen.length, 1)
    const req = seen[0]!
    assert.equal(req.method, 'POST')
    assert.equal(req.url.pathname, '/ingest')
    assert.equal(req.url.searchParams.get('name'), 'spin.cpu{env=test,host=ci}')
    assert.equal(req.url.searchParams.get('format'), 'folded')
    assert.equal(req.url.searchParams.get('sampleRate'), '299')
    const from = Number(req.url.searchParams.get('from'))
    const until = Number(req.url.searchParams.get('until'))
    assert.ok(before <= from && from <= until && until <= after, `${before} ≤ ${from} ≤ ${until} ≤ ${after}`)
    const lines = req.body.trimEnd().split('\n')
    for (const l of lines) assert.match(l, /^spin;\S.* \d+$/)
    assert.match(req.body, /;spin_alpha;leaf_work \d+/)
    const pushed = Number(/pushed (\d+) samples/.exec(r.stderr)?.[1])
    assert.equal(sumCounts(req.body), pushed)
    // A server that answers 500: the message says so, the exit is non-zero.
    const bad = await kilnAsync(['profile', '--server', url, '--name', 'spin.cpu', '--frequency', '499', '--', cProgram(), '10'])
    assert.equal(bad.status, 1)
    assert.match(bad.stderr, /refused the profile: HTTP 500 store is down/)
  } finally {
    server.close()
  }
  const down = await kilnAsync(['profile', '--server', url, '--name', 'spin.cpu', '--frequency', '499', '--', cProgram(), '10'])
  assert.equal(down.status, 1)
  assert.match(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/)
})

test('kiln profile errors: missing pid, no permission, truncated perf data, usage', { skip }, () => {
  const missing = kiln(['profile', '--pid', '999999999', '--duration', '1s'])
  assert.equal(missing.status, 1)
  assert.match(missing.stderr, /no process with pid 999999999/)

  // An unprivileged user may not profile root's process (perf_event_paranoid ≥ 0 here).
  const sleeper = spawn('sleep', ['30'])
  try {
    const r = spawnSync(
      'setpriv',
      [
        '--reuid',
        '65534',
        '--regid',
        '65534',
        '--clear-groups',
        process.execPath,
        bin,
        'profile',
        '--pid',
        String(sleeper.pid),
        '--duration',
        '1s',
      ],
      { encoding: 'utf8', cwd: '/', timeout: 60000 },
    )
    if (r.error) console.log(`# setpriv unavailable: ${r.error.message}`)
    else if (nobodyCannotRun()) console.log(`# ${nobodyCannotRun()}: the no-permission case is not checked`)
    else {
      assert.equal(r.status, 1, r.stderr)
      assert.match(r.stderr, /perf has no permission to profile pid \d+: run kiln profile as root/)
    }
  } finally {
    sleeper.kill()
  }

  const cmdMissing = kiln(['profile', '--', join(work, 'no-such-program')])
  assert.equal(cmdMissing.status, 2)
  assert.match(cmdMissing.stderr, /cannot run .*no-such-program.*No such file/)

  // A perf.data cut short (perf killed, disk full): said plainly, not a partial graph.
  const data = join(work, 'whole.data')
  assert.equal(spawnSync('perf', ['record', '-q', '-F', '499', '-g', '-o', data, '--', cProgram(), '10']).status, 0)
  assert.equal(kiln(['profile', '--input', data]).status, 0)
  const cut = join(work, 'cut.data')
  for (const share of [0.95, 0.6, 0.2]) {
    copyFileSync(data, cut)
    truncateSync(cut, Math.floor(statSync(data).size * share))
    const t = kiln(['profile', '--input', cut])
    assert.equal(t.status, 1, `cut at ${share}`)
    assert.match(t.stderr, /cut\.data is truncated: its .* ends at byte \d+, the file has \d+ bytes; record again/)
  }
  truncateSync(cut, 20)
  assert.match(kiln(['profile', '--input', cut]).stderr, /not a perf\.data file/)

  for (const args of [
    [],
    ['--pid', 'abc'],
    ['--pid', '1', '--', 'ls'],
    ['--pid', '1', '--server', 'http://x'],
    ['--pid', '1', '--frequency', '0'],
    ['--pid', '1', '--svg', 'a.svg', '--server', 'http://x', '--name', 'a'],
  ]) {
    const u = kiln(['profile', ...args])
    assert.equal(u.status, 2, `${args.join(' ')}: ${u.stderr}`)
  }
})
