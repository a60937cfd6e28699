/**
 * JFR decoding: the Pyroscope Java fixtures against their expected folded stacks (context labels
 * included), a recording the JDK writes here checked against the JDK's own `jfr` tool, and every
 * way a recording can be broken.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { decodeJfr, decodeLabelsSnapshot, decodeAny, sniffFormat, formats, gzip, type JfrProfile } from '../../src/formats/index.ts'
import { profileTypeId, toFolded, totals, type Profile } from '../../src/model/profile.ts'
import { isKilnError } from '../../src/model/errors.ts'
import { expectedFolded, gunzipped, hotJfr, jfrTool, noJdk, noSharedJfr, readJfrFixture, recordHot } from './jfr-support.ts'

const typeIds = (ps: JfrProfile[]) =>
  ps.flatMap((p) =>
    p.profile.sampleTypes.map((t) =>
      profileTypeId({
        name: p.metric,
        sampleType: t.type,
        sampleUnit: t.unit,
        periodType: p.profile.periodType.type,
        periodUnit: p.profile.periodType.unit,
      }),
    ),
  )

/** Folded stacks of the samples whose labels are exactly `want`, values divided by `div`. */
function foldedFor(p: Profile, want: string[][], div: number, typeIndex = 0): string {
  const key = JSON.stringify(want)
  const samples = p.samples
    .filter((s) => JSON.stringify((s.labels ?? []).map((l) => [...l])) === key)
    .map((s) => ({ ...s, values: s.values.map((v) => v / div) }))
  return toFolded({ ...p, samples }, typeIndex)
}
const sorted = (folded: string) => folded.trim().split('\n').sort().join('\n')

function compareWithExpected(jfr: string, labels: string | undefined, expected: string): void {
  const out = decodeJfr(readJfrFixture(jfr), { labels: labels ? readJfrFixture(labels) : undefined, sampleRate: 100 })
  assert.deepEqual(typeIds(out), ['process_cpu:cpu:nanoseconds:cpu:nanoseconds'])
  const cpu = out[0]!.profile
  const want = expectedFolded(expected)
  let covered = 0
  for (const [key, folded] of Object.entries(want)) {
    const m = /^kafka\.app\.(cpu|itimer)\{(.*)\}$/.exec(key)
    assert.ok(m, key)
    const labelPairs = m[2] ? m[2].split(',').map((kv) => kv.split('=')) : []
    // 100 Hz: each execution sample is 1e7 ns; the expectation counts samples.
    assert.equal(sorted(foldedFor(cpu, labelPairs, 1e7)), sorted(folded), key)
    covered += folded
      .trim()
      .split('\n')
      .reduce((n, line) => n + Number(line.slice(line.lastIndexOf(' ') + 1)), 0)
  }
  assert.equal(covered * 1e7, totals(cpu)[0], 'every sample belongs to one expected series')
}

test('dump1 (async-profiler itimer, Pyroscope context labels): folded stacks per thread_name as expected', { skip: noSharedJfr }, () => {
  compareWithExpected('dump1.jfr.gz', 'dump1.labels.pb.gz', 'dump1.json.gz')
})

test('Kafka recording (async-profiler cpu): folded stacks as expected, native and JIT frames named like Pyroscope', {
  skip: noSharedJfr,
}, () => {
  compareWithExpected('cortex-dev-01__kafka-0__cpu__0.jfr.gz', undefined, 'cortex-dev-01__kafka-0__cpu__0.json.gz')
  const cpu = decodeJfr(readJfrFixture('cortex-dev-01__kafka-0__cpu__0.jfr.gz'))[0]!.profile
  assert.ok(cpu.functions.includes('libc-2.31.so.clock_gettime'), 'native frames are library.symbol')
  assert.ok(cpu.functions.includes('.unknown_Java'), 'async-profiler pseudo-frames keep their empty class')
})

test('labels snapshot: context id → sorted label pairs; without it samples carry no labels', { skip: noSharedJfr }, () => {
  const ctx = decodeLabelsSnapshot(gunzipped('dump1.labels.pb.gz'))
  assert.deepEqual([...ctx.keys()].sort(), [1, 2, 3, 4])
  assert.deepEqual(
    new Set([...ctx.values()].map((l) => l.map(([k, v]) => `${k}=${v}`).join())),
    new Set(['thread_name=pool-2-thread-1', 'thread_name=pool-2-thread-3', 'thread_name=pool-2-thread-5', 'thread_name=pool-2-thread-7']),
  )
  const plain = decodeJfr(readJfrFixture('dump1.jfr.gz'))[0]!.profile
  assert.ok(plain.samples.every((s) => !s.labels))
  const labelled = decodeJfr(readJfrFixture('dump1.jfr.gz'), { labels: readJfrFixture('dump1.labels.pb.gz') })[0]!.profile
  assert.equal(totals(labelled)[0], totals(plain)[0], 'labels split samples, never drop them')
})

test('profile time is the recording start; period is the request rate, else the recording interval', () => {
  const cases: [string, Uint8Array, number][] = [['hot.jfr (JDK, Java samples every 20 ms)', hotJfr(), 2e7]]
  if (!noSharedJfr) cases.push(['dump1 (async-profiler, interval=10000000 ns)', gunzipped('dump1.jfr.gz'), 1e7])
  const cpu = (ps: JfrProfile[]) => ps.find((p) => p.metric === 'process_cpu')!.profile
  for (const [name, bytes, interval] of cases) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset)
    const startNs = Number(dv.getBigInt64(32))
    const durationNs = Number(dv.getBigInt64(40))
    const own = cpu(decodeJfr(bytes))
    assert.equal(own.timeMs, Math.floor(startNs / 1e6), name)
    assert.equal(own.durationNanos, durationNs, name)
    assert.equal(own.period, interval, name)
    const at25 = cpu(decodeJfr(bytes, { sampleRate: 25 }))
    assert.equal(at25.period, 4e7, name)
    assert.equal(totals(at25)[0], (4e7 / interval) * totals(own)[0]!, name)
  }
})

test('format registry: sniffed as jfr by content and name; decodeAny gives the first profile', () => {
  const bytes = hotJfr()
  assert.equal(sniffFormat(bytes), 'jfr')
  const claims = Object.values(formats)
    .filter((f) => f.sniff(bytes))
    .map((f) => f.name)
  assert.deepEqual(claims, ['jfr'])
  const r = decodeAny(gzip(bytes), { nameHint: 'x.jfr' })
  assert.equal(r.format, 'jfr')
  assert.equal(r.profile.sampleTypes[0]!.type, 'cpu')
})

const jdkSkip = noJdk()

test('a recording the JDK writes here: hot method dominates CPU; counts, stacks and delays agree with `jfr`', {
  skip: jdkSkip,
  timeout: 300_000,
}, () => {
  const file = recordHot()
  const out = decodeJfr(new Uint8Array(readFileSync(file)))
  const ids = typeIds(out)
  for (const id of [
    'process_cpu:cpu:nanoseconds:cpu:nanoseconds',
    'memory:alloc_in_new_tlab_objects:count:space:bytes',
    'memory:alloc_outside_tlab_bytes:bytes:space:bytes',
    'mutex:contentions:count:mutex:count',
    'mutex:delay:nanoseconds:mutex:count',
  ]) {
    assert.ok(ids.includes(id), `${id} in ${ids.join(' ')}`)
  }
  const get = (metric: string, type: string) => out.find((p) => p.metric === metric && p.profile.sampleTypes[0]!.type === type)!.profile

  // The hot method: most CPU time is spent in Hot.spin itself (the leaf).
  const cpu = get('process_cpu', 'cpu')
  assert.equal(cpu.period, 2e7, 'the recording samples Java every 20 ms')
  const spinId = cpu.functions.indexOf('Hot.spin')
  const spinSelf = cpu.samples.filter((s) => s.stack.at(-1) === spinId).reduce((n, s) => n + s.values[0]!, 0)
  assert.ok(spinSelf > 0.6 * totals(cpu)[0]!, `Hot.spin self ${spinSelf} of ${totals(cpu)[0]}`)

  // Event counts, as the JDK's own reader counts them.
  const summary = jfrTool(['summary', file])
  const count = (event: string) => Number(new RegExp(`^\\s*${event.replace('.', '\\.')}\\s+(\\d+)`, 'm').exec(summary)?.[1] ?? 0)
  assert.equal(totals(cpu)[0]! / 2e7, count('jdk.ExecutionSample'))
  assert.equal(totals(get('memory', 'alloc_in_new_tlab_objects'))[0], count('jdk.ObjectAllocationInNewTLAB'))
  assert.equal(totals(get('memory', 'alloc_outside_tlab_objects'))[0], count('jdk.ObjectAllocationOutsideTLAB'))
  const lock = get('mutex', 'contentions')
  assert.equal(totals(lock)[0], count('jdk.JavaMonitorEnter'))

  // CPU stacks, and lock delays in ns, from `jfr print --json`.
  type Ev = { values: { duration?: string; stackTrace: { frames: { method: { name: string; type: { name: string } } }[] } } }
  const events = (type: string) =>
    JSON.parse(jfrTool(['print', '--json', '--stack-depth', '64', '--events', type, file])).recording.events as Ev[]
  const lambda = (s: string) => s.replace(/\$\$Lambda[$\w+./]*$/, () => '$$Lambda$_')
  const theirs = new Map<string, number>()
  for (const e of events('jdk.ExecutionSample')) {
    const k = e.values.stackTrace.frames
      .map((f) => `${lambda(f.method.type.name)}.${f.method.name}`)
      .reverse()
      .join(';')
    theirs.set(k, (theirs.get(k) ?? 0) + 1)
  }
  const ours = toFolded(cpu)
    .trim()
    .split('\n')
    .map((l) => l.replace(/ (\d+)$/, (_, n: string) => ` ${Number(n) / 2e7}`))
  assert.deepEqual(ours.sort(), [...theirs].map(([k, v]) => `${k} ${v}`).sort())
  const delay = events('jdk.JavaMonitorEnter').reduce((n, e) => n + Number(/^PT([\d.]+)S$/.exec(e.values.duration!)![1]) * 1e9, 0)
  assert.ok(Math.abs(totals(lock)[1]! - delay) < 1e3 * count('jdk.JavaMonitorEnter'), `delay ${totals(lock)[1]} ns vs jfr's ${delay} ns`)
})

function assertBadJfr(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isKilnError(e), `not a KilnError: ${e}`)
    assert.equal(e.code, 'KILN_BAD_JFR')
    assert.match(e.message, message)
    return true
  })
}

test('not a recording, truncated, unfinished, corrupt labels: KILN_BAD_JFR saying where', () => {
  const bytes = new Uint8Array(hotJfr())
  assertBadJfr(() => decodeJfr(new TextEncoder().encode('main;foo 1\n')), /not a JFR recording: it does not start with "FLR\\0"/)
  assertBadJfr(() => decodeJfr(bytes.subarray(0, 40)), /truncated chunk header: 40 of 68 bytes at byte 0/)
  for (const n of [100, 5000, bytes.length >> 1, bytes.length - 1]) {
    assertBadJfr(
      () => decodeJfr(bytes.subarray(0, n)),
      new RegExp(`chunk at byte 0 says it is ${bytes.length} bytes but ${n} are left \\(truncated file\\?\\)`),
    )
  }
  const unfinished = Uint8Array.from(bytes)
  new DataView(unfinished.buffer).setBigInt64(8, 0n)
  assertBadJfr(() => decodeJfr(unfinished), /unfinished \(size 0\)/)
  const badMeta = Uint8Array.from(bytes)
  new DataView(badMeta.buffer).setBigInt64(24, 70n)
  assertBadJfr(() => decodeJfr(badMeta), /at byte \d+/)
  assertBadJfr(
    () => decodeJfr(bytes, { labels: Uint8Array.from([0x0a, 0x20, 0x08]) }),
    /labels \(LabelsSnapshot protobuf\) length 32 at byte 2 runs past the end/,
  )
  // Two chunks where the second is cut: the error names the chunk's offset.
  const two = new Uint8Array(bytes.length * 2 - 10)
  two.set(bytes)
  two.set(bytes.subarray(0, bytes.length - 10), bytes.length)
  assertBadJfr(() => decodeJfr(two), new RegExp(`chunk at byte ${bytes.length} says it is`))
})

test('two whole chunks: every sample counted once per chunk', () => {
  const bytes = new Uint8Array(hotJfr())
  const two = new Uint8Array(bytes.length * 2)
  two.set(bytes)
  two.set(bytes, bytes.length)
  const one = decodeJfr(bytes)[0]!.profile
  const both = decodeJfr(two)[0]!.profile
  assert.equal(totals(both)[0], 2 * totals(one)[0]!)
  assert.equal(
    toFolded(both),
    toFolded(one).replace(/ (\d+)$/gm, (_, n: string) => ` ${2 * Number(n)}`),
  )
})
