/** The parts of profile thresholds that need no server: names, evaluation, reports, `kiln compare -t`. */
import { withoutDirs } from '../../src/loadtest/results/profile-compare.ts'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Registry } from '../../src/loadtest/results/metrics.ts'
import { buildThresholds, evaluate } from '../../src/loadtest/results/thresholds.ts'
import { profileMetrics, through } from '../../src/loadtest/results/profile-thresholds.ts'
import { junitXml } from '../../src/loadtest/results/junit.ts'
import { markdownSummary } from '../../src/loadtest/results/markdown.ts'
import { parseThresholdFlags } from '../../src/cli/compare.ts'

const build = (spec: Record<string, unknown>) => {
  const r = new Registry()
  return buildThresholds(
    spec,
    r,
    profileMetrics((n) => r.metrics.get(n)?.type),
  )
}

test('profile metric names: tags, one metric per name, the run metrics beside them', () => {
  const ths = build({
    'profile_share{function:"a"}': ['value<0.2', 'value>0'],
    http_req_duration: ['p(95)<200'],
    http_req_duration_change: ['p(95)<0.1'],
  })
  assert.deepEqual(
    ths.map((t) => [t.metric, t.source, !!t.external]),
    [
      ['profile_share{function:a}', 'value<0.2', true],
      ['profile_share{function:a}', 'value>0', true],
      ['http_req_duration', 'p(95)<200', false],
      ['http_req_duration_change', 'p(95)<0.1', true],
    ],
  )
  assert.equal(ths[0]!.external, ths[1]!.external, 'thresholds on one metric share its judged values')
  assert.throws(
    () => build({ nope_change: ['avg<1'] }),
    /no metric named 'nope_change'/,
    'a change of no known metric is an unknown metric',
  )
  assert.throws(() => build({ http_reqs_change: ['p(95)<1'] }), /'p\(95\)' does not apply to http_reqs_change \(allowed: \(count\|rate\)\)/)
})

test('judged after the run: pending passes while running, no value at the end fails', () => {
  const [t] = build({ 'profile_share{function:"a"}': ['value<0.2'] })
  evaluate([t!], 1000, false)
  assert.equal(t!.ok, true, 'not judged during the run (abortOnFail is refused for these)')
  evaluate([t!], 1000, true)
  assert.equal(t!.ok, false, 'never judged: a failure, not a silent pass')
  t!.external!.values = { value: 0.1 }
  evaluate([t!], 1000, true)
  assert.deepEqual([t!.ok, t!.actual, t!.reason], [true, 0.1, undefined])
  t!.external!.values = { value: 0.3 }
  evaluate([t!], 1000, true)
  assert.equal(t!.ok, false)
  t!.external!.reason = 'no profile'
  evaluate([t!], 1000, true)
  assert.deepEqual([t!.ok, t!.reason], [false, 'no profile'])
})

test('function matching: the frame name or its function part; regex anchored', () => {
  const stacks = {
    type: 't',
    selector: '{}',
    from: 0,
    until: 1,
    total: 10,
    stacks: [
      [['main', 'handleSearch app.js:3', 'handleSearch app.js:3'], 4],
      [['main', 'jsonParse x.js:1'], 3],
      [['main', 'other'], 3],
    ] as [string[], number][],
  }
  const exact = profileMetrics(() => undefined)('profile_share{function:"handleSearch"}')!
  const spec = (exact as unknown as { spec: { fn: Parameters<typeof through>[1] } }).spec
  assert.deepEqual(through(stacks, spec.fn), { value: 4, seen: true }, 'a recursive stack counts once')
  const re = (
    profileMetrics(() => undefined)('profile_share{function:"json.*|other",match:"regex"}') as unknown as {
      spec: { fn: Parameters<typeof through>[1] }
    }
  ).spec
  assert.deepEqual(through(stacks, re.fn), { value: 6, seen: true })
  const part = (
    profileMetrics(() => undefined)('profile_share{function:"Search",match:"regex"}') as unknown as {
      spec: { fn: Parameters<typeof through>[1] }
    }
  ).spec
  assert.deepEqual(through(stacks, part.fn), { value: 0, seen: false }, 'anchored: Search is not handleSearch')
})

test('JUnit and Markdown reports from summary data: escaped, failed first, reasons shown', () => {
  const data = {
    state: { testRunDurationMs: 1500 },
    metrics: {
      http_req_duration: { type: 'trend', contains: 'time', values: { avg: 12.5, 'p(95)': 30 }, thresholds: { 'p(95)<200': { ok: true } } },
      'profile_share{function:a<b>}': { type: 'gauge', values: { value: 0.25 }, thresholds: { 'value<0.2': { ok: false } } },
      'profile_share{function:gone}': {
        type: 'gauge',
        values: {},
        thresholds: { 'value<0.2': { ok: false, reason: 'no function gone | here' } },
      },
    },
  }
  const xml = junitXml(data, { name: 's"1' })
  assert.match(xml, /<testsuites name="s&quot;1" tests="3" failures="2" time="1.500">/)
  assert.match(xml, /<testcase classname="http_req_duration" name="http_req_duration: p\(95\)&lt;200"\/>/)
  assert.match(
    xml,
    /<testcase classname="profile_share\{function:a&lt;b&gt;\}"[^>]*>\n {6}<failure message="value&lt;0.2 crossed: 25.00%" type="threshold">/,
  )
  assert.match(xml, /<failure message="no function gone \| here"/)
  const md = markdownSummary(data, { title: 'api' })
  assert.equal(
    md.split('\n').slice(0, 7).join('\n'),
    [
      '### ❌ Load test — api: 2 of 3 thresholds crossed',
      '',
      '| | Metric | Threshold | Value |',
      '|---|---|---|---|',
      '| ❌ | `profile_share{function:a<b>}` | `value<0.2` | 25.00% |',
      '| ❌ | `profile_share{function:gone}` | `value<0.2` | no function gone \\| here |',
      '| ✅ | `http_req_duration` | `p(95)<200` | 30 ms |',
    ].join('\n'),
  )
})

test("kiln compare -t: METRIC=EXPR, the '=' after the tags", () => {
  assert.deepEqual(
    parseThresholdFlags([
      'profile_share_change{function:"a=b"}=value<=0.05',
      'http_req_duration_change=p(95)<0.1',
      'http_req_duration_change=avg<0.2',
    ]),
    {
      'profile_share_change{function:"a=b"}': ['value<=0.05'],
      http_req_duration_change: ['p(95)<0.1', 'avg<0.2'],
    },
  )
  assert.throws(() => parseThresholdFlags(['value<0.1']), /must be METRIC=EXPR/)
})

test('kiln compare names a frame without the directories of its file, so two checkouts are one row', () => {
  assert.equal(withoutDirs('handleSearch /tmp/ci-1/app/service.mjs:17'), 'handleSearch service.mjs:17')
  assert.equal(withoutDirs('handleSearch service.mjs:17'), 'handleSearch service.mjs:17')
  assert.equal(withoutDirs('emit node:events:471'), 'emit node:events:471')
  assert.equal(withoutDirs('main.work'), 'main.work')
})
