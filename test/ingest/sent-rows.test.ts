import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodePprof, encodePprof } from '../../src/formats/pprof.ts'
import { Ingester } from '../../src/ingest/ingester.ts'
import { IngestPool } from '../../src/ingest/pool.ts'
import { ingestWrites } from '../../src/ingest/request.ts'
import { defaultLabelLimits } from '../../src/model/labels.ts'
import { defaultLimits } from '../../src/model/profile.ts'
import { topTable } from '../../src/model/tree.ts'
import { openStore } from '../../src/store/index.ts'
import { prepareWrites, SentRows, type IdRows, type PreparedWrite } from '../../src/store/prepare.ts'

const dir = mkdtempSync(join(tmpdir(), 'kiln-sent-rows-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const config = {
  maxDecompressedBytes: 64 << 20,
  limits: defaultLimits,
  labelLimits: defaultLabelLimits,
  retentionDays: 0,
  retention: '0',
  traceRetentionHours: 0,
}
const t0 = Date.now() - 60_000
const profile = decodePprof(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'pprof', 'cpu.pb.gz')))
profile.timeMs = t0
const body = encodePprof(profile, { gzip: true })
const params = { name: 'app.cpu{env=prod}', format: 'pprof' }

/** Each id of a part as a decimal string, and whether its row came with it. */
function idsOf(part: IdRows): { id: string; row: boolean }[] {
  return Array.from({ length: part.ends.length }, (_, i) => ({
    id: ((BigInt(part.ids[2 * i]!) << 32n) | BigInt(part.ids[2 * i + 1]!)).toString(),
    row: part.ends[i] !== (i ? part.ends[i - 1] : 0),
  }))
}
const parts = (ws: PreparedWrite[]) => ws.map((w) => [w.series, w.functions, w.stacks].map(idsOf))
const text = new TextDecoder()
/** Whether every id of the writes came with its row (true) or every one without (false). */
const every = (ws: PreparedWrite[], row: boolean) =>
  parts(ws)
    .flat(2)
    .every((x) => x.row === row)

test('an upload seen before lists the same ids without their rows, once each; another tenant and a forgotten one get rows', () => {
  const writes = ingestWrites(params, body, config, t0)
  assert.ok(writes.length >= 2, 'a profile of several sample types')
  const sent = new SentRows()
  const plain = prepareWrites('t', writes, 9)
  const first = prepareWrites('t', writes, 9, sent)
  const second = prepareWrites('t', writes, 9, sent)
  // The first time, what prepareWrites sends without SentRows, byte for byte.
  assert.deepEqual(parts(first), parts(plain))
  for (const [i, w] of first.entries()) assert.deepEqual(w.series.rows, plain[i]!.series.rows)
  assert.ok(every(first, true))
  // The second time: the same ids in each part, none with a row, and the same samples.
  const ids = (ws: PreparedWrite[]) => parts(ws).map((w) => w.map((p) => p.map((x) => x.id).sort()))
  assert.deepEqual(ids(second), ids(first))
  assert.ok(every(second, false))
  for (const [i, w] of second.entries()) {
    assert.equal(w.series.rows.length + w.functions.rows.length + w.stacks.rows.length, 0)
    assert.equal(text.decode(w.samples), text.decode(first[i]!.samples), `samples of write ${i}`)
    assert.equal(w.sampleCount, first[i]!.sampleCount)
  }
  assert.ok(every(prepareWrites('u', writes, 9, sent), true), 'another tenant gets rows')
  sent.forget('t')
  assert.ok(every(prepareWrites('t', writes, 9, sent), true), 'a forgotten tenant gets rows')
  // A series twice in one upload keeps its row each time (as without SentRows); the next upload lists it without.
  const twice = new SentRows()
  const repeated = [writes[0]!, { ...writes[0]!, timeMs: writes[0]!.timeMs + 1 }]
  assert.deepEqual(
    prepareWrites('t', repeated, 9, twice).map((x) => idsOf(x.series)[0]!.row),
    [true, true],
  )
  assert.deepEqual(
    prepareWrites('t', repeated, 9, twice).map((x) => idsOf(x.series)[0]!.row),
    [false, false],
  )
  // Past its limit it forgets everything.
  const small = new SentRows(10)
  prepareWrites('t', writes, 9, small)
  assert.ok(every(prepareWrites('t', writes, 9, small), true), 'past the limit')
})

test('frames of one name at other sources (or none) are other functions the second time too', () => {
  const w = ingestWrites(params, body, config, t0)[0]!
  const write = {
    ...w,
    functions: ['', 'f', 'f', 'f', 'f'],
    sources: [undefined, undefined, { file: 'a.go', line: 1 }, { file: 'a.go', line: 2 }, { file: 'b.go', line: 1 }],
    stacks: [[1], [2], [3], [4], [1, 2, 3, 4]],
    values: [1, 1, 1, 1, 1],
    spans: undefined,
  }
  const sent = new SentRows()
  const ids = (ws: PreparedWrite[]) => ws.map((x) => [x.functions, x.stacks].map((p) => idsOf(p).map((y) => y.id)))
  const first = prepareWrites('t', [write], 9, sent)
  assert.equal(first[0]!.functions.ends.length, 4)
  assert.deepEqual(ids(prepareWrites('t', [write], 9, sent)), ids(first))
})

test('a writer that does not hold an id sent without its row has the upload prepared again with every row, its samples written once', async () => {
  const pool = new IngestPool(1, config)
  // The pool's threads do not keep the process alive (a server's socket does): this does, meanwhile.
  const alive = setInterval(() => {}, 1000)
  after(() => {
    clearInterval(alive)
    return pool.close()
  })
  const sels = ingestWrites(params, body, config, t0).map((w) => ({
    tenant: 't',
    profileType: w.profileType,
    matchers: [],
    from: t0 - 1000,
    until: t0 + 60_000,
  }))
  const one = await openStore({ dataDir: join(dir, 'one'), retentionDays: 0 })
  const ingestOne = new Ingester(one, config, pool)
  const series = await ingestOne.request('t', params, body)
  assert.equal(await ingestOne.request('t', params, body), series)
  const twice = await Promise.all(sels.map(async (s) => topTable(await one.reader.mergedTree(s))))
  const written = one.writer.samplesWritten
  await one.close()
  // A writer with nothing written (as after a failed commit or a cleared cache), beside the same worker.
  const two = await openStore({ dataDir: join(dir, 'two'), retentionDays: 0 })
  const ingestTwo = new Ingester(two, config, pool)
  assert.equal(await ingestTwo.request('t', params, body), series)
  for (const [i, s] of sels.entries()) {
    const once = topTable(await two.reader.mergedTree(s))
    assert.ok(once.length > 10, `${s.profileType}: the functions are there`)
    assert.deepEqual(
      once,
      twice[i]!.map((r) => ({ ...r, self: r.self / 2, total: r.total / 2 })),
      `${s.profileType}: every function, each with its values once`,
    )
  }
  assert.equal(two.writer.samplesWritten * 2, written)
  await two.close()
})
