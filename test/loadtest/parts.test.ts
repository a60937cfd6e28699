/** The pure parts: k6's percentile method, threshold and duration parsers (with fuzzing), formats. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Sink, Registry } from '../../src/loadtest/results/metrics.ts'
import { buildThresholds, evaluate, parseExpression } from '../../src/loadtest/results/thresholds.ts'
import { parseDuration, formatDuration } from '../../src/loadtest/run/duration.ts'
import { humanDuration, humanBytes } from '../../src/loadtest/results/summary.ts'
import { arrivals, stageTarget } from '../../src/loadtest/run/executors.ts'
import { consolidate } from '../../src/loadtest/run/options.ts'
import { KilnError } from '../../src/model/errors.ts'

test("trend percentiles are exact: sorted values, linear interpolation at p·(n−1) (k6's method)", () => {
  const s = new Sink('trend')
  for (const v of [10, 1, 7, 3, 5]) s.add(v) // sorted: 1 3 5 7 10
  assert.equal(s.stat('med', 1), 5)
  assert.equal(s.stat('p(90)', 1), 7 + (10 - 7) * 0.6) // i = 0.9·4 = 3.6
  assert.equal(s.stat('p(0)', 1), 1)
  assert.equal(s.stat('p(100)', 1), 10)
  assert.equal(s.stat('avg', 1), 5.2)
  const rate = new Sink('rate')
  ;[1, 0, 1, 1].forEach((v) => rate.add(v))
  assert.equal(rate.stat('rate', 1), 0.75)
  const c = new Sink('counter')
  ;[2, 3].forEach((v) => c.add(v))
  assert.deepEqual([c.stat('count', 2), c.stat('rate', 2)], [5, 2.5])
})

test('thresholds: k6 grammar, per-type aggregations, submetrics, evaluation', () => {
  assert.deepEqual(parseExpression('p(99.9) <= 250'), { agg: 'p(99.9)', op: '<=', value: 250 })
  const reg = new Registry()
  const ths = buildThresholds(
    {
      'http_req_duration{status:200}': ['p(95)<100', { threshold: 'max<50', abortOnFail: true, delayAbortEval: '1s' }],
      http_reqs: ['count>1'],
    },
    reg,
  )
  assert.equal(ths.length, 3)
  reg.add('http_req_duration', 70, { status: '200' })
  reg.add('http_req_duration', 900, { status: '500' })
  reg.add('http_reqs', 1, {})
  assert.deepEqual(evaluate(ths, 500, false), [], 'abortOnFail waits for delayAbortEval')
  assert.deepEqual(
    evaluate(ths, 1500, false).map((t) => t.source),
    ['max<50'],
  )
  assert.deepEqual(
    ths.map((t) => t.ok),
    [true, false, false],
  )
  for (const bad of ['p95<1', 'avg', 'avg<', 'rate<<1', 'count<1e', '(p95)<1', '']) {
    assert.throws(() => parseExpression(bad), KilnError, bad)
  }
})

test('parsers never crash on random or mutated input: a result or a KilnError', () => {
  let seed = 7
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n)
  const alphabet = 'p()<>=!.0123456789 avgminmaxcountrate{}:,smhu\u00b5'
  const seeds = ['p(95)<200', 'rate<0.01', '1m30s', '500ms', 'http_req_duration{status:200}']
  for (let i = 0; i < 3000; i++) {
    let s = seeds[rnd(seeds.length)]!
    for (let k = rnd(4); k >= 0; k--) {
      const pos = rnd(s.length + 1)
      s = rnd(2) ? s.slice(0, pos) + alphabet[rnd(alphabet.length)] + s.slice(pos + 1) : s.slice(0, pos) + s.slice(pos + rnd(3))
    }
    for (const f of [() => parseExpression(s), () => parseDuration(s, 'x'), () => buildThresholds({ [s]: ['count>1'] }, new Registry())]) {
      try {
        f()
      } catch (e) {
        assert.ok(e instanceof KilnError, `${s}: ${(e as Error).stack}`)
      }
    }
  }
})

test('durations and k6 number formats', () => {
  assert.equal(parseDuration('1m30s', 'd'), 90_000)
  assert.equal(parseDuration('1h0m0.5s', 'd'), 3_600_500)
  assert.equal(parseDuration('250ms', 'd'), 250)
  assert.equal(parseDuration('10', 'd'), 10_000)
  assert.equal(formatDuration(630_000), '10m30s')
  assert.equal(formatDuration(30_000), '30s')
  assert.equal(humanDuration(140.3678), '140.36ms')
  assert.equal(humanDuration(0.5), '500µs')
  assert.equal(humanDuration(1523.9), '1.52s')
  assert.equal(humanDuration(63_400), '1m3s')
  assert.equal(humanDuration(0), '0s')
  assert.equal(humanDuration(12.5, 'ms'), '12.50ms')
  assert.equal(humanBytes(519_000), '519 kB')
  assert.equal(humanBytes(1_234_567), '1.2 MB')
  assert.equal(humanBytes(8), '8 B')
})

test('arrival schedules and ramps follow the integral of the rate', () => {
  assert.deepEqual(
    [...arrivals(10, [{ durationMs: 1000, target: 10 }], 1000)].map((t) => Math.round(t)),
    [0, 100, 200, 300, 400, 500, 600, 700, 800, 900],
  )
  assert.equal(
    [
      ...arrivals(
        0,
        [
          { durationMs: 2000, target: 10 },
          { durationMs: 1000, target: 0 },
        ],
        1000,
      ),
    ].length,
    15,
  )
  assert.equal(
    stageTarget(
      0,
      [
        { durationMs: 1000, target: 10 },
        { durationMs: 1000, target: 0 },
      ],
      1500,
    ),
    5,
  )
})

test("k6's shortcut rules and their conflicts", () => {
  const ex = (o: Record<string, unknown>) => consolidate([o]).scenarios.map((s) => `${s.name}:${s.executor}:${s.vus}:${s.iterations}`)
  assert.deepEqual(ex({}), ['default:per-vu-iterations:1:1'])
  assert.deepEqual(ex({ vus: 10, duration: '30s' }), ['default:constant-vus:10:1'])
  assert.deepEqual(ex({ vus: 5, iterations: 20 }), ['default:shared-iterations:5:20'])
  assert.deepEqual(ex({ vus: 4 }), ['default:shared-iterations:4:4'])
  assert.equal(consolidate([{ vus: 0, stages: [{ duration: '20s', target: 50 }] }]).scenarios[0]!.startVUs, 0)
  assert.throws(() => ex({ stages: [{ duration: '1s', target: 1 }], duration: '1s' }), /can't be combined/)
  assert.throws(() => ex({ iterations: 2, scenarios: { a: { executor: 'shared-iterations' } } }), /together with 'iterations'/)
  assert.throws(() => ex({ vus: 5, iterations: 2 }), /can't be less than the number of VUs/)
  // A higher layer's shortcut replaces the lower layer's scenarios, like a k6 CLI flag.
  assert.deepEqual(
    consolidate([{ scenarios: { a: { executor: 'constant-vus', duration: '1s' } } }, { iterations: 3 }]).scenarios.map((s) => s.executor),
    ['shared-iterations'],
  )
})
