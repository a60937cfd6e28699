/**
 * Distributed runs (`kiln run --instances N`): instances as real `kiln run` processes against a
 * server on 127.0.0.1, their samples merged into one summary, one threshold verdict, one stored run.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startServer, kilnRun, workdir } from './helpers.ts'
import { startKiln, call } from '../server/helpers.ts'
import { freePorts } from '../../src/loadtest/run/coordinator.ts'

const kilnBin = join(import.meta.dirname, '..', '..', 'bin', 'kiln.js')

// 90 iterations shared by 6 VUs: whatever the split, the whole test makes exactly 90 requests, as
// one instance would. setup() runs once (in the coordinator) and its data reach every VU.
const SCRIPT = `import http from 'k6/http'
import { check } from 'k6'
export const options = {
  scenarios: { s: { executor: 'shared-iterations', vus: 6, iterations: 90 } },
  thresholds: { http_reqs: [__ENV.LIMIT ? 'count<' + __ENV.LIMIT : 'count>0'], checks: ['rate==1'] },
}
export function setup() { console.log('setup ran'); return { token: 'abc' } }
export default function (d) {
  const r = http.get(__ENV.URL + '?i=' + (__ENV.INSTANCE || ''))
  check(r, { 'ok with the setup data': (x) => x.status === 200 && d.token === 'abc' })
}
export function teardown(d) { console.log('teardown ran with ' + d.token) }
`

/** Exact percentile as k6 computes it: sorted values, linear interpolation at p·(n−1). */
function percentile(sorted: number[], p: number): number {
  const i = p * (sorted.length - 1)
  const lo = Math.floor(i)
  const a = sorted[lo]!
  const b = sorted[Math.min(lo + 1, sorted.length - 1)]!
  return a + (b - a) * (i - lo)
}

/** Every value of `metric` in a k6 JSON output file. */
function points(file: string, metric: string): number[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; metric: string; data: { value: number } })
    .filter((l) => l.type === 'Point' && l.metric === metric)
    .map((l) => l.data.value)
}

test('3 instances started elsewhere (--connect): merged counts are the sum, percentiles those of the pooled samples, one stored run', async () => {
  const target = await startServer()
  const kiln = await startKiln()
  const dir = workdir({ 'script.js': SCRIPT })
  try {
    const ports = await freePorts(3)
    // The instances, as a Kubernetes Job's pods would run them; each also writes its own samples.
    const instances = ports.map((port, i) =>
      kilnRun(
        [
          'run',
          '--instance',
          '--address',
          `127.0.0.1:${port}`,
          '--execution-segment',
          `${i}/3:${i + 1}/3`,
          '--execution-segment-sequence',
          '0,1/3,2/3,1',
          '-e',
          `URL=${target.url}/`,
          '-e',
          `INSTANCE=${i}`,
          '-o',
          `json=${join(dir, `i${i}.json`)}`,
          'script.js',
        ],
        { cwd: dir, timeoutMs: 400_000 },
      ),
    )
    const r = await kilnRun(
      [
        'run',
        '--instances',
        '3',
        '--connect',
        ports.map((p) => `127.0.0.1:${p}`).join(','),
        '-e',
        `URL=${target.url}/`,
        '-o',
        `kiln=${kiln.url}`,
        '--summary-export',
        join(dir, 'sum.json'),
        'script.js',
      ],
      { cwd: dir, timeoutMs: 400_000 },
    )
    const done = await Promise.all(instances)
    assert.equal(r.code, 0, r.stderr)
    for (const d of done) assert.equal(d.code, 0, d.stderr)
    assert.equal(r.stderr.match(/setup ran/g)?.length, 1, 'setup() runs once, in the coordinator')
    assert.equal(r.stderr.match(/teardown ran with abc/g)?.length, 1, 'teardown() runs once, with the setup data')
    for (const d of done) assert.doesNotMatch(d.stderr, /setup ran|teardown ran/)

    // Each instance did its third, and the merged count is their sum.
    const perInstance = [0, 1, 2].map((i) => points(join(dir, `i${i}.json`), 'http_reqs').length)
    assert.deepEqual(perInstance, [30, 30, 30])
    const sum = JSON.parse(readFileSync(join(dir, 'sum.json'), 'utf8'))
    assert.equal(sum.metrics.http_reqs.count, 90, 'merged http_reqs = 30 + 30 + 30 = the whole test')
    assert.equal(target.total(), 90)
    assert.equal(sum.metrics.iterations.count, 90)
    assert.equal(sum.metrics.checks.passes, 90, 'every VU got the setup data')
    assert.equal(sum.metrics.vus_max.max, 6, "vus_max is the instances' sum")

    // Percentiles of the merged trend are those of the pooled samples, not averages of each instance's.
    const pooled = [0, 1, 2].flatMap((i) => points(join(dir, `i${i}.json`), 'http_req_duration')).sort((a, b) => a - b)
    assert.equal(pooled.length, 90)
    const trend = sum.metrics.http_req_duration
    for (const [k, p] of [
      ['med', 0.5],
      ['p(90)', 0.9],
      ['p(95)', 0.95],
    ] as const)
      assert.equal(trend[k], percentile(pooled, p), `${k} of the pooled samples`)
    assert.equal(trend.min, pooled[0])
    assert.equal(trend.max, pooled[89])
    assert.ok(Math.abs(trend.avg - pooled.reduce((a, b) => a + b, 0) / 90) < 1e-9)

    // One run stored in Kiln (the instances store none), counting the whole test.
    const runs = await call(`${kiln.url}/api/v1/runs`)
    assert.equal(runs.json.length, 1, runs.text)
    const got = await call(`${kiln.url}/api/v1/runs/get?run=${runs.json[0].id}`)
    assert.equal(got.json.metrics.http_reqs.count, 90)
    assert.deepEqual(got.json.run.thresholds.map((t: { source: string; ok: boolean }) => [t.source, t.ok]).sort(), [
      ['count>0', true],
      ['rate==1', true],
    ])
  } finally {
    await target.close()
    await kiln.dispose()
  }
})

test('3 local instances: a threshold only the merged data cross exits 99', async () => {
  const target = await startServer()
  const dir = workdir({ 'script.js': SCRIPT })
  try {
    // Each instance makes 30 requests: count<60 holds for each, not for the 90 of the test.
    const r = await kilnRun(
      ['run', '--instances', '3', '-e', `URL=${target.url}/`, '-e', 'LIMIT=60', '--summary-export', join(dir, 'sum.json'), 'script.js'],
      { cwd: dir, timeoutMs: 400_000 },
    )
    assert.equal(r.code, 99, r.stderr)
    assert.match(r.stderr, /thresholds on metrics 'http_reqs' have been crossed/)
    assert.match(r.stdout, /✗ 'count<60' count=90/)
    assert.equal(target.total(), 90)
    const sum = JSON.parse(readFileSync(join(dir, 'sum.json'), 'utf8'))
    assert.equal(sum.metrics.http_reqs.count, 90)
    assert.equal(r.stderr.match(/instance \d\/3 \(segment [^)]+\): pid \d+/g)?.length, 3)
  } finally {
    await target.close()
  }
})

test('one instance dying fails the run, names it, and ends the others', async () => {
  const target = await startServer()
  const dir = workdir({
    'script.js': `import http from 'k6/http'
export const options = { vus: 3, duration: '2m' }
export default function () { http.get(__ENV.URL + 'slow?ms=100') }
`,
  })
  try {
    const p = spawn(process.execPath, [kilnBin, 'run', '--instances', '3', '-e', `URL=${target.url}/`, 'script.js'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    const pids: number[] = []
    p.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
      for (const m of stderr.matchAll(/instance (\d)\/3 \(segment [^)]+\): pid (\d+)/g)) pids[Number(m[1]) - 1] = Number(m[2])
    })
    // Once they run and have made requests, instance 2 is killed as an OOM killer would.
    let killed = false
    const watch = setInterval(() => {
      if (!killed && stderr.includes('started 3 instances together') && target.total() > 0 && pids[1]) {
        process.kill(pids[1], 'SIGKILL')
        killed = true
      }
    }, 100)
    const timer = setTimeout(() => p.kill('SIGKILL'), 400_000)
    const code = await new Promise<number | null>((r) => p.on('close', r))
    clearTimeout(timer)
    clearInterval(watch)
    assert.ok(killed, stderr)
    assert.equal(code, 109, stderr)
    assert.match(stderr, /instance 2\/3 \(segment 1\/3:2\/3\) exited \(signal SIGKILL\)/)
    assert.match(stderr, /its share of the test is missing, so the run fails/)
    for (const pid of [pids[0]!, pids[2]!]) assert.throws(() => process.kill(pid, 0), 'the other instances are gone')
  } finally {
    await target.close()
  }
})

test('coordinator flags are checked before anything starts', async () => {
  const dir = workdir({ 'script.js': 'export default function () {}\n' })
  for (const [args, message] of [
    [['--connect', '127.0.0.1:1'], /--connect needs --instances N/],
    [['--instances', '2', '--connect', '127.0.0.1:1'], /--connect names 1 instances, --instances says 2/],
    [['--instances', '2', '--execution-segment', '0:1/2'], /leave out --execution-segment/],
    [['--instances', '2', '--execution-segment-sequence', '0,1'], /must have 3 points for 2 instances/],
    [['--instance'], /--instance needs --address HOST:PORT/],
  ] as const) {
    const r = await kilnRun(['run', ...args, 'script.js'], { cwd: dir })
    assert.equal(r.code, 104, `${args.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, message)
  }
})
