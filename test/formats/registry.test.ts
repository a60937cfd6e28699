import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  decodeAny,
  formatForName,
  formats,
  sniffFormat,
  encodePprof,
  encodeSpeedscope,
  encodeFolded,
  gzip,
  decodePprof,
  type FormatName,
} from '../../src/formats/index.ts'
import { toFolded } from '../../src/model/profile.ts'
import { BROKEN_FIXTURES, pprofFixtures, readFixture, ungzip } from './support.ts'

const enc = (s: string) => new TextEncoder().encode(s)

/** Named files of every format: the real pprof fixtures plus files Kiln writes itself. */
function namedFiles(): [string, Uint8Array][] {
  const cpu = decodePprof(readFixture('cpu.pb.gz'))
  return [
    ...pprofFixtures().map((f) => [f, readFixture(f)] as [string, Uint8Array]),
    ['cpu.pb', encodePprof(cpu, { gzip: false })],
    ['cpu.pb.gz', encodePprof(cpu)],
    ['cpu.speedscope.json', encodeSpeedscope(cpu)],
    ['cpu.speedscope.json.gz', gzip(encodeSpeedscope(cpu))],
    ['cpu.folded', encodeFolded(cpu)],
    ['cpu.collapsed.gz', gzip(encodeFolded(cpu))],
    ['spaces.txt', enc('main;handle request 4\r\n')],
  ]
}

test('content sniffs are disjoint: at most one format claims any input', () => {
  const inputs = [...namedFiles().map(([, b]) => ungzip(b)), enc(''), enc('{}'), enc('a'), enc('\n'), Uint8Array.from([0, 1, 2])]
  for (const b of inputs) {
    const claims = Object.values(formats)
      .filter((f) => f.sniff(b))
      .map((f) => f.name)
    assert.ok(claims.length <= 1, `claimed by ${claims.join(', ')}`)
  }
})

test('text that happens to parse as protobuf fields is still text', () => {
  // 'H' is field 9 (time_nanos) as a varint and 'P' a one-byte value: a valid protobuf prefix.
  assert.equal(sniffFormat(enc('HPHP')), 'folded')
  assert.throws(() => decodeAny(enc('HPHP')), { code: 'KILN_BAD_FOLDED', message: /^line 1: expected a count/ })
})

test('detection by content agrees with detection by name', () => {
  let compared = 0
  for (const [name, bytes] of namedFiles()) {
    const byName = formatForName(name)
    if (!byName) continue // profile_java & co. have no extension: content alone decides
    assert.equal(sniffFormat(ungzip(bytes)), byName, name)
    compared++
  }
  assert.ok(compared >= 12, `compared ${compared}`)
  const names: [string, FormatName | undefined][] = [
    ['groups', 'folded'],
    ['PPROF', 'pprof'],
    ['lines', 'lines'],
    ['x.lines', 'lines'],
    ['profile.json', undefined],
    ['README', undefined],
  ]
  for (const [n, f] of names) assert.equal(formatForName(n), f, n)
})

test('decodeAny decodes every format, gzipped or not, to the same stacks', () => {
  const cpu = decodePprof(readFixture('cpu.pb.gz'))
  const want = toFolded(cpu, 1)
  for (const [name, bytes] of namedFiles().filter(([n]) => n.startsWith('cpu.'))) {
    const r = decodeAny(bytes)
    assert.equal(r.format, formatForName(name), name)
    const typeIndex = r.format === 'pprof' ? 1 : 0
    assert.equal(toFolded(r.profile, typeIndex), want, name)
  }
  for (const f of pprofFixtures().filter((x) => !BROKEN_FIXTURES.has(x))) assert.equal(decodeAny(readFixture(f)).format, 'pprof', f)
})

test('a name hint picks the format; a hint the content contradicts is KILN_BAD_FORMAT', () => {
  assert.equal(toFolded(decodeAny(enc('a;b\na;b\n'), { nameHint: 'lines' }).profile), 'a;b 2\n')
  assert.equal(decodeAny(enc('a;b 3\n'), { nameHint: 'groups' }).format, 'folded')
  assert.deepEqual(decodeAny(enc('a 3'), { sampleType: { type: 'cpu', unit: 'nanoseconds' } }).profile.sampleTypes, [
    { type: 'cpu', unit: 'nanoseconds' },
  ])
  assert.throws(() => decodeAny(enc('a;b 3\n'), { nameHint: 'pprof' }), {
    code: 'KILN_BAD_FORMAT',
    message: /not pprof: it looks like folded/,
  })
  assert.throws(() => decodeAny(readFixture('cpu.pb.gz'), { nameHint: 'x.folded' }), {
    code: 'KILN_BAD_FORMAT',
    message: /not folded: it looks like pprof/,
  })
  assert.throws(() => decodeAny(enc('{"nodes": []}')), { code: 'KILN_BAD_FORMAT', message: /JSON but not a speedscope file/ })
  assert.throws(() => decodeAny(new Uint8Array(0)), { code: 'KILN_BAD_FORMAT', message: /empty/ })
  assert.throws(() => decodeAny(gzip(new Uint8Array(0))), { code: 'KILN_BAD_FORMAT', message: /empty/ })
  assert.throws(() => decodeAny(Uint8Array.from([0xff, 0xff, 0x00])), { code: 'KILN_BAD_FORMAT', message: /cannot tell the format/ })
  assert.throws(() => decodeAny(readFixture('invalid_utf8.pb.gz')), { code: 'KILN_BAD_PPROF' })
  assert.throws(() => decodeAny(gzip(new Uint8Array(2 << 20)), { maxBytes: 1 << 20 }), { code: 'KILN_TOO_LARGE' })
})

test('a truncated pprof is reported as a broken pprof, not an unknown format', () => {
  const raw = ungzip(readFixture('cpu.pb.gz'))
  assert.throws(() => decodeAny(raw.subarray(0, raw.length - 10)), { code: 'KILN_BAD_PPROF', message: /truncated/ })
})
