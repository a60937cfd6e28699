/**
 * Seeded fuzzing of every decoder: mutated and truncated real pprof files, generated folded and
 * speedscope files mutated byte-wise and structurally. Each case must end in a Profile or a
 * KilnError — never another exception — and each test has a timeout, so a hang fails it.
 * A failure names the seed and case; FUZZ_SEED=n reruns with another seed.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeAny, decodePprof, decodeFolded, decodeLines, decodeSpeedscope, encodeSpeedscope, gzip } from '../../src/formats/index.ts'
import { ProfileBuilder } from '../../src/model/profile.ts'
import { BROKEN_FIXTURES, expectProfileOrKilnError, pprofFixtures, prng, readFixture, ungzip } from './support.ts'
import { dotnetPprof } from './dotnet.ts'

const SEED = Number(process.env.FUZZ_SEED ?? 20261121)
const CASES = 3000
const timeout = 300_000

type Rnd = () => number
const int = (rnd: Rnd, n: number) => Math.floor(rnd() * n)

/** One to four byte-level mutations: flips, overwrites, truncation, insertion, deletion, splices. */
function mutate(src: Uint8Array, rnd: Rnd): Uint8Array {
  let b = Uint8Array.from(src)
  for (let m = 1 + int(rnd, 4); m > 0; m--) {
    const at = int(rnd, b.length + 1)
    switch (int(rnd, 7)) {
      case 0:
        if (at < b.length) b[at]! ^= 1 << int(rnd, 8)
        break
      case 1:
        if (at < b.length) b[at] = [0x00, 0xff, 0x80, 0x7f, int(rnd, 256)][int(rnd, 5)]!
        break
      case 2:
        b = b.subarray(0, at)
        break
      case 3: {
        const ins = Uint8Array.from({ length: 1 + int(rnd, 12) }, () => (rnd() < 0.5 ? 0xff : int(rnd, 256)))
        b = Uint8Array.from([...b.subarray(0, at), ...ins, ...b.subarray(at)])
        break
      }
      case 4:
        b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1 + int(rnd, 64))])
        break
      case 5: {
        const from = int(rnd, b.length + 1)
        b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(from, from + 1 + int(rnd, 256)), ...b.subarray(at)])
        break
      }
      default:
        b = b.subarray(int(rnd, 16))
    }
  }
  return b
}

function tally(outcomes: Record<string, number>, name: string, fn: () => unknown): void {
  const r = expectProfileOrKilnError(name, fn)
  outcomes[r] = (outcomes[r] ?? 0) + 1
}

/** Both outcomes must occur (else the cases do not reach the decoder's depths); FUZZ_VERBOSE=1 prints them. */
function report(outcomes: Record<string, number>, needOk: boolean): void {
  if (process.env.FUZZ_VERBOSE) console.log(outcomes)
  assert.ok(outcomes.error! > 0 && (!needOk || outcomes.ok! > 0), JSON.stringify(outcomes))
}

test(`pprof: ${CASES} mutated and truncated fixtures, raw and gzipped`, { timeout }, () => {
  const rnd = prng(SEED)
  const fixtures = pprofFixtures()
    .filter((f) => !BROKEN_FIXTURES.has(f))
    .map((f) => [f, readFixture(f)] as const)
  const raw = fixtures.map(([f, b]) => [f, ungzip(b)] as const)
  const outcomes: Record<string, number> = {}
  for (let i = 0; i < CASES; i++) {
    const [name, src] = (i % 10 === 9 ? fixtures : raw)[i % raw.length]!
    const m = mutate(src, rnd)
    const where = `seed ${SEED} case ${i} (${name}, ${m.length} bytes)`
    tally(outcomes, where, () => decodePprof(m))
    if (i % 5 === 0) tally(outcomes, `${where} decodeAny`, () => decodeAny(m))
    if (i % 7 === 0) tally(outcomes, `${where} gzipped`, () => decodePprof(gzip(m)))
    if (i % 11 === 0) tally(outcomes, `${where} truncated`, () => decodePprof(src.subarray(0, int(rnd, src.length))))
  }
  report(outcomes, true)
})

test(`pprof: ${CASES / 10} mutations of .NET's all-zero-function-id shape`, { timeout }, () => {
  // The id fix-up runs on tables the mutations leave half-broken: fewer functions, ids not all 0, lost lines.
  const rnd = prng(SEED + 11)
  const src = dotnetPprof()
  const outcomes: Record<string, number> = {}
  for (let i = 0; i < CASES / 10; i++) {
    const m = mutate(src, rnd)
    tally(outcomes, `seed ${SEED + 11} case ${i} (.NET shape, ${m.length} bytes)`, () => decodePprof(m))
  }
  report(outcomes, true)
})

test(`decodeAny: ${CASES} random byte strings, with and without gzip and a hint`, { timeout }, () => {
  const rnd = prng(SEED + 3)
  const hints = [undefined, 'pprof', 'groups', 'lines', 'speedscope', 'x.pb.gz', 'README']
  const outcomes: Record<string, number> = {}
  for (let i = 0; i < CASES; i++) {
    // Random bytes biased towards the first bytes of each format, so each decoder is reached.
    const head = [[], [0x0a], [0x1f, 0x8b, 0x08, 0x00], [0x7b], [0x61, 0x3b]][int(rnd, 5)]!
    const b = Uint8Array.from([...head, ...Array.from({ length: int(rnd, 200) }, () => int(rnd, 256))])
    const nameHint = hints[int(rnd, hints.length)]
    tally(outcomes, `seed ${SEED + 3} case ${i}`, () => decodeAny(i % 2 ? gzip(b) : b, nameHint ? { nameHint } : {}))
  }
  report(outcomes, false)
})

const alphabet = ['main', 'work', 'a b', 'ü', '日本', ';', ' ', '  ', '\t', '\r', '0', '12', '-', '.', '{', '"', '\\', 'x'.repeat(50)]
function randomFolded(rnd: Rnd): string {
  const lines: string[] = []
  for (let l = int(rnd, 30); l > 0; l--) {
    const frames = Array.from({ length: 1 + int(rnd, 12) }, () =>
      Array.from({ length: 1 + int(rnd, 3) }, () => alphabet[int(rnd, alphabet.length)]).join(''),
    )
    lines.push(`${frames.join(';')} ${rnd() < 0.9 ? int(rnd, 1000) : rnd() * 10}`)
  }
  return lines.join(rnd() < 0.3 ? '\r\n' : '\n') + (rnd() < 0.5 ? '\n' : '')
}

test(`folded and lines: ${CASES} generated texts, mutated`, { timeout }, () => {
  const rnd = prng(SEED + 1)
  const enc = new TextEncoder()
  const outcomes: Record<string, number> = {}
  for (let i = 0; i < CASES; i++) {
    const src = enc.encode(randomFolded(rnd))
    const m = i % 4 === 0 ? src : mutate(src, rnd)
    const where = `seed ${SEED + 1} case ${i}`
    tally(outcomes, where, () => decodeFolded(m))
    tally(outcomes, `${where} lines`, () => decodeLines(m))
    if (i % 3 === 0) tally(outcomes, `${where} decodeAny`, () => decodeAny(m))
  }
  report(outcomes, true)
})

/** A random speedscope file: Kiln's own sampled export, or an evented profile. */
function randomSpeedscope(rnd: Rnd): unknown {
  const names = Array.from({ length: 1 + int(rnd, 8) }, (_, i) => `f${i}`)
  if (rnd() < 0.5) {
    const b = new ProfileBuilder({
      sampleTypes: [{ type: 'cpu', unit: 'nanoseconds' }],
      periodType: { type: 'cpu', unit: 'nanoseconds' },
      period: 0,
      timeMs: 0,
      durationNanos: 0,
    })
    for (let s = int(rnd, 20); s > 0; s--)
      b.addNames(
        Array.from({ length: 1 + int(rnd, 6) }, () => names[int(rnd, names.length)]!),
        [1 + int(rnd, 100)],
      )
    return JSON.parse(new TextDecoder().decode(encodeSpeedscope(b.build())))
  }
  const events: object[] = []
  const open: number[] = []
  let at = 0
  for (let e = int(rnd, 40); e > 0; e--) {
    at += int(rnd, 5)
    if (open.length && rnd() < 0.45) events.push({ type: 'C', frame: open.pop()!, at })
    else {
      const frame = int(rnd, names.length)
      open.push(frame)
      events.push({ type: 'O', frame, at })
    }
  }
  while (open.length) events.push({ type: 'C', frame: open.pop()!, at: ++at })
  return {
    $schema: 'https://www.speedscope.app/file-format-schema.json',
    shared: { frames: names.map((name) => ({ name })) },
    profiles: [{ type: 'evented', name: 'e', unit: 'milliseconds', startValue: 0, endValue: at, events }],
  }
}

const oddValues: unknown[] = [
  null,
  -1,
  0,
  1e308,
  -1e308,
  0.5,
  'O',
  'C',
  'sampled',
  'evented',
  '',
  [],
  {},
  [[0]],
  2 ** 53,
  99999,
  true,
  { name: 1 },
]
/** Replaces one value somewhere in the JSON tree with an odd one, or deletes it. */
function mutateJson(v: unknown, rnd: Rnd): unknown {
  if (v === null || typeof v !== 'object' || rnd() < 0.15) return oddValues[int(rnd, oddValues.length)]
  const copy: Record<string, unknown> | unknown[] = Array.isArray(v) ? [...v] : { ...(v as Record<string, unknown>) }
  const keys = Object.keys(copy)
  if (keys.length === 0) return oddValues[int(rnd, oddValues.length)]
  const k = keys[int(rnd, keys.length)]!
  if (rnd() < 0.1 && !Array.isArray(copy)) delete copy[k]
  else (copy as Record<string, unknown>)[k] = mutateJson((copy as Record<string, unknown>)[k], rnd)
  return copy
}

test(`speedscope: ${CASES} generated files, mutated structurally and byte-wise`, { timeout }, () => {
  const rnd = prng(SEED + 2)
  const enc = new TextEncoder()
  const outcomes: Record<string, number> = {}
  for (let i = 0; i < CASES; i++) {
    const file = randomSpeedscope(rnd)
    let json = file
    for (let k = i % 3; k > 0; k--) json = mutateJson(json, rnd)
    const text = enc.encode(JSON.stringify(json))
    const m = i % 4 === 3 ? mutate(text, rnd) : text
    const where = `seed ${SEED + 2} case ${i}`
    tally(outcomes, where, () => decodeSpeedscope(m))
    if (i % 3 === 0) tally(outcomes, `${where} decodeAny`, () => decodeAny(m))
  }
  report(outcomes, true)
})
