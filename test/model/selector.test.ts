import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseSelector, matchesLabels } from '../../src/model/selector.ts'
import { parseAppName, makeLabels } from '../../src/model/labels.ts'
import { parseTime, parseDuration, parseRange } from '../../src/model/time.ts'
import { KilnError } from '../../src/model/errors.ts'

test('parses PromQL-style selectors with every operator', () => {
  const s = parseSelector('{service_name="api", env=~"prod|stage", region!="eu", pod!~`x.*`}')
  assert.deepEqual(s.matchers, [
    { name: 'service_name', op: '=', value: 'api' },
    { name: 'env', op: '=~', value: 'prod|stage' },
    { name: 'region', op: '!=', value: 'eu' },
    { name: 'pod', op: '!~', value: 'x.*' },
  ])
  const m = matchesLabels(s.matchers)
  assert.equal(
    m(
      makeLabels([
        ['service_name', 'api'],
        ['env', 'stage'],
        ['region', 'us'],
        ['pod', 'y1'],
      ]),
    ),
    true,
  )
  assert.equal(
    m(
      makeLabels([
        ['service_name', 'api'],
        ['env', 'stage2'],
        ['region', 'us'],
      ]),
    ),
    false,
    'regex is anchored',
  )
  assert.equal(
    m(
      makeLabels([
        ['service_name', 'api'],
        ['env', 'prod'],
        ['region', 'eu'],
      ]),
    ),
    false,
  )
  assert.equal(
    m(
      makeLabels([
        ['service_name', 'api'],
        ['env', 'prod'],
        ['pod', 'x1'],
      ]),
    ),
    false,
  )
})

test('selector with a profile-type prefix, escapes and empty braces', () => {
  const s = parseSelector('process_cpu:cpu:nanoseconds:cpu:nanoseconds{a="x\\"y"}')
  assert.equal(s.prefix, 'process_cpu:cpu:nanoseconds:cpu:nanoseconds')
  assert.deepEqual(s.matchers, [{ name: 'a', op: '=', value: 'x"y' }])
  assert.deepEqual(parseSelector('{}').matchers, [])
  assert.deepEqual(parseSelector('').matchers, [])
})

test('bad selectors fail with a located KILN_SELECTOR_SYNTAX error', () => {
  for (const bad of ['{a=b}', '{a="b"', '{a~"b"}', '{="x"}', '{a="b"} junk', '{a=~"("}', '{a="b" c="d"}']) {
    assert.throws(
      () => parseSelector(bad),
      (e: unknown) => e instanceof KilnError && e.code === 'KILN_SELECTOR_SYNTAX' && /column \d+/.test(e.message),
      bad,
    )
  }
})

test('parses the ingest name parameter as Pyroscope does', () => {
  assert.deepEqual(parseAppName('myapp.cpu{env=prod, region = us-east ,}'), {
    app: 'myapp.cpu',
    labels: [
      ['env', 'prod'],
      ['region', 'us-east'],
    ],
  })
  assert.deepEqual(parseAppName('plain'), { app: 'plain', labels: [] })
  assert.throws(() => parseAppName('{a=b}'), /no application name/)
  assert.throws(() => parseAppName('app{a}'), /has no '='/)
  assert.throws(() => parseAppName('app{1a=b}'), /invalid label name/)
  assert.throws(() => parseAppName('app{__name__=b}'), /reserved/)
  const many = Array.from({ length: 10_000 }, (_, i) => `l${i}=v`).join(',')
  assert.throws(
    () => parseAppName(`app{${many}}`),
    (e: unknown) => e instanceof KilnError && e.code === 'KILN_BAD_LABELS',
  )
})

test('parses times in every form Pyroscope accepts', () => {
  const now = Date.UTC(2026, 0, 2, 3, 4, 5)
  assert.equal(parseTime('1700000000', now), 1700000000_000)
  assert.equal(parseTime('1700000000123', now), 1700000000123)
  assert.equal(parseTime('1700000000123456', now), 1700000000123)
  assert.equal(parseTime('1700000000123456789', now), 1700000000123)
  assert.equal(parseTime('now', now), now)
  assert.equal(parseTime('now-1h', now), now - 3_600_000)
  assert.equal(parseTime('now-30m', now), now - 1_800_000)
  assert.equal(parseTime('now-2d', now), now - 2 * 86_400_000)
  assert.equal(parseTime('20260101', now), Date.UTC(2026, 0, 1))
  assert.equal(parseTime('2026-01-01T00:00:00Z', now), Date.UTC(2026, 0, 1))
  assert.throws(() => parseTime('yesterday', now), /cannot read time/)
  assert.throws(() => parseRange('now', 'now-1h', { now }), /time range is empty/)
  assert.equal(parseDuration('30d'), 30 * 86_400_000)
  assert.throws(() => parseDuration('thirty days'), /cannot read duration/)
})
