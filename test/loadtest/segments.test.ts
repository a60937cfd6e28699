/** Execution segments: the parts of a sequence add up exactly, in the arithmetic and in real `kiln run`s. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { executionSegment } from '../../src/loadtest/run/segments.ts'
import { ConfigError } from '../../src/loadtest/errors.ts'
import { kilnRun, startServer, workdir, type TestServer } from './helpers.ts'

let srv: TestServer
before(async () => {
  srv = await startServer()
})
after(() => srv.close())

/** Deterministic PRNG so a failing case can be replayed. */
function lcg(seed: number): () => number {
  let a = seed
  return () => (a = (Math.imul(a, 1103515245) + 12345) >>> 0) / 4294967296
}

test('striping: for any sequence, the segments take every item exactly once and their counts add up to the whole', () => {
  const next = lcg(42)
  for (let round = 0; round < 200; round++) {
    // A random increasing sequence of fractions with small denominators.
    const d = 2 + Math.floor(next() * 11)
    const cuts = [...new Set(Array.from({ length: 1 + Math.floor(next() * 4) }, () => 1 + Math.floor(next() * (d - 1))))].sort(
      (a, b) => a - b,
    )
    const points = ['0', ...cuts.map((c) => `${c}/${d}`), '1']
    const sequence = points.join(',')
    const segs = points.slice(1).map((to, i) => executionSegment(`${points[i]}:${to}`, sequence)!)
    for (const n of [0, 1, 2, 3, 7, 10, 99, 1000, Math.floor(next() * 5000)]) {
      const parts = segs.map((s) => s.scale(n))
      assert.equal(
        parts.reduce((a, b) => a + b, 0),
        n,
        `${sequence} of ${n}: ${parts}`,
      )
    }
    // Over whole cycles (multiples of the common denominator, which divides d) each share is exact.
    for (const n of [d, 7 * d]) segs.forEach((s) => assert.equal(s.scale(n), Math.round(n * s.length), `${s.text} of ${n}`))
    for (let i = 0; i < 3 * d; i++) assert.equal(segs.filter((s) => s.owns(i)).length, 1, `${sequence}: item ${i}`)
    // scale(n) is how many of the first n items the segment owns.
    for (const s of segs)
      for (let n = 0; n <= 2 * d; n++) assert.equal(s.scale(n), Array.from({ length: n }, (_, i) => i).filter((i) => s.owns(i)).length)
  }
})

test('segment syntax: fractions, decimals, percentages, a lone end; bad input is a ConfigError naming it', () => {
  assert.equal(executionSegment(undefined, undefined), null)
  assert.equal(executionSegment('25%:0.5', undefined)!.text, '1/4:1/2')
  assert.equal(executionSegment('1/3', undefined)!.text, '0:1/3')
  assert.equal(executionSegment('1/3:2/3', undefined)!.scale(10), 3)
  // Equal thirds of 10 VUs: the first segment takes the extra one.
  assert.deepEqual(
    ['0:1/3', '1/3:2/3', '2/3:1'].map((s) => executionSegment(s, '0,1/3,2/3,1')!.scale(10)),
    [4, 3, 3],
  )
  for (const [seg, seq, msg] of [
    ['2/3:1/3', undefined, /start must be less/],
    ['1/2:3/4', '0,1/3,1', /not one of the segments of the sequence 0,1\/3,1/],
    ['abc', undefined, /'abc' is not a number/],
    ['0:3/2', undefined, /more than 1/],
    ['0:1/2', '0,1/2,1/4,1', /must be increasing/],
  ] as const) {
    assert.throws(
      () => executionSegment(seg, seq),
      (e: unknown) => e instanceof ConfigError && msg.test(e.message),
      `${seg} ${seq}`,
    )
  }
  const next = lcg(9)
  const parts = ['0', '1', '/', ':', ',', '%', '.', '3', ' ', '-', 'x']
  for (let i = 0; i < 3000; i++) {
    const seg = Array.from({ length: Math.floor(next() * 8) }, () => parts[Math.floor(next() * parts.length)]).join('')
    const seq =
      next() < 0.5 ? undefined : Array.from({ length: Math.floor(next() * 8) }, () => parts[Math.floor(next() * parts.length)]).join('')
    try {
      const s = executionSegment(seg, seq)
      if (s) assert.ok(s.scale(100) >= 0 && s.scale(100) <= 100)
    } catch (e) {
      assert.ok(e instanceof ConfigError, `${seg} | ${seq}: ${String(e)}`)
    }
  }
})

test('kiln run with three segments of one test: iterations, VUs and requests add up to the whole run', async () => {
  srv.hits.clear()
  const dir = workdir({
    'script.js': `import http from 'k6/http'
export const options = { scenarios: {
  shared: { executor: 'shared-iterations', vus: 5, iterations: 10 },
  each: { executor: 'per-vu-iterations', vus: 4, iterations: 2, exec: 'each' },
} }
export default function () { http.get(__ENV.BASE + '/shared') }
export function each() { http.get(__ENV.BASE + '/each') }`,
  })
  const seq = '0,1/3,2/3,1'
  const counts: number[] = []
  const vus: number[] = []
  for (const [i, seg] of ['0:1/3', '1/3:2/3', '2/3:1'].entries()) {
    const r = await kilnRun(
      [
        'run',
        '-q',
        '--execution-segment',
        seg,
        '--execution-segment-sequence',
        seq,
        '--summary-export',
        `s${i}.json`,
        '-e',
        `BASE=${srv.url}`,
        'script.js',
      ],
      { cwd: dir },
    )
    assert.equal(r.code, 0, r.stderr)
    const sum = JSON.parse(readFileSync(join(dir, `s${i}.json`), 'utf8'))
    counts.push(sum.metrics.iterations.count)
    vus.push(sum.metrics.vus_max.value)
  }
  assert.equal(srv.hits.get('/shared'), 10, 'shared-iterations: 10 in all')
  assert.equal(srv.hits.get('/each'), 8, 'per-vu-iterations: 4 VUs × 2 in all')
  srv.hits.clear()
  assert.deepEqual(counts, [4 + 4, 3 + 2, 3 + 2])
  assert.deepEqual(vus, [4, 3, 2], 'VUs split 2/2/1 and 2/1/1')
  const plan = workdir({
    'rate.js': `export const options = { scenarios: { r: { executor: 'constant-arrival-rate', rate: 10, timeUnit: '1s', duration: '5s', preAllocatedVUs: 10 }, v: { executor: 'ramping-vus', stages: [{ duration: '5s', target: 7 }] } } }\nexport default function () {}`,
  })
  const inspect = await kilnRun(['inspect', '--execution-segment', '0:1/3', '--execution-segment-sequence', seq, 'rate.js'], { cwd: plan })
  assert.equal(inspect.code, 0, inspect.stderr)
  const o = JSON.parse(inspect.stdout)
  assert.match(o.scenarios.r.plan, /^3\.33 iterations\/s for 5s \(maxVUs: 4-4/, 'a third of the rate, 4 of the 10 VUs')
  assert.equal(o.scenarios.v.vus, 3, '3 of the 7 ramping VUs')
  assert.equal(o.executionSegment, '0:1/3')
  const banner = await kilnRun(
    ['run', '--no-summary', '--execution-segment', '1/3:2/3', '--execution-segment-sequence', seq, '-e', `BASE=${srv.url}`, 'script.js'],
    { cwd: dir },
  )
  assert.match(banner.stdout + banner.stderr, /scenarios: \(33\.33%\) 2 scenarios, 3 max VUs/, "k6's banner shows the segment's share")
  const bad = await kilnRun(['run', '--execution-segment', '1/2:3/4', '--execution-segment-sequence', seq, 'script.js'], { cwd: dir })
  assert.equal(bad.code, 104)
  assert.match(bad.stderr, /executionSegment '1\/2:3\/4' is not one of the segments/)
})
