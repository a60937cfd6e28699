/** Scenarios and executors, CLI flags and outputs, Ctrl-C: counted against what the server saw. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startServer, kilnRun, workdir, type TestServer } from './helpers.ts'

let srv: TestServer
before(async () => {
  srv = await startServer()
})
after(() => srv.close())

interface Point {
  metric: string
  type: string
  data: { value: number; tags: Record<string, string>; name?: string }
}
const points = (file: string): Point[] =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Point)

/** Sum of a metric's points by the value of one tag. */
function sumBy(ps: Point[], metric: string, tag: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const p of ps)
    if (p.type === 'Point' && p.metric === metric) out[p.data.tags[tag] ?? ''] = (out[p.data.tags[tag] ?? ''] ?? 0) + p.data.value
  return out
}

test('every executor schedules k6 iteration counts; exec, env, tags and startTime apply; arrival-rate counts dropped iterations', async () => {
  srv.hits.clear()
  const dir = workdir({
    'script.js': `import http from 'k6/http'
import { sleep } from 'k6'
import exec from 'k6/execution'
export const options = { scenarios: {
  car: { executor: 'constant-arrival-rate', rate: 10, timeUnit: '1s', duration: '1s', preAllocatedVUs: 3, exec: 'hit', tags: { kind: 'rate' } },
  drop: { executor: 'constant-arrival-rate', rate: 10, timeUnit: '1s', duration: '1s', preAllocatedVUs: 1, maxVUs: 1, exec: 'slow' },
  rar: { executor: 'ramping-arrival-rate', startRate: 0, timeUnit: '1s', stages: [{ duration: '1s', target: 20 }], preAllocatedVUs: 3, exec: 'hit' },
  pvi: { executor: 'per-vu-iterations', vus: 3, iterations: 2, exec: 'hit', env: { WHO: 'pvi' } },
  shi: { executor: 'shared-iterations', vus: 2, iterations: 5, exec: 'hit', startTime: '300ms' },
  rvu: { executor: 'ramping-vus', startVUs: 0, stages: [{ duration: '300ms', target: 2 }, { duration: '300ms', target: 2 }], exec: 'hit' },
  cvu: { executor: 'constant-vus', vus: 2, duration: '500ms', exec: 'hit' },
  ext: { executor: 'externally-controlled', vus: 1, maxVUs: 2, duration: '500ms', exec: 'hit' },
} }
export function hit() { http.get(__ENV.BASE + '/' + exec.scenario.name + (__ENV.WHO ? '-' + __ENV.WHO : '')); sleep(0.005) }
export function slow() { sleep(0.45) }
export default function () { throw new Error('default is not used') }`,
  })
  const r = await kilnRun(
    ['run', '-q', '--no-summary', '-e', `BASE=${srv.url}`, '-o', 'json=out.json', '--summary-export', 's.json', 'script.js'],
    { cwd: dir },
  )
  assert.equal(r.code, 0, r.stderr)
  const ps = points(join(dir, 'out.json'))
  const it = sumBy(ps, 'iterations', 'scenario')
  const dropped = sumBy(ps, 'dropped_iterations', 'scenario')
  // Arrival-rate: every scheduled start is an iteration or a dropped one.
  assert.equal((it.car ?? 0) + (dropped.car ?? 0), 10)
  assert.equal((it.rar ?? 0) + (dropped.rar ?? 0), 10, '∫ 0→20/s over 1 s = 10 starts')
  assert.equal((it.drop ?? 0) + (dropped.drop ?? 0), 10)
  assert.ok((dropped.drop ?? 0) >= 7, `one busy VU drops most of 10 starts (dropped ${dropped.drop})`)
  assert.equal(it.pvi, 6, '3 VUs × 2 iterations')
  assert.equal(srv.hits.get('/pvi-pvi'), 6, 'scenario env reaches __ENV')
  assert.equal(it.shi, 5)
  assert.equal(srv.hits.get('/shi'), 5)
  assert.ok((it.rvu ?? 0) > 0 && (it.cvu ?? 0) > 0 && (it.ext ?? 0) > 0)
  assert.equal(srv.hits.get('/car'), it.car)
  // Scenario tags and the scenario tag are on every sample of that scenario.
  assert.ok(ps.some((p) => p.type === 'Point' && p.metric === 'http_reqs' && p.data.tags.scenario === 'car' && p.data.tags.kind === 'rate'))
  assert.ok(!ps.some((p) => p.type === 'Point' && p.metric === 'http_reqs' && p.data.tags.scenario !== 'car' && p.data.tags.kind))
  const sum = JSON.parse(readFileSync(join(dir, 's.json'), 'utf8'))
  assert.equal(sum.metrics.http_reqs.count, srv.total())
  assert.ok(sum.metrics.vus.max <= sum.metrics.vus_max.max)
})

test('k6 CLI forms work as written: -u -i, -u 0 -s …, -d, --tag, -o csv, --summary-trend-stats, -c config', async () => {
  srv.hits.clear()
  const dir = workdir({
    'test.js': `import http from 'k6/http'
export const options = { scenarios: { x: { executor: 'per-vu-iterations', vus: 5, iterations: 5 } }, tags: { from: 'script' } }
export default function () { http.get(__ENV.BASE + '/cli') }`,
    'config.json': JSON.stringify({ summaryTrendStats: ['avg', 'p(99)', 'count'] }),
  })
  const env = ['-e', `BASE=${srv.url}`]
  const a = await kilnRun(['run', '-u', '2', '-i', '4', ...env, '--tag', 'run=a', '-o', 'csv=out.csv', '-c', 'config.json', 'test.js'], {
    cwd: dir,
  })
  assert.equal(a.code, 0, a.stderr)
  assert.equal(srv.hits.get('/cli'), 4, '-i overrides the script scenarios')
  assert.match(a.stdout, /\* default: 4 iterations shared among 2 VUs/)
  assert.match(a.stdout, /http_req_duration\.+: avg=\S+ +p\(99\)=\S+ +count=4/)
  const csv = readFileSync(join(dir, 'out.csv'), 'utf8').trim().split('\n')
  const header = csv[0]!.split(',')
  assert.deepEqual(header.slice(0, 3), ['metric_name', 'timestamp', 'metric_value'])
  assert.equal(header.at(-2), 'extra_tags')
  const reqs = csv.filter((l) => l.startsWith('http_reqs,'))
  assert.equal(reqs.length, 4)
  assert.ok(
    reqs.every((l) => l.includes('run=a') && l.includes('from=script')),
    reqs[0],
  )
  assert.match(reqs[0]!, /^http_reqs,\d+,1\.000000,/)

  srv.hits.clear()
  const b = await kilnRun(['run', '-q', '-u', '0', '-s', '300ms:2', '-s', '300ms:0', ...env, '--summary-export', 's.json', 'test.js'], {
    cwd: dir,
  })
  assert.equal(b.code, 0, b.stderr)
  const sum = JSON.parse(readFileSync(join(dir, 's.json'), 'utf8'))
  assert.equal(sum.metrics.iterations.count, srv.hits.get('/cli'))
  assert.equal(sum.metrics.vus_max.value, 2)

  srv.hits.clear()
  const c = await kilnRun(['run', '-q', '-d', '300ms', '-u', '2', '--summary-mode', 'full', ...env, 'test.js'], { cwd: dir })
  assert.equal(c.code, 0, c.stderr)
  assert.ok((srv.hits.get('/cli') ?? 0) > 0)
  assert.match(c.stdout, /http_req_waiting\.+:/, 'full mode shows every HTTP timing')
})

test('Ctrl-C stops the test, runs teardown and prints the summary, then exits 105', async () => {
  srv.hits.clear()
  const dir = workdir({
    'test.js': `import http from 'k6/http'
import { sleep } from 'k6'
export const options = { vus: 2, duration: '30s' }
export default function () { http.get(__ENV.BASE + '/loop'); sleep(0.05) }
export function teardown() { http.get(__ENV.BASE + '/teardown') }`,
  })
  let pid = 0
  const running = kilnRun(['run', '-q', '-e', `BASE=${srv.url}`, 'test.js'], { cwd: dir, onStart: (p) => (pid = p) })
  // Interrupt as soon as the load has reached the server (polling, bounded by the 20 s run limit).
  for (let i = 0; i < 400 && !srv.hits.get('/loop'); i++) await new Promise((r) => setTimeout(r, 50))
  process.kill(pid, 'SIGINT')
  const r = await running
  assert.equal(r.code, 105, r.stderr)
  assert.equal(srv.hits.get('/teardown'), 1)
  assert.match(r.stdout, /TOTAL RESULTS/)
})

test('gracefulStop interrupts an iteration that keeps running JS after a host call; teardown still runs', async () => {
  srv.hits.clear()
  // Without a working interrupt the endless loop would hold the process until the 20 s kill.
  const dir = workdir({
    'test.js': `import http from 'k6/http'
import { sleep } from 'k6'
export const options = { scenarios: { s: { executor: 'constant-vus', vus: 1, duration: '1s', gracefulStop: '0s' } } }
export default function () { http.get(__ENV.BASE + '/loop'); sleep(5); for (;;) {} }
export function teardown() { http.get(__ENV.BASE + '/teardown') }`,
  })
  const r = await kilnRun(['run', '-q', '-e', `BASE=${srv.url}`, 'test.js'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(srv.hits.get('/loop'), 1)
  assert.equal(srv.hits.get('/teardown'), 1)
  assert.doesNotMatch(r.stdout, /iterations\.+: [1-9]/) // the interrupted one does not count
})
