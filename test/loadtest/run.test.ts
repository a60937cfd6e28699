/** `kiln run` as a process on unchanged k6 scripts against a local server: numbers, summary, exit codes. */
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

test('a k6 script runs unchanged: request counts, checks, groups, custom metrics and setup data agree with the server', async () => {
  srv.hits.clear()
  const dir = workdir({
    'lib.js': `export const path = (p) => __ENV.BASE + p`,
    'data.txt': 'line1\nline2\n',
    'script.js': `
import http from 'k6/http'
import { check, group, sleep } from 'k6'
import { Counter, Trend, Rate, Gauge } from 'k6/metrics'
import { path } from './lib.js'
const lines = open('./data.txt').split('\\n').filter(Boolean)
const pages = new Counter('pages')
const size = new Trend('body_size')
const ok = new Rate('ok_rate')
const g = new Gauge('last_vu')
export const options = { vus: 3, iterations: 9, thresholds: { http_req_failed: ['rate<0.01'], 'http_req_duration{name:json}': ['p(99)<5000'] } }
export function setup() { http.get(path('/setup')); return { lines: lines.length } }
class Client { constructor(u) { this.first = http.get(u) } get again() { return http.get(path('/getter')) } }
export default function (data) {
  const r = http.get(path('/json'), { tags: { name: 'json' } })
  check(r, { 'status is 200': (x) => x.status === 200, 'name is ada': (x) => x.json('user.name') === 'ada', 'lines from setup': () => data.lines === 2 })
  group('pages', () => { ['/a', '/b'].forEach((p) => pages.add(http.get(path(p)).status === 200 ? 1 : 0)) })
  const c = new Client(path('/ctor'))
  size.add(c.again.body.length)
  ok.add(c.first.status === 200)
  g.add(__VU)
  sleep(0.01)
}
export function teardown(data) { http.get(path('/teardown') + '?n=' + data.lines) }
`,
  })
  const r = await kilnRun(['run', '-q', '-e', `BASE=${srv.url}`, '--summary-export', 'sum.json', 'script.js'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  const sum = readJson(join(dir, 'sum.json'))
  // 9 iterations × 5 requests, plus one in setup and one in teardown.
  assert.equal(srv.hits.get('/json'), 9)
  assert.equal(srv.hits.get('/a'), 9)
  assert.equal(srv.hits.get('/ctor'), 9)
  assert.equal(srv.hits.get('/getter'), 9)
  assert.equal(srv.hits.get('/setup'), 1)
  assert.equal(srv.hits.get('/teardown'), 1)
  assert.equal(sum.metrics.http_reqs.count, srv.total())
  assert.equal(sum.metrics.iterations.count, 9)
  assert.equal(sum.metrics.pages.count, 18)
  assert.equal(sum.metrics.ok_rate.value, 1)
  assert.equal(sum.metrics.body_size.max, 5)
  assert.equal(sum.metrics.checks.passes, 27)
  assert.equal(sum.metrics.checks.fails, 0)
  assert.equal(sum.metrics.http_req_failed.value, 0)
  assert.equal(sum.metrics['http_req_duration{name:json}'].thresholds['p(99)<5000'], false, 'false = not crossed')
  assert.equal(sum.root_group.checks['status is 200'].passes, 9)
  assert.ok(sum.root_group.groups.pages, 'the group appears')
  assert.ok(sum.metrics.group_duration.avg > 0)
  assert.ok(sum.metrics.vus_max.value === 3)
  // The text summary is printed with k6's sections.
  assert.match(r.stdout, /█ THRESHOLDS/)
  assert.match(r.stdout, /✓ 'rate<0.01' rate=0.00%/)
  assert.match(r.stdout, /http_reqs\.+: 47 /)
  assert.match(r.stdout, /✓ status is 200/)
  assert.match(r.stdout, /iterations\.+: 9 /)
})

test('crossed thresholds exit 99 and name the metric; --no-thresholds turns them off', async () => {
  const dir = workdir({
    'script.js': `import http from 'k6/http'
export const options = { iterations: 2, thresholds: { http_req_failed: ['rate<0.5'], http_reqs: ['count>=2'] } }
export default function () { http.get(__ENV.BASE + '/status/500') }`,
  })
  const r = await kilnRun(['run', '-q', '-e', `BASE=${srv.url}`, 'script.js'], { cwd: dir })
  assert.equal(r.code, 99, r.stderr)
  assert.match(r.stderr, /thresholds on metrics 'http_req_failed' have been crossed/)
  assert.match(r.stdout, /✗ 'rate<0.5' rate=100.00%/)
  assert.match(r.stdout, /✓ 'count>=2' count=2/)
  const r2 = await kilnRun(['run', '-q', '--no-thresholds', '-e', `BASE=${srv.url}`, 'script.js'], { cwd: dir })
  assert.equal(r2.code, 0, r2.stderr)
})

test('bad scripts and options fail before any request: 107 for script errors, 104 for options', async () => {
  srv.hits.clear()
  const cases: [string, number, RegExp][] = [
    [
      `import http from 'k6/http'\nhttp.get('${srv.url}/x')\nexport default function () {\n  let x = ;\n}`,
      107,
      /SyntaxError.*\n?.*script\.js:4/,
    ],
    [`import x from 'k6/nope'\nexport default function () {}`, 107, /unknown module 'k6\/nope'/],
    [
      `import http from 'k6/http'\nhttp.get('${srv.url}/x')\nexport default function () {}`,
      107,
      /http requests cannot be used in the init context/,
    ],
    [`import x from './missing.js'\nexport default function () {}`, 107, /missing\.js/],
    [`throw new Error('init boom')\nexport default function () {}`, 107, /init boom/],
    [
      `export const options = { duration: '1s', scenarios: { a: { executor: 'constant-vus', duration: '1s' } } }\nexport default function () {}`,
      104,
      /scenarios.*duration/,
    ],
    [
      `export const options = { thresholds: { http_req_duration: ['p95 < 200'] } }\nexport default function () {}`,
      104,
      /invalid threshold on 'http_req_duration'/,
    ],
    [
      `export const options = { thresholds: { checks: ['avg<1'] } }\nexport default function () {}`,
      104,
      /'avg' does not apply to a rate metric/,
    ],
    [
      `export const options = { thresholds: { no_such_metric: ['count<1'] } }\nexport default function () {}`,
      104,
      /no metric named 'no_such_metric'/,
    ],
    [
      `export const options = { scenarios: { s: { executor: 'constant-vus', vus: 1 } } }\nexport default function () {}`,
      104,
      /duration is required/,
    ],
    [
      `export const options = { scenarios: { s: { executor: 'warp-speed' } } }\nexport default function () {}`,
      104,
      /executor must be one of/,
    ],
    [`export const options = { vus: -1 }\nexport default function () {}`, 104, /vus must be an integer/],
    [`export function setup() { throw new Error('setup boom') }\nexport default function () { }`, 107, /setup boom/],
  ]
  for (const [src, code, msg] of cases) {
    const dir = workdir({ 'script.js': src })
    const r = await kilnRun(['run', '-q', 'script.js'], { cwd: dir })
    assert.equal(r.code, code, `${src}\n→ ${r.stderr}`)
    assert.match(r.stderr, msg)
  }
  assert.equal(srv.total(), 0, 'no request was sent')
  const bad = await kilnRun(['run', '-q', '-s', '20s', 'x.js'])
  assert.equal(bad.code, 104)
  assert.match(bad.stderr, /--stage '20s' must be DURATION:TARGET/)
})

test('exceptions inside iterations are logged and the test goes on; test.abort() exits 108; test.fail() exits 110 (async: async.test.ts)', async () => {
  srv.hits.clear()
  const dir = workdir({
    'throws.js': `import http from 'k6/http'
export const options = { iterations: 4 }
export default function () { http.get(__ENV.BASE + '/t'); if (__ITER % 2 === 0) throw new Error('iteration boom') }`,
    'abort.js': `import http from 'k6/http'
import exec from 'k6/execution'
export const options = { vus: 1, duration: '10s' }
export default function () { http.get(__ENV.BASE + '/abort'); if (exec.scenario.iterationInTest === 2) exec.test.abort('enough') }`,
    'fail.js': `import exec from 'k6/execution'
export const options = { iterations: 1 }
export default function () { exec.test.fail('marked') }`,
  })
  const env = ['-e', `BASE=${srv.url}`]
  const t = await kilnRun(['run', '-q', ...env, '--summary-export', 's.json', 'throws.js'], { cwd: dir })
  assert.equal(t.code, 0, t.stderr)
  assert.equal((t.stderr.match(/iteration boom/g) ?? []).length, 2)
  assert.equal(srv.hits.get('/t'), 4)
  assert.equal(readJson(join(dir, 's.json')).metrics.iterations.count, 4)
  const a = await kilnRun(['run', '-q', ...env, 'abort.js'], { cwd: dir })
  assert.equal(a.code, 108, a.stderr)
  assert.equal(srv.hits.get('/abort'), 3)
  assert.match(a.stdout, /TOTAL RESULTS/, 'the summary is still printed')
  const f = await kilnRun(['run', '-q', 'fail.js'], { cwd: dir })
  assert.equal(f.code, 110, f.stderr)
})

test('handleSummary replaces the summary and writes its files; http params, redirects, cookies and bodies behave as in k6', async () => {
  srv.hits.clear()
  const dir = workdir({
    'script.js': `import http from 'k6/http'
import { check } from 'k6'
export const options = { iterations: 1 }
export default function () {
  const B = __ENV.BASE
  const e = http.post(B + '/echo', { a: '1', b: 'x y' }, { headers: { 'X-Test': 'yes' } }).json()
  check(e, { form: (x) => x.body === 'a=1&b=x%20y' && x.headers['content-type'] === 'application/x-www-form-urlencoded', header: (x) => x.headers['x-test'] === 'yes' })
  const j = http.put(B + '/echo', JSON.stringify({ k: 1 }), { headers: { 'Content-Type': 'application/json' } }).json()
  check(j, { put: (x) => x.method === 'PUT' && x.body === '{"k":1}' })
  const red = http.get(B + '/redirect')
  check(red, { redirected: (r) => r.status === 200 && r.url === B + '/' && r.body === 'hello' })
  http.get(B + '/cookie')
  const c = http.get(B + '/echo').json()
  check(c, { cookie: (x) => x.headers.cookie === 'sid=42' })
  const nf = http.get(B + '/status/404')
  check(nf, { notfound: (r) => r.status === 404 && r.error_code === 1404 && r.status_text === '404 Not Found' })
  const none = http.get(B + '/', { responseType: 'none' })
  check(none, { nobody: (r) => r.body === null })
  const ok = http.get(B + '/status/404', { responseCallback: http.expectedStatuses(404) })
  const refused = http.get('http://127.0.0.1:1/')
  check(refused, { refused: (r) => r.status === 0 && r.error_code === 1212 })
  const [b1, b2] = http.batch([B + '/b1', ['GET', B + '/b2']])
  check(b1, { batch: () => b1.status === 200 && b2.status === 200 })
  const par = http.batch({ a: B + '/barrier?n=3', b: { method: 'GET', url: B + '/barrier?n=3' }, c: ['GET', B + '/barrier?n=3'] })
  check(par, { 'batch is parallel': (p) => p.a.body === 'together' && p.b.body === 'together' && p.c.body === 'together' })
  const t = http.get(B + '/slow?ms=2000', { timeout: '100ms' })
  check(t, { timeout: (r) => r.error_code === 1050 })
  check(ok, { timings: (r) => r.timings.duration >= r.timings.waiting && typeof r.timings.blocked === 'number' && r.proto === 'HTTP/1.1' })
  // Headers, cookies, timings and request are parsed on first use: they must look like own fields all the same.
  const h = http.get(B + '/echo')
  const shown = JSON.parse(JSON.stringify(h))
  check(h, {
    'every field in JSON': () => shown.status === 200 && Object.keys(shown.headers).length > 0 && typeof shown.timings.duration === 'number' && shown.request.method === 'GET' && typeof shown.cookies === 'object' && shown.body === h.body,
    'own properties once read': (r) => Object.keys(r).includes('headers') && Object.keys(r).includes('timings'),
    'fields can be replaced': (r) => { r.timings = 'mine'; r.status = 7; return r.timings === 'mine' && r.status === 7 },
  })
  const fresh = http.get(B + '/echo')
  fresh.headers = { mine: '1' }
  check(fresh, { 'replaced before it was read': (r) => r.headers.mine === '1' && typeof r.timings.duration === 'number' })
  const lines = http.post(B + '/echo', 'a\\nb\\n\\nc')
  check(lines, { 'a body with newlines arrives whole': (r) => r.json().body === 'a\\nb\\n\\nc' })
  const bin = http.get(B + '/', { responseType: 'binary' })
  check(bin, { 'binary body': (r) => r.body instanceof ArrayBuffer && r.body.byteLength === 5 && new Uint8Array(r.body)[0] === 104 })
}
export function handleSummary(data) {
  const failed = data.root_group.checks.filter((c) => c.fails > 0).map((c) => c.name)
  return { stdout: 'custom summary: ' + data.metrics.http_reqs.values.count + ' failed=' + failed.join(','), 'summary.json': JSON.stringify(data) }
}`,
  })
  const r = await kilnRun(['run', '-q', '-e', `BASE=${srv.url}`, 'script.js'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  const data = readJson(join(dir, 'summary.json'))
  assert.equal(data.metrics.http_reqs.values.count, srv.total() + 1, 'all but the refused request reached the server')
  assert.equal(data.metrics.checks.values.fails, 0, JSON.stringify(data.root_group.checks.filter((c: any) => c.fails)))
  assert.match(r.stdout, /custom summary: \d+ failed=$/m)
  assert.doesNotMatch(r.stdout, /TOTAL RESULTS/)
})

test('k6/data SharedArray: built once for the whole test, read-only in every VU', async () => {
  srv.hits.clear()
  const dir = workdir({
    'users.json': JSON.stringify([{ name: 'ada' }, { name: 'bob' }, { name: 'cy' }]),
    'script.js': `import http from 'k6/http'
import { SharedArray } from 'k6/data'
const users = new SharedArray('users', function () { console.log('building users'); return JSON.parse(open('./users.json')) })
export const options = { scenarios: { each: { executor: 'per-vu-iterations', vus: 3, iterations: 1 } } }
export default function () {
  const u = users[(__VU - 1) % users.length]
  let frozen = false
  try { u.name = 'x' } catch (e) { frozen = true }
  http.get(__ENV.BASE + '/u/' + u.name + '/' + users.length + '/' + frozen)
}`,
  })
  const r = await kilnRun(['run', '-q', '-e', `BASE=${srv.url}`, 'script.js'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  assert.equal((r.stderr.match(/building users/g) ?? []).length, 1, r.stderr)
  assert.equal(srv.hits.get('/u/ada/3/true'), 1)
  assert.equal(srv.hits.get('/u/bob/3/true'), 1)
  assert.equal(srv.hits.get('/u/cy/3/true'), 1)
})

test('k6/crypto, k6/encoding, crypto.randomUUID and TextEncoder give the same bytes as Node', async () => {
  const { createHash, createHmac } = await import('node:crypto')
  const text = 'héllo wörld ✓'
  const exp = {
    SHA256: createHash('sha256').update(text).digest('hex'),
    MD5B64: createHash('md5').update(text).digest('base64'),
    HMAC: createHmac('sha256', 'key').update(text).digest('hex'),
    SHA1: createHash('sha1').update('ab').digest('hex'),
    B64: Buffer.from(text).toString('base64url').replace(/=+$/, ''),
  }
  const dir = workdir({
    'script.js': `import crypto from 'k6/crypto'
import { sha256, md5 } from 'k6/crypto'
import encoding from 'k6/encoding'
import { check } from 'k6'
export const options = { iterations: 1 }
const T = ${JSON.stringify(text)}
export default function () {
  check(null, {
    sha256: () => sha256(T, 'hex') === __ENV.SHA256,
    md5: () => md5(T, 'base64') === __ENV.MD5B64,
    hmac: () => crypto.hmac('sha256', 'key', T, 'hex') === __ENV.HMAC,
    createHash: () => crypto.createHash('sha1').update('a').update('b').digest('hex') === __ENV.SHA1,
    b64: () => encoding.b64encode(T, 'rawurl') === __ENV.B64 && encoding.b64decode(__ENV.B64, 'rawurl', 's') === T,
    utf8: () => new TextDecoder().decode(new TextEncoder().encode(T)) === T && new TextEncoder().encode(T).length === ${Buffer.byteLength(text)},
    uuid: () => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(globalThis.crypto.randomUUID()),
    random: () => crypto.randomBytes(16).byteLength === 16,
  })
}`,
  })
  const env = Object.entries(exp).flatMap(([k, v]) => ['-e', `${k}=${v}`])
  const r = await kilnRun(['run', '-q', ...env, '--summary-export', 's.json', 'script.js'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  const checks = readJson(join(dir, 's.json')).root_group.checks
  assert.deepEqual(
    Object.entries(checks)
      .filter(([, c]: [string, any]) => c.fails)
      .map(([n]) => n),
    [],
  )
  assert.equal(Object.keys(checks).length, 8)
})

test('TypeScript scripts and modules run (types stripped); a TypeScript syntax error exits 107 naming the line', async () => {
  srv.hits.clear()
  const dir = workdir({
    'util.ts': `export interface Page { path: string }\nexport const pages: Page[] = [{ path: '/ts' }]`,
    'script.ts': `import http from 'k6/http'
import { pages, type Page } from './util.ts'
export const options = { iterations: 2 }
export default function (): void {
  const p: Page = pages[0]!
  http.get((__ENV.BASE as string) + p.path)
}`,
    'bad.ts': `export default function (): void {\n  const x: number = ;\n}`,
  })
  const r = await kilnRun(['run', '-q', '-e', `BASE=${srv.url}`, 'script.ts'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(srv.hits.get('/ts'), 2)
  const bad = await kilnRun(['run', '-q', 'bad.ts'], { cwd: dir })
  assert.equal(bad.code, 107, bad.stderr)
  assert.match(bad.stderr, /bad\.ts:2:/)
})

test('k6/execution named exports read the live state of the VU and scenario', async () => {
  srv.hits.clear()
  const dir = workdir({
    'script.js': `import http from 'k6/http'
import { vu, scenario, instance } from 'k6/execution'
export const options = { scenarios: { sc: { executor: 'per-vu-iterations', vus: 2, iterations: 2 } } }
export default function () {
  http.get(__ENV.BASE + '/x/' + scenario.name + '/vu' + vu.idInTest + '/it' + vu.iterationInScenario + '/init' + instance.vusInitialized)
}`,
  })
  const r = await kilnRun(['run', '-q', '-e', `BASE=${srv.url}`, 'script.js'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  const paths = [...srv.hits.keys()].sort()
  assert.deepEqual(paths, ['/x/sc/vu1/it0/init2', '/x/sc/vu1/it1/init2', '/x/sc/vu2/it0/init2', '/x/sc/vu2/it1/init2'])
})

test('a plain http.get(url) (the fast path) keeps the group tag and follows setResponseCallback', async () => {
  srv.hits.clear()
  const dir = workdir({
    'script.js': `import http from 'k6/http'
import { group } from 'k6'
http.setResponseCallback(http.expectedStatuses(404))
export default function () {
  http.get(__ENV.BASE + '/status/404')
  http.setResponseCallback(null)
  group('g', () => http.get(__ENV.BASE + '/status/404'))
}`,
  })
  const r = await kilnRun(['run', '-q', '-i', '1', '-e', `BASE=${srv.url}`, '-o', 'json=out.json', 'script.js'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  const failed = readFileSync(join(dir, 'out.json'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { metric: string; type: string; data: { value: number; tags: Record<string, string> } })
    .filter((p) => p.type === 'Point' && p.metric === 'http_req_failed')
    .map((p) => [p.data.tags.group, p.data.tags.expected_response, p.data.value])
  assert.deepEqual(failed, [
    ['', 'true', 0],
    ['::g', 'false', 1],
  ])
  assert.equal(srv.hits.get('/status/404'), 2)
})
