/**
 * VUs on worker threads: the same script gives the same numbers on the main thread
 * (KILN_RUN_THREADS=0) and on two workers; the workers really share the work (CPU time per OS
 * thread, read from /proc); a VU whose init fails in a worker still exits 107 without hanging.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { startServer, kilnRun, workdir, type TestServer } from './helpers.ts'

let srv: TestServer
before(async () => (srv = await startServer()))
after(() => srv.close())

const readJson = (p: string): { metrics: Record<string, Record<string, number>> } => JSON.parse(readFileSync(p, 'utf8'))

test('the same script gives the same counts with VUs on the main thread and on two worker threads', async () => {
  const dir = workdir({
    'script.js': `
import http from 'k6/http'
import { check } from 'k6'
import exec from 'k6/execution'
import { Counter } from 'k6/metrics'
const seen = new Counter('seen_iterations')
export const options = { scenarios: { a: { executor: 'shared-iterations', vus: 4, iterations: 40 }, b: { executor: 'per-vu-iterations', vus: 2, iterations: 5, exec: 'other' } } }
export function setup() { return { token: 'abc' } }
export default function (data) {
  const r = http.get(__ENV.BASE + '/json')
  check(r, { ok: (x) => x.status === 200 && data.token === 'abc' })
  seen.add(1, { it: String(exec.scenario.iterationInTest) })
  console.log('vu=' + exec.vu.idInTest + ' it=' + exec.scenario.iterationInTest + ' scenario=' + exec.scenario.name)
}
export function other() { http.get(__ENV.BASE + '/other?vu=' + __VU) }
`,
  })
  const results = []
  for (const threads of ['0', '2']) {
    srv.hits.clear()
    const r = await kilnRun(['run', '-q', '--no-summary', '-e', `BASE=${srv.url}`, '--summary-export', `sum${threads}.json`, 'script.js'], {
      cwd: dir,
      env: { KILN_RUN_THREADS: threads },
    })
    assert.equal(r.code, 0, r.stderr)
    const m = readJson(join(dir, `sum${threads}.json`)).metrics
    const logs = [...r.stderr.matchAll(/vu=(\d+) it=(\d+) scenario=a/g)]
    results.push({
      json: srv.hits.get('/json'),
      other: srv.hits.get('/other'),
      reqs: m.http_reqs!.count,
      iterations: m.iterations!.count,
      checks: m.checks!.passes,
      seen: m.seen_iterations!.count,
      vus: new Set(logs.map((l) => l[1])).size,
      // Every iteration of scenario a has its own number, 0…39.
      iterationNumbers: [...new Set(logs.map((l) => Number(l[2])))].sort((x, y) => x - y).join(','),
    })
  }
  const want = {
    json: 40,
    other: 10,
    reqs: 50,
    iterations: 50,
    checks: 40,
    seen: 40,
    vus: 4,
    iterationNumbers: Array.from({ length: 40 }, (_, i) => i).join(','),
  }
  assert.deepEqual(results[0], want, 'main thread')
  assert.deepEqual(results[1], want, 'two worker threads')
})

/** CPU ticks (utime + stime) of every thread of `pid` now. */
function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      out.set(tid, Number(f[11]) + Number(f[12]))
    } catch {
      /* the thread ended */
    }
  }
  return out
}

test('two worker threads share a CPU-bound run: each does a real part of the work', async (t) => {
  if (!existsSync('/proc/self/task')) {
    t.skip('no /proc/<pid>/task here to read CPU time per thread')
    return
  }
  const dir = workdir({
    'spin.js': `
export const options = { vus: 2, iterations: 40 }
export default function () { let x = 0; for (let i = 0; i < 300000; i++) x += i % 7; if (x < 0) console.log(x) }
`,
  })
  let pid = 0
  const peak = new Map<string, number>()
  const poll = setInterval(() => {
    if (!pid) return
    try {
      for (const [tid, ticks] of threadTicks(pid)) peak.set(tid, Math.max(peak.get(tid) ?? 0, ticks))
    } catch {
      /* the process has ended */
    }
  }, 50)
  const r = await kilnRun(['run', '-q', '--no-summary', 'spin.js'], { cwd: dir, env: { KILN_RUN_THREADS: '2' }, onStart: (p) => (pid = p) })
  clearInterval(poll)
  assert.equal(r.code, 0, r.stderr)
  const total = [...peak.values()].reduce((x, y) => x + y, 0)
  const busy = [...peak.entries()]
    .filter(([tid]) => tid !== String(pid))
    .map(([, ticks]) => ticks)
    .sort((x, y) => y - x)
  // The iterations are the work: with both workers running them, each of the two busiest
  // threads besides the main one used 15% or more of the process's CPU time (measured: 23–35%,
  // the least on a machine at load 11). With every VU on the main thread, no other thread (GC,
  // loader) reaches 10% (measured: 7.5–8.9%).
  const shares = busy.slice(0, 2).map((x) => x / total)
  assert.ok(
    total > 0 && shares.length === 2 && shares.every((x) => x >= 0.15),
    `CPU ticks: main ${peak.get(String(pid))}, others ${busy.join(', ')}`,
  )
})

test('a VU whose init fails in a worker thread exits 107 with the error; a bad KILN_RUN_THREADS exits 104', async () => {
  const dir = workdir({
    'bad.js': `
if (__VU === 3) throw new Error('VU three refuses to start')
export const options = { vus: 4, iterations: 4 }
export default function () {}
`,
    'ok.js': `export default function () {}`,
  })
  const r = await kilnRun(['run', '-q', 'bad.js'], { cwd: dir, env: { KILN_RUN_THREADS: '2' } })
  assert.equal(r.code, 107, r.stderr)
  assert.match(r.stderr, /VU three refuses to start/)
  const t = await kilnRun(['run', '-q', '-u', '2', '-i', '2', 'ok.js'], { cwd: dir, env: { KILN_RUN_THREADS: 'many' } })
  assert.equal(t.code, 104, t.stderr)
  assert.match(t.stderr, /KILN_RUN_THREADS/)
})

test('a worker thread that dies stops the run with exit 109 and a message, not a hang or a busy loop', async () => {
  const dir = workdir({ 's.js': `export const options = { vus: 4, duration: '20s' }\nexport default function () {}` })
  const r = await kilnRun(['run', '-q', 's.js'], { cwd: dir, env: { KILN_RUN_THREADS: '2', KILN_TEST_WORKER_EXIT: '2' } })
  assert.equal(r.code, 109, r.stderr)
  assert.match(r.stderr, /a VU worker thread exited \(code 3\): its VUs are gone, so the test stops/)
  assert.match(r.stdout, /iterations/, 'the summary is still printed')
})

test('ramping-vus on worker threads: VUs stopped by a ramp down to 0 loop again when the target rises', async () => {
  srv.hits.clear()
  // 0.8 s iterations: the second, running at 1 s, is interrupted 100 ms into the ramp-down (its
  // VU's stop word is set: a loop started with that word left would end at once), and no VU runs
  // from 1.1 s to 2 s, so a request after 1.5 s comes from a VU whose loop started again.
  const dir = workdir({
    'ramp.js': `import http from 'k6/http'
import { sleep } from 'k6'
import exec from 'k6/execution'
export const options = { scenarios: { r: { executor: 'ramping-vus', startVUs: 2, gracefulRampDown: '100ms',
  stages: [{ duration: '1s', target: 2 }, { duration: '0s', target: 0 }, { duration: '1s', target: 0 }, { duration: '0s', target: 2 }, { duration: '2s', target: 2 }] } } }
export default function () {
  http.get(__ENV.BASE + '/vu' + __VU + (Date.now() - exec.scenario.startTime > 1500 ? '-again' : '-first'))
  sleep(0.8)
}`,
  })
  const r = await kilnRun(['run', '-q', '--no-summary', '-e', `BASE=${srv.url}`, 'ramp.js'], { cwd: dir, env: { KILN_RUN_THREADS: '2' } })
  assert.equal(r.code, 0, r.stderr)
  for (const vu of [1, 2]) {
    assert.ok((srv.hits.get(`/vu${vu}-first`) ?? 0) > 0, `VU ${vu} before the ramp-down: ${JSON.stringify([...srv.hits])}`)
    assert.ok((srv.hits.get(`/vu${vu}-again`) ?? 0) > 0, `VU ${vu} after the target rose again: ${JSON.stringify([...srv.hits])}`)
  }
})
