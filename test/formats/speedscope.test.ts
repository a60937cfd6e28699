import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeSpeedscope, encodeSpeedscope, SPEEDSCOPE_SCHEMA } from '../../src/formats/speedscope.ts'
import { decodePprof } from '../../src/formats/pprof.ts'
import { toFolded, totals, type Profile } from '../../src/model/profile.ts'
import { BROKEN_FIXTURES, pprofFixtures, readFixture } from './support.ts'

const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v))
const frames = [{ name: 'main' }, { name: 'work', file: 'w.js', line: 3 }, { name: 'idle' }]
const sampled = (over: object = {}) => ({
  type: 'sampled',
  name: 's',
  unit: 'milliseconds',
  startValue: 0,
  endValue: 10,
  samples: [
    [0, 1],
    [0, 2],
    [0, 1],
  ],
  weights: [2, 3, 4.5],
  ...over,
})
const evented = (events: object[], over: object = {}) => ({
  type: 'evented',
  name: 'e',
  unit: 'milliseconds',
  startValue: 0,
  endValue: 10,
  events,
  ...over,
})
const file = (...profiles: object[]) => ({ $schema: SPEEDSCOPE_SCHEMA, shared: { frames }, profiles })
const decode = (v: unknown): Profile => decodeSpeedscope(enc(v))!

test('sampled profile: stacks root first, weights as values, unit from the file', () => {
  const p = decode(file(sampled()))
  assert.equal(toFolded(p), 'main;idle 3\nmain;work 6.5\n')
  assert.deepEqual(p.sampleTypes, [{ type: 'cpu', unit: 'milliseconds' }])
  assert.equal(p.durationNanos, 10e6)
  assert.deepEqual(decode(file(sampled({ unit: 'none' }))).sampleTypes, [{ type: 'samples', unit: 'count' }])
  assert.deepEqual(decode(file(sampled({ unit: 'bytes' }))).sampleTypes, [{ type: 'space', unit: 'bytes' }])
})

test('a file with no profiles, or no samples, is an empty profile', () => {
  assert.equal(decode({ $schema: SPEEDSCOPE_SCHEMA, shared: { frames: [] }, profiles: [] }).samples.length, 0)
  assert.equal(decode(file(sampled({ samples: [], weights: [] }))).samples.length, 0)
  assert.equal(decode(file(evented([]))).samples.length, 0)
})

test('evented profile: each interval goes to the stack open during it', () => {
  const O = (frame: number, at: number) => ({ type: 'O', frame, at })
  const C = (frame: number, at: number) => ({ type: 'C', frame, at })
  const p = decode(file(evented([O(0, 0), O(1, 2), C(1, 5), O(2, 5), C(2, 6), C(0, 10)])))
  assert.equal(toFolded(p), 'main 6\nmain;idle 1\nmain;work 3\n')
})

test('several profiles in one file are merged into one sample type', () => {
  const O = (frame: number, at: number) => ({ type: 'O', frame, at })
  const C = (frame: number, at: number) => ({ type: 'C', frame, at })
  const p = decode(file(sampled(), evented([O(0, 100), O(1, 101), C(1, 104), C(0, 104)], { startValue: 100, endValue: 104 })))
  assert.equal(p.sampleTypes.length, 1)
  assert.equal(toFolded(p), 'main 1\nmain;idle 3\nmain;work 9.5\n')
})

test('broken files are KILN_BAD_SPEEDSCOPE saying where; other JSON is not speedscope', () => {
  const cases: [unknown, RegExp][] = [
    ['{"$schema": ', /not valid JSON/],
    [file(sampled({ weights: [1] })), /profiles\[0\] has 3 samples but 1 weights/],
    [
      file(sampled({ samples: [[0, 7]], weights: [1] })),
      /profiles\[0\]\.samples\[0\]\[1\] is 7, not an index into shared\.frames \(3 frames\)/,
    ],
    [file(sampled(), sampled({ unit: 'bytes' })), /profiles\[1\] has unit "bytes" but profiles\[0\] has "milliseconds"/],
    [file(sampled({ unit: 'parsecs' })), /profiles\[0\]\.unit "parsecs" is not one of/],
    [file(sampled({ type: 'other' })), /profiles\[0\]\.type "other" is neither/],
    [
      file(
        evented([
          { type: 'O', frame: 0, at: 5 },
          { type: 'C', frame: 0, at: 4 },
        ]),
      ),
      /events\[1\]\.at is 4, earlier than the event before it/,
    ],
    [
      file(
        evented([
          { type: 'O', frame: 0, at: 0 },
          { type: 'C', frame: 1, at: 4 },
        ]),
      ),
      /events\[1\] closes frame 1, which is not the innermost open frame/,
    ],
    [file(evented([{ type: 'O', frame: 0, at: 0 }])), /ends with 1 frames still open/],
    [{ ...file(sampled()), shared: { frames: [{ nom: 'x' }] } }, /shared\.frames\[0\]\.name must be a string/],
  ]
  for (const [v, re] of cases) assert.throws(() => decodeSpeedscope(enc(v)), { code: 'KILN_BAD_SPEEDSCOPE', message: re }, re.source)
  assert.throws(() => decode(file(sampled({ weights: [1, -1, 1] }))), {
    code: 'KILN_BAD_PROFILE',
    message: /samples\[1\]: sample value -1 is negative/,
  })
  assert.equal(decodeSpeedscope(enc({ nodes: [], samples: [], timeDeltas: [] })), null, 'a Chrome .cpuprofile is not speedscope')
  assert.equal(decodeSpeedscope(enc('a;b 1')), null)
})

test('deep evented stacks stop at the depth limit', () => {
  const events = Array.from({ length: 5000 }, () => ({ type: 'O', frame: 0, at: 0 }))
  assert.throws(() => decode(file(evented(events))), { code: 'KILN_LIMIT', message: /more than 4096 frames open at once/ })
})

test('export writes a sampled profile with every field speedscope requires', () => {
  const p = decodePprof(readFixture('cpu.pb.gz'))
  const out = JSON.parse(new TextDecoder().decode(encodeSpeedscope(p)))
  assert.equal(out.$schema, SPEEDSCOPE_SCHEMA)
  const [prof, ...rest] = out.profiles
  assert.equal(rest.length, 0)
  assert.deepEqual(Object.keys(prof).sort(), ['endValue', 'name', 'samples', 'startValue', 'type', 'unit', 'weights'])
  assert.equal(prof.type, 'sampled')
  assert.equal(prof.unit, 'nanoseconds', 'no default_sample_type: the last type, as pprof shows it')
  assert.equal(prof.endValue, totals(p)[1])
  assert.equal(prof.samples.length, prof.weights.length)
  for (const s of prof.samples) for (const f of s) assert.ok(Number.isInteger(f) && f >= 0 && f < out.shared.frames.length)
  assert.ok(out.shared.frames.every((f: { name: unknown }) => typeof f.name === 'string'))
})

test('export → import → export is stable for every pprof fixture and sample type', () => {
  for (const f of pprofFixtures().filter((x) => !BROKEN_FIXTURES.has(x))) {
    const p = decodePprof(readFixture(f))
    p.sampleTypes.forEach((st, typeIndex) => {
      const once = encodeSpeedscope(p, { typeIndex })
      const back = decodeSpeedscope(once)!
      assert.equal(toFolded(back), toFolded(p, typeIndex), `${f} ${st.type}`)
      assert.deepEqual(encodeSpeedscope(back, { name: `${st.type} (${st.unit})` }), once, `${f} ${st.type}`)
    })
  }
})

test('an evented file that repeats a deep stack is stopped by the frame budget', () => {
  const events: object[] = Array.from({ length: 4000 }, () => ({ type: 'O', frame: 0, at: 0 }))
  for (let t = 1; t <= 2000; t++) events.push({ type: 'O', frame: 1, at: t }, { type: 'C', frame: 1, at: t + 0.5 })
  assert.throws(() => decode(file(evented(events))), {
    code: 'KILN_LIMIT',
    message: /events\[\d+\]: the stacks add up to more than \d+ frames/,
  })
})
