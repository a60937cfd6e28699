/**
 * Profile thresholds with a real target (the docs page's service, profiled by @kiln/node), a
 * real Kiln server and `kiln run`: a function absent from the profile, no profile in the window
 * and a server that is down all fail with their reason (never a silent pass); the share is the
 * one the UI's top table shows for the run's window; baselines and `kiln compare`.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { kilnRun } from './helpers.ts'
import { startKiln, call, q } from '../server/helpers.ts'
import { gateDir, startTarget, runIdOf, type Target } from './profile-target.ts'

let kiln: Awaited<ReturnType<typeof startKiln>>
before(async () => {
  kiln = await startKiln()
})
after(async () => {
  await kiln?.stop()
})

const script = (thresholds: Record<string, string[]>, kilnOptions: Record<string, string> = {}, extra = '') => `import http from 'k6/http'
${extra}
export const options = { vus: 2, duration: '3s', thresholds: ${JSON.stringify(thresholds)}, kiln: ${JSON.stringify({ profile: '{service_name="search-api"}', profileWait: '15s', ...kilnOptions })} }
export default function () { http.get(__ENV.TARGET + '/search?q=item-1') }
`

/** Runs `source` (named `name`) against the service started from `dir`; `args` go before the script. */
async function runAgainst(name: string, source: string, args: string[], env: Record<string, string> = {}, dir = gateDir()) {
  writeFileSync(join(dir, name), source)
  const target: Target = await startTarget(dir, kiln.url, env)
  try {
    const r = await kilnRun(['run', '-q', '-e', `TARGET=${target.url}`, '--summary-export', join(dir, 'summary.json'), ...args, name], {
      cwd: dir,
      timeoutMs: 120_000,
    })
    const exported = () => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')).metrics
    return { ...r, dir, exported }
  } finally {
    await target.stop()
  }
}

test("an absent function fails with the reason; the share is the UI top table's for the run's window", async () => {
  const src = script(
    {
      // Slowed, handleSearch takes 0.85–0.87 of the service's CPU here (4 runs): 0.9 failed once in CI.
      'profile_share{function:"handleSearch"}': ['value<0.99'],
      'profile_share{function:"noSuchFunction"}': ['value<0.99'],
      'profile_share{function:"handle.*",match:"regex"}': ['value>0'],
      'profile_cpu_seconds{service_name:"search-api"}': ['value>0'],
    },
    {},
    "import { junit, markdown } from 'k6/x/kiln'\nexport function handleSummary(data) { return { 'data.json': JSON.stringify(data), 'out.xml': junit(data), 'out.md': markdown(data) } }",
  )
  // The slowed service: handleSearch is then sure to be sampled in a 3 s run (as written it takes a
  // few % of ~150 samples, and a share of 0 would leave the UI's top table without its row).
  const r = await runAgainst('absent.js', src, ['-o', `kiln=${kiln.url}`], { SLOW: '1' })
  assert.equal(r.code, 99, r.stdout + r.stderr)
  const data = JSON.parse(readFileSync(join(r.dir, 'data.json'), 'utf8')).metrics
  const absent = data['profile_share{function:noSuchFunction}'].thresholds['value<0.99']
  assert.equal(absent.ok, false, 'a function in no stack fails, it does not pass at 0')
  assert.match(
    absent.reason,
    /^no function noSuchFunction in the process_cpu:\S+ profile of \{service_name="search-api"\} during the run or the hour before \(\d+ functions/,
  )
  const share = data['profile_share{function:handleSearch}']
  assert.deepEqual(share.thresholds, { 'value<0.99': { ok: true } }, `handleSearch's share ${share.values.value}`)
  assert.ok(data['profile_share{function:handle.*,match:regex}'].values.value >= share.values.value, 'the regex takes in handleSearch')
  assert.ok(data['profile_cpu_seconds{service_name:search-api}'].values.value > 0)
  // The UI's top table for the run: its window and type from the run page's API, rows from /api/v1/top.
  const run = (await call(`${kiln.url}/api/v1/runs/get?run=${runIdOf(r.stderr)}`)).json
  const type = run.profile.types.find((t: string) => /cpu/.test(t))
  const top = (
    await call(
      `${kiln.url}/api/v1/top?${q({ type, query: run.profile.query, from: String(run.profile.from), until: String(run.profile.until) })}`,
    )
  ).json
  const rows = top.rows.filter((x: { name: string }) => x.name.split(' ')[0] === 'handleSearch')
  assert.equal(rows.length, 1, JSON.stringify(rows))
  assert.ok(
    Math.abs(rows[0].total / top.total - share.values.value) < 1e-12,
    `UI ${rows[0].total / top.total} vs threshold ${share.values.value}`,
  )
  assert.deepEqual(
    run.run.thresholds
      .filter((t: { metric: string }) => t.metric.startsWith('profile_'))
      .map((t: { source: string; ok: boolean; metric: string }) => [t.metric, t.ok])
      .sort(),
    [
      ['profile_cpu_seconds{service_name:search-api}', true],
      ['profile_share{function:handle.*,match:regex}', true],
      ['profile_share{function:handleSearch}', true],
      ['profile_share{function:noSuchFunction}', false],
    ],
    'the stored run keeps the profile thresholds judged',
  )
  assert.match(readFileSync(join(r.dir, 'out.xml'), 'utf8'), /<failure message="no function noSuchFunction/)
  assert.match(readFileSync(join(r.dir, 'out.md'), 'utf8'), /^### ❌ Load test: 1 of 4 thresholds crossed/)
})

test('no profile in the window fails with the reason', async () => {
  const r = await runAgainst(
    'none.js',
    script({ 'profile_share{function:"handleSearch"}': ['value<0.9'] }, { profile: '{service_name="nobody"}', profileWait: '1s' }),
    ['-o', `kiln=${kiln.url}`],
  )
  assert.equal(r.code, 99, r.stdout + r.stderr)
  assert.match(
    r.stdout,
    /✗ 'value<0\.9' no profile of \{service_name="nobody"\} from \d\d:\d\d:\d\d to \d\d:\d\d:\d\d UTC \(the run's window\)/,
  )
  assert.match(r.stderr, /no profile of \{service_name="nobody"\} came in within 1 s after the run/)
  assert.equal(r.exported()['profile_share{function:handleSearch}'].thresholds['value<0.9'], true, 'crossed in --summary-export')
})

test('a Kiln server that is down: the run ends and the profile thresholds fail with the reason', async () => {
  // A port nothing listens on: taken, then freed.
  const port = await new Promise<number>((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port
      s.close(() => res(p))
    })
  })
  const r = await runAgainst(
    'down.js',
    script({ 'profile_share{function:"handleSearch"}': ['value<0.9'], http_req_failed: ['rate<0.5'] }),
    ['-o', `kiln=http://127.0.0.1:${port}`],
  )
  assert.equal(r.code, 99, r.stdout + r.stderr)
  assert.match(r.stdout, /✓ 'rate<0\.5'/, 'the other thresholds are judged as usual')
  assert.match(r.stdout, /✗ 'value<0\.9' the run is not stored in Kiln \(cannot reach Kiln at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/)
})

test('bad profile thresholds are refused before the run (exit 104)', async () => {
  const dir = gateDir()
  const cases: [string, RegExp][] = [
    [
      "{ 'profile_share{function:\"f\"}': [{ threshold: 'value<0.1', abortOnFail: true }] }",
      /abortOnFail is not supported on 'profile_share\{function:"f"\}': it is judged once, after the run/,
    ],
    ["{ 'profile_share{function:\"f\"}': ['p(95)<0.1'] }", /'p\(95\)' does not apply to profile_share \(allowed: value\)/],
    ["{ profile_share: ['value<0.1'] }", /profile_share needs a function tag/],
    ['{ \'profile_share{function:"(",match:"regex"}\': [\'value<0.1\'] }', /function regex "\(":/],
    ["{ 'http_req_duration_change{status:200}': ['avg<0.1'] }", /takes no tags/],
    [
      "{ 'profile_share{function:\"f\"}': ['value<0.1'] }",
      /are judged from the run stored in Kiln: add -o kiln=URL and --profile SELECTOR/,
    ],
  ]
  for (const [i, [th, re]] of cases.entries()) {
    const name = `bad${i}.js`
    writeFileSync(join(dir, name), `export const options = { iterations: 1, thresholds: ${th} }\nexport default function () {}\n`)
    const r = await kilnRun(['run', '-q', name], { cwd: dir })
    assert.equal(r.code, 104, `${th}: ${r.stderr}`)
    assert.match(r.stderr, re, th)
  }
})

test('against a baseline: --baseline latest and kiln compare judge the change', async () => {
  const src = script({
    'profile_share_change{function:"handleSearch"}': ['value<0.1'],
    http_req_duration_change: ['avg>-1'],
    http_reqs_change: ['count>-1'],
  })
  // One folder for both runs: @kiln/node names frames by file, and the service's file is the same.
  const dir = gateDir()
  const first = await runAgainst('base.js', src, ['-o', `kiln=${kiln.url}`, '--baseline', 'latest'], {}, dir)
  assert.equal(first.code, 99, 'with no earlier run there is no baseline: the change thresholds fail')
  assert.match(first.stdout, /no earlier finished run of base\.js in Kiln to compare with/)
  const a = runIdOf(first.stderr)
  const second = await runAgainst('base.js', src, ['-o', `kiln=${kiln.url}`, '--baseline', 'latest'], { SLOW: '1' }, dir)
  assert.equal(second.code, 99, second.stdout + second.stderr)
  const b = runIdOf(second.stderr)
  const m = second.exported()
  const change = m['profile_share_change{function:handleSearch}']
  assert.ok(change.value >= 0.1, `slowed handleSearch is ${change.value} hotter`)
  assert.ok(Math.abs(change.value - (change.current - change.baseline)) < 1e-12)
  assert.deepEqual(change.thresholds, { 'value<0.1': true })
  assert.equal(typeof m.http_req_duration_change.avg, 'number')
  assert.equal(m.http_req_duration_change.thresholds['avg>-1'], false)
  assert.equal(m.http_reqs_change.thresholds['count>-1'], false)
  // The same change from kiln compare, as JSON, with the threshold crossed: exit 99.
  const th = 'profile_share_change{function:"handleSearch"}=value<0.1'
  const json = await kilnRun(['compare', '--server', kiln.url, '--format', 'json', '-t', th, a, b])
  assert.equal(json.code, 99, json.stderr)
  const out = JSON.parse(json.stdout)
  assert.equal(out.a.id, a)
  const fn = out.functions.find((f: { name: string }) => f.name.startsWith('handleSearch '))
  assert.ok(fn && Math.abs(fn.delta - change.value) < 1e-12, JSON.stringify(out.functions))
  assert.ok(out.metrics.some((x: { metric: string; stat: string }) => x.metric === 'http_req_duration' && x.stat === 'p(95)'))
  assert.deepEqual(
    out.thresholds.map((t: { ok: boolean }) => t.ok),
    [false],
  )
  const pass = await kilnRun([
    'compare',
    '--server',
    kiln.url,
    '-t',
    'profile_share_change{function:"handleSearch"}=value<1.01',
    'latest',
    b,
  ])
  assert.equal(pass.code, 0, pass.stderr)
  assert.match(pass.stdout, /FUNCTIONS whose share of process_cpu\S+ changed most/)
  assert.match(pass.stdout, /✓ profile_share_change\{function:handleSearch\} 'value<1.01' \+\d+\.\d+ points/)
  const md = await kilnRun(['compare', '--server', kiln.url, '--format', 'markdown', '-t', th, a, b])
  assert.match(md.stdout, /^### ❌ Load test — base\.js vs \w+: 1 of 1 thresholds crossed/)
  assert.match(md.stdout, /\| `handleSearch [^`]+` \| \d+\.\d+% \| \d+\.\d+% \| \+\d+\.\d+ \|/)
  const junit = await kilnRun(['compare', '--server', kiln.url, '--format', 'junit', '-t', th, a, b])
  assert.match(junit.stdout, /<testsuite name="kiln compare [\w-]+ [\w-]+" tests="1" failures="1"/)
  const bad = await kilnRun(['compare', '--server', kiln.url, a, 'nope'])
  assert.equal(bad.code, 1, bad.stderr)
  assert.match(bad.stderr, /no run 'nope' in Kiln/)
})
