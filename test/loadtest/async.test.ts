/** `kiln run` of k6 scripts with async functions, promises and timers: each VU's event loop. */
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

const readJson = (p: string): any => JSON.parse(readFileSync(p, 'utf8'))

test('async default, setup and teardown: asyncRequest in parallel, timers keep the iteration alive, clearTimeout cancels', async () => {
  srv.hits.clear()
  const dir = workdir({
    'script.js': `
import http from 'k6/http'
import { check } from 'k6'
import { setTimeout as later, clearTimeout as cancel } from 'k6/timers'
import { Counter } from 'k6/metrics'
const ticks = new Counter('ticks')
export const options = { vus: 2, iterations: 4 }
const B = __ENV.BASE
export async function setup() {
  const r = await http.asyncRequest('GET', B + '/setup')
  await new Promise((res) => setTimeout(res, 5))
  return { status: r.status }
}
export default async function (data) {
  // Both requests wait at the barrier until the other arrives: only parallel requests get 'together'.
  const [a, b] = await Promise.all([http.asyncRequest('GET', B + '/barrier?n=2'), http.asyncRequest('POST', B + '/barrier?n=2', 'x')])
  check(a, { together: (r) => r.body === 'together' && b.body === 'together', 'setup data': () => data.status === 200 })
  const id = later(() => http.get(B + '/never'), 1)
  cancel(id)
  let n = 0
  const iv = setInterval(() => {
    ticks.add(1)
    if (++n === 3) clearInterval(iv)
  }, 1)
  // Not awaited: the iteration still waits for this timer, and http.get works inside it.
  setTimeout(() => [1, 2].forEach(() => http.get(B + '/late')), 5)
  const r = await http.asyncRequest('GET', B + '/json')
  check(r, { json: (x) => x.json('user.name') === 'ada' })
  // Order: synchronous code, then promise jobs, then timers by due time.
  const order = []
  setTimeout(() => order.push('t10'), 10)
  setTimeout(() => order.push('t0'), 0)
  Promise.resolve().then(() => order.push('job'))
  order.push('sync')
  await new Promise((res) => setTimeout(res, 20))
  check(order, { order: (o) => o.join() === 'sync,job,t0,t10' })
}
export async function teardown(data) {
  await null
  http.get(B + '/teardown?s=' + data.status)
}
`,
  })
  const r = await kilnRun(['run', '-q', '-e', `BASE=${srv.url}`, '--summary-export', 'sum.json', 'script.js'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  assert.doesNotMatch(r.stderr, /ERRO/)
  const sum = readJson(join(dir, 'sum.json'))
  assert.equal(sum.metrics.iterations.count, 4)
  assert.equal(sum.root_group.checks.together.passes, 4)
  assert.equal(sum.root_group.checks['setup data'].passes, 4)
  assert.equal(sum.root_group.checks.json.passes, 4)
  assert.equal(sum.root_group.checks.order.passes, 4)
  assert.equal(sum.metrics.ticks.count, 12)
  assert.equal(srv.hits.get('/barrier'), 8)
  assert.equal(srv.hits.get('/late'), 8)
  assert.equal(srv.hits.get('/never'), undefined)
  assert.equal(srv.hits.get('/setup'), 1)
  assert.equal(srv.hits.get('/teardown'), 1)
  assert.equal(sum.metrics.http_reqs.count, srv.total())
})

test('errors in async code and in timer callbacks are iteration errors; the test goes on; test.abort() in async code exits 108', async () => {
  const dir = workdir({
    'script.js': `
import http from 'k6/http'
export const options = { iterations: 3 }
// A synchronous setup that leaves a timer: its result is still the setup data.
export function setup() { setTimeout(() => {}, 1); return { v: 7 } }
export async function handleSummary(d) {
  const h = await crypto.subtle.digest('SHA-256', new TextEncoder().encode('x'))
  return { stdout: 'async summary ' + d.metrics.iterations.values.count + ' ' + new Uint8Array(h)[0] }
}
export default async function (data) {
  if (data.v !== 7) throw new Error('no setup data')
  await http.asyncRequest('GET', __ENV.BASE + '/')
  if (__ITER === 0) throw new Error('boom after await')
  if (__ITER === 1) setTimeout(() => { throw new Error('boom in timer') }, 1)
  if (__ITER === 2) await http.asyncRequest('GET', 'not a url')
}
`,
    'abort.js': `
import exec from 'k6/execution'
export const options = { iterations: 5 }
export default async function () {
  await new Promise((r) => setTimeout(r, 1))
  exec.test.abort('stop here')
}
`,
  })
  const r = await kilnRun(['run', '-q', '-e', `BASE=${srv.url}`, '--summary-export', 'sum.json', 'script.js'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /ERRO\[\d+\] Error: boom after await/)
  assert.doesNotMatch(r.stderr, /no setup data/)
  assert.match(r.stdout, /async summary 3 45/, 'an async handleSummary (45 = first byte of sha256("x"))')
  assert.match(r.stderr, /ERRO\[\d+\] Error: boom in timer/)
  assert.match(r.stderr, /ERRO\[\d+\] Error: invalid URL 'not a url'/)
  assert.equal(readJson(join(dir, 'sum.json')).metrics.iterations.count, 3)
  const a = await kilnRun(['run', '-q', 'abort.js'], { cwd: dir })
  assert.equal(a.code, 108, a.stderr)
})

test('async callbacks in group() and check() are errors as in k6; k6/experimental/websockets loads with a warning; removed experimental modules exit 107', async () => {
  const dir = workdir({
    'script.js': `
import { group, check } from 'k6'
import { WebSocket } from 'k6/experimental/websockets'
export const options = { iterations: 2 }
export default function () {
  if (typeof WebSocket !== 'function') throw new Error('no WebSocket')
  if (__ITER === 0) group('g', async () => {})
  else check(1, { 'async check': async () => true })
}
`,
    'removed.js': `import { setTimeout } from 'k6/experimental/timers'
export default function () {}`,
    'inittimer.js': `setTimeout(() => { throw new Error('init timer boom') }, 1)
export default function () {}`,
  })
  const r = await kilnRun(['run', '-q', 'script.js'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /WARN.*'k6\/experimental\/websockets' is deprecated: import 'k6\/websockets'/)
  assert.match(r.stderr, /ERRO.*group 'g': async functions are not supported/)
  assert.match(r.stderr, /ERRO.*check 'async check': async functions are not supported/)
  assert.doesNotMatch(r.stderr, /no WebSocket/)
  const x = await kilnRun(['run', '-q', 'removed.js'], { cwd: dir })
  assert.equal(x.code, 107)
  assert.match(x.stderr, /'k6\/experimental\/timers' was removed from k6: use 'k6\/timers'/)
  const t = await kilnRun(['run', '-q', 'inittimer.js'], { cwd: dir })
  assert.equal(t.code, 107, 'an exception in an init-context callback is an init error')
  assert.match(t.stderr, /init timer boom/)
})

test('an interval never cleared ends with the test (gracefulStop); top-level await runs in the init context', async () => {
  const dir = workdir({
    'script.js': `
const base = await Promise.resolve(__ENV.BASE)
let fromTimer = ''
setTimeout(() => (fromTimer = 'init timer ran'), 1)
export const options = { scenarios: { s: { executor: 'constant-vus', vus: 1, duration: '1s', gracefulStop: '0s' } } }
import http from 'k6/http'
export default function () {
  if (!fromTimer) throw new Error('the init timer did not run')
  setInterval(() => http.get(base + '/forever'), 50)
}
`,
  })
  const r = await kilnRun(['run', '-q', '-e', `BASE=${srv.url}`, '--summary-export', 'sum.json', 'script.js'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  const sum = readJson(join(dir, 'sum.json'))
  assert.ok((srv.hits.get('/forever') ?? 0) > 0)
  assert.doesNotMatch(r.stderr, /init timer did not run/)
  assert.equal(sum.metrics.iterations?.count ?? 0, 0, 'the only iteration never completed')
})
