import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { decodePprof, encodePprof } from '../../src/formats/pprof.ts'
import { ProtoWriter } from '../../src/formats/proto.ts'
import { gzip } from '../../src/formats/gzip.ts'
import { DOTNET_STACKS, DOTNET_TYPES, dotnetPprof } from './dotnet.ts'
import { goTopLines } from './go-lines.ts'
import { toFolded, totals, type Profile } from '../../src/model/profile.ts'
import type { KilnError } from '../../src/model/errors.ts'
import {
  BROKEN_FIXTURES,
  GOLDEN_DIR,
  NO_SHARED,
  foldedViaPprofFormat,
  haveGo,
  haveShared,
  pprofFixtures,
  readFixture,
  viaGo,
  viaPprofFormat,
} from './support.ts'

const good = pprofFixtures().filter((f) => !BROKEN_FIXTURES.has(f))
const typeNames = (p: Profile) => p.sampleTypes.map((t) => `${t.type}/${t.unit}`)

test('every pprof fixture decodes; sample types, totals and metadata agree with pprof-format', (t) => {
  if (!haveShared) t.diagnostic(NO_SHARED)
  assert.ok(good.length >= 8, `expected the pprof fixtures, found ${good.length}`)
  for (const f of good) {
    const bytes = readFixture(f)
    const p = decodePprof(bytes)
    const ind = viaPprofFormat(bytes)
    assert.deepEqual(typeNames(p), ind.sampleTypes, f)
    assert.deepEqual(totals(p), ind.totals, f)
    const S = ind.p.stringTable.strings
    assert.equal(p.period, Number(ind.p.period), f)
    assert.equal(p.periodType.type, S[Number(ind.p.periodType?.type ?? 0)], f)
    assert.equal(p.timeMs, Math.round(Number(ind.p.timeNanos) / 1e6), f)
    assert.equal(p.durationNanos, Number(ind.p.durationNanos), f)
    assert.equal(p.defaultSampleType, S[Number(ind.p.defaultSampleType)] || undefined, f)
  }
})

test('sample types, totals and every stack agree with go tool pprof -raw', (t) => {
  if (!haveGo()) return t.skip('go is not installed (Debian golang-go; .ci/run installs it)')
  for (const f of good) {
    const p = decodePprof(readFixture(f))
    const go = viaGo(readFixture(f))
    assert.deepEqual(typeNames(p), go.sampleTypes, f)
    assert.deepEqual(totals(p), go.totals, f)
    p.sampleTypes.forEach((st, i) => assert.equal(toFolded(p, i), go.folded[i], `${f} ${st.type}`))
  }
})

// Golden canonical dumps: KILN_UPDATE_GOLDEN=1 writes them, but only where the independent
// decoder gives the same folded text, so a stored golden was always checked once by another decoder.
const goldenFixtures = ['cpu.pb.gz', 'block.pprof', 'goroutine.pprof', 'no_addr_no_line.pb.gz', 'nodejs-wall.pb.gz']
test('golden folded dumps of small fixtures, also rebuilt from pprof-format and from Go', (t) => {
  if (!haveGo()) t.diagnostic('go is not installed: goldens checked against pprof-format only')
  for (const f of goldenFixtures) {
    const bytes = readFixture(f)
    const p = decodePprof(bytes)
    const go = haveGo() ? viaGo(bytes) : undefined
    p.sampleTypes.forEach((st, i) => {
      const file = join(GOLDEN_DIR, 'pprof', `${f}.${st.type}.folded`)
      const ours = toFolded(p, i)
      assert.equal(ours, foldedViaPprofFormat(bytes, i), `${f} ${st.type}: Kiln and pprof-format disagree`)
      if (go) assert.equal(ours, go.folded[i], `${f} ${st.type}: Kiln and go tool pprof disagree`)
      if (process.env.KILN_UPDATE_GOLDEN) {
        mkdirSync(join(GOLDEN_DIR, 'pprof'), { recursive: true })
        writeFileSync(file, ours)
      }
      assert.ok(existsSync(file), `${file} is missing; run with KILN_UPDATE_GOLDEN=1 to write it`)
      assert.equal(ours, readFileSync(file, 'utf8'), `${f} ${st.type} differs from ${file}`)
    })
  }
})

test('invalid UTF-8 in the string table is KILN_BAD_PPROF, saying where', () => {
  assert.throws(
    () => decodePprof(readFixture('invalid_utf8.pb.gz')),
    (e: KilnError) => {
      assert.equal(e.code, 'KILN_BAD_PPROF')
      assert.match(e.message, /invalid UTF-8 .*byte \d+.*string_table #\d+/)
      return true
    },
  )
})

/** The profile with each frame named `name file:line [binary]`, so that toFolded compares sources too. */
function withSources(p: Profile): Profile {
  const functions = p.functions.map((n, i) => {
    const s = p.sources?.[i]
    return s ? `${n} ${s.file}:${s.line} [${s.mapping ?? ''} ${s.buildId ?? ''}]` : n
  })
  return { ...p, functions }
}

/** A small pprof written field by field, so each case states exactly what it contains. */
interface Raw {
  strings: string[]
  sampleTypes: [number, number][]
  samples: { locs: number[]; values: number[]; labels?: [number, number, number][] }[]
  locations?: { id: number; mapping?: number; address?: number; lines: number[] }[]
  functions?: { id: number; name: number; systemName?: number }[]
  mappings?: { id: number; filename: number }[]
  timeNanos?: number
}
function rawPprof(r: Raw): Uint8Array {
  const w = new ProtoWriter()
  for (const [type, unit] of r.sampleTypes) w.message(1, (m) => m.varint(1, type).varint(2, unit))
  for (const s of r.samples) {
    w.message(2, (m) => {
      m.packedVarints(1, s.locs).packedVarints(2, s.values)
      for (const [k, str, num] of s.labels ?? []) m.message(3, (l) => l.varint(1, k).varint(2, str).varint(3, num))
    })
  }
  for (const m of r.mappings ?? []) w.message(3, (x) => x.varint(1, m.id).varint(5, m.filename))
  for (const l of r.locations ?? []) {
    w.message(4, (x) => {
      x.varint(1, l.id)
        .varint(2, l.mapping ?? 0)
        .varint(3, l.address ?? 0)
      for (const fn of l.lines) x.message(4, (ln) => ln.varint(1, fn).varint(2, 10))
    })
  }
  for (const f of r.functions ?? [])
    w.message(5, (x) =>
      x
        .varint(1, f.id)
        .varint(2, f.name)
        .varint(3, f.systemName ?? 0),
    )
  for (const s of r.strings) w.string(6, s, true)
  w.varint(9, r.timeNanos ?? 0)
  return w.finish()
}

const S = ['', 'cpu', 'nanoseconds', 'main', 'work', 'inlined', '/usr/lib/libc.so.6', 'thread', 'worker-1', 'bytes', 'sys_work']
const base: Raw = {
  strings: S,
  sampleTypes: [[1, 2]],
  samples: [],
  functions: [
    { id: 1, name: 3 },
    { id: 2, name: 4 },
    { id: 3, name: 5 },
    { id: 4, name: 0, systemName: 10 },
  ],
  mappings: [{ id: 1, filename: 6 }],
  locations: [
    { id: 1, lines: [1] }, // main
    { id: 2, lines: [3, 2] }, // inlined (leaf), inlined into work (caller)
    { id: 3, mapping: 1, address: 0x1234, lines: [] }, // libc, no symbols
    { id: 4, address: 0xabc, lines: [] }, // address only
    { id: 5, lines: [] }, // nothing at all
    { id: 6, lines: [4] }, // only a system name
  ],
}

test('stacks are root first, inlined lines expand caller last, nameless frames fall back', () => {
  const p = decodePprof(
    rawPprof({
      ...base,
      samples: [
        { locs: [3, 2, 1], values: [5] },
        { locs: [5, 4, 6, 1], values: [7] },
      ],
    }),
  )
  assert.equal(toFolded(p), 'main;sys_work;0xabc;[unknown] 7\nmain;work;inlined;libc.so.6 5\n')
  assert.equal(p.timeMs, 0, 'time_nanos 0 stays 0')
  assert.equal(p.defaultSampleType, undefined)
})

test('string labels become sample labels, numeric ones are dropped', () => {
  const p = decodePprof(
    rawPprof({
      ...base,
      samples: [
        {
          locs: [1],
          values: [1],
          labels: [
            [7, 8, 0],
            [9, 0, 4096],
          ],
        },
        { locs: [1], values: [2] },
      ],
      timeNanos: 1_700_000_000_123_456_000,
    }),
  )
  assert.deepEqual(p.samples[0]!.labels, [['thread', 'worker-1']])
  assert.equal(p.samples[1]!.labels, undefined)
  assert.equal(p.timeMs, 1_700_000_000_123)
})

test('broken references and values are located errors', () => {
  const cases: [Raw, string, RegExp][] = [
    [{ ...base, sampleTypes: [[1, 99]] }, 'KILN_BAD_PPROF', /sample_type #1 refers to string 99, but the string table has 11 entries/],
    [{ ...base, samples: [{ locs: [42], values: [1] }] }, 'KILN_BAD_PPROF', /sample #1 refers to location 42/],
    [{ ...base, samples: [{ locs: [1], values: [1, 2] }] }, 'KILN_BAD_PROFILE', /sample #1: sample has 2 values, expected 1/],
    [{ ...base, samples: [{ locs: [1], values: [-3] }] }, 'KILN_BAD_PROFILE', /sample #1: sample value -3 is negative/],
    [
      { ...base, functions: [{ id: 1, name: 77 }], samples: [{ locs: [1], values: [1] }] },
      'KILN_BAD_PPROF',
      /function 1 refers to string 77/,
    ],
    [
      { ...base, locations: [{ id: 1, lines: [9] }], samples: [{ locs: [1], values: [1] }] },
      'KILN_BAD_PPROF',
      /location #1 has a line of function 9, which is not in the profile/,
    ],
    [{ ...base, sampleTypes: [] }, 'KILN_BAD_PPROF', /no sample types/],
    [{ ...base, strings: ['x', ...S.slice(1)] }, 'KILN_BAD_PPROF', /must start with the empty string/],
    [{ ...base, strings: [] }, 'KILN_BAD_PPROF', /no string table/],
    [{ ...base, samples: [{ locs: [1], values: [1], labels: [[7, 55, 0]] }] }, 'KILN_BAD_PPROF', /sample #1 label refers to string 55/],
  ]
  for (const [raw, code, re] of cases) {
    assert.throws(
      () => decodePprof(rawPprof(raw)),
      (e: KilnError) => e.code === code && re.test(e.message),
      re.source,
    )
  }
  assert.throws(() => decodePprof(new Uint8Array(0)), { code: 'KILN_BAD_PPROF', message: /empty/ })
})

test('truncation is KILN_BAD_PPROF saying where, in raw and gzipped bodies', () => {
  const raw = rawPprof({ ...base, samples: [{ locs: [3, 2, 1], values: [5] }] })
  // Cut inside the last string of the table: a length that runs past the end.
  assert.throws(
    () => decodePprof(raw.subarray(0, raw.length - 12)),
    (e: KilnError) => {
      assert.equal(e.code, 'KILN_BAD_PPROF')
      assert.match(e.message, /corrupt or truncated: .*byte \d+.*, in string_table #\d+ \(byte \d+\)/)
      return true
    },
  )
  const gz = gzip(raw)
  assert.throws(() => decodePprof(gz.subarray(0, gz.length - 5)), { code: 'KILN_BAD_GZIP' })
})

test('a stack 100,000 frames deep is KILN_LIMIT, without building it', () => {
  const locs = new Array<number>(100_000).fill(1)
  assert.throws(() => decodePprof(rawPprof({ ...base, samples: [{ locs, values: [1] }] })), {
    code: 'KILN_LIMIT',
    message: /sample #1: stack is more than 4096 frames deep/,
  })
})

test('encodePprof round-trips every fixture and is read the same by pprof-format (and Go)', (t) => {
  for (const f of good) {
    const p = decodePprof(readFixture(f))
    for (const gz of [true, false]) {
      const bytes = encodePprof(p, { gzip: gz })
      assert.equal(bytes[0] === 0x1f, gz, f)
      const q = decodePprof(bytes)
      assert.deepEqual(q.sampleTypes, p.sampleTypes, f)
      assert.deepEqual({ ...q, functions: [], samples: [], sources: [] }, { ...p, functions: [], samples: [], sources: [] }, f)
      for (let i = 0; i < p.sampleTypes.length; i++) {
        assert.equal(toFolded(q, i), toFolded(p, i), `${f} type ${i}`)
        assert.equal(toFolded(withSources(q), i), toFolded(withSources(p), i), `${f} type ${i}, with files and lines`)
      }
      assert.deepEqual(
        q.samples.map((s) => s.labels),
        p.samples.map((s) => s.labels),
        f,
      )
      const ind = viaPprofFormat(bytes)
      assert.deepEqual(ind.totals, totals(p), f)
      assert.equal(foldedViaPprofFormat(bytes, 0), toFolded(p, 0), f)
    }
    // Dedup: one function per distinct name and file, one location per distinct frame.
    const ind = viaPprofFormat(encodePprof(p))
    const used = new Set(p.samples.flatMap((s) => s.stack.map((i) => p.functions[i])))
    assert.ok(
      ind.p.function.length <= p.functions.length - 1 && ind.p.function.length >= used.size,
      `${f}: ${ind.p.function.length} functions for ${used.size} used names`,
    )
    assert.ok(ind.p.location.length >= ind.p.function.length && ind.p.location.length <= p.functions.length - 1, f)
  }
  if (!haveGo()) return t.skip('go is not installed: Go did not read the encoded files')
  for (const f of ['cpu.pb.gz', 'heap.pb.gz', 'nodejs-wall.pb.gz']) {
    const p = decodePprof(readFixture(f))
    assert.deepEqual(viaGo(encodePprof(p)).totals, totals(p), f)
  }
})

test('a small pprof that repeats a deep inlined location is stopped by the frame budget', () => {
  const lines = new Array<number>(4000).fill(2)
  const samples = Array.from({ length: 2000 }, () => ({ locs: [1], values: [1] }))
  const raw = rawPprof({ ...base, locations: [{ id: 1, lines }], samples })
  assert.ok(raw.length < 64_000, `${raw.length} bytes`)
  assert.throws(() => decodePprof(raw), { code: 'KILN_LIMIT', message: /sample #\d+: the stacks add up to more than \d+ frames/ })
  // The same location, sampled a few times, is fine.
  assert.equal(decodePprof(rawPprof({ ...base, locations: [{ id: 1, lines }], samples: samples.slice(0, 3) })).samples.length, 3)
})

test('an inline pprof whose string table holds invalid UTF-8 is rejected, saying which entry', () => {
  const raw = rawPprof({ ...base, samples: [{ locs: [1], values: [1] }] })
  const bad = Uint8Array.from([...raw, 0x32, 0x02, 0xc3, 0x28]) // string_table entry 12: C3 28 is not UTF-8
  assert.throws(() => decodePprof(bad), { code: 'KILN_BAD_PPROF', message: /invalid UTF-8 in string at byte \d+, in string_table #12/ })
  assert.throws(() => decodePprof(gzip(bad)), { code: 'KILN_BAD_PPROF', message: /string_table #12/ })
})

test(".NET's pprof with every function id 0 is fixed up as Pyroscope does: function i takes location i's id", () => {
  const p = decodePprof(dotnetPprof())
  assert.deepEqual(
    p.sampleTypes.map((t) => t.type),
    DOTNET_TYPES.map(([t]) => t),
  )
  DOTNET_TYPES.forEach((_, i) => {
    const want = DOTNET_STACKS.filter(([, v]) => v[i])
      .map(([stack, v]) => `${stack.join(';')} ${v[i]}`)
      .sort()
    assert.equal(toFolded(p, i), want.length ? want.join('\n') + '\n' : '', DOTNET_TYPES[i]![0])
  })
  // The same profile with real ids decodes to the same stacks.
  assert.equal(toFolded(decodePprof(dotnetPprof({ functionIds: [1, 2, 3, 4, 5] }))), toFolded(p))
  // Not the .NET shape: a table one short of the locations, or only some ids 0, stays an error.
  assert.throws(() => decodePprof(dotnetPprof({ dropLastFunction: true })), {
    code: 'KILN_BAD_PPROF',
    message: /location #\d+ has a line of function \d+, which is not in the profile/,
  })
  assert.throws(() => decodePprof(dotnetPprof({ functionIds: [0, 2, 3, 4, 5] })), {
    code: 'KILN_BAD_PPROF',
    message: /has a line of function 1, which is not in the profile/,
  })
})

test('files, lines and binaries survive decode and encode: go tool pprof -lines -top reads the same rows', (t) => {
  const p = decodePprof(readFixture('cpu.pb.gz'))
  const main = p.functions.findIndex((n, i) => n === 'main.spin' && p.sources?.[i]?.line)
  assert.ok(main > 0, 'main.spin has a source line')
  assert.match(p.sources![main]!.file, /pprof-app\.go$/)
  assert.match(p.sources![main]!.mapping ?? '', /pprof-app/)
  if (!haveGo()) return t.skip('go is not installed (Debian golang-go): the encoded files were not read by Go')
  for (const [f, index] of [
    ['cpu.pb.gz', undefined],
    ['heap.pb.gz', 'alloc_space'],
    ['nodejs-wall.pb.gz', undefined],
  ] as const) {
    const bytes = readFixture(f)
    const rows = goTopLines(encodePprof(decodePprof(bytes)), index)
    assert.ok(
      rows.some((r) => /\S+:\d+$/.test(r)),
      `${f}: rows name file:line`,
    )
    // Kiln keeps frames, not which of them were inlined into one location: pprof's "(inline)" mark goes.
    const original = goTopLines(bytes, index).map((r) => r.replace(/ \(inline\)$/, ''))
    assert.deepEqual(rows, original.sort(), f)
  }
})
