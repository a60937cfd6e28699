import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { decodePprof } from '../../src/formats/pprof.ts'
import { pprofWrites } from '../../src/ingest/convert.ts'
import {
  prepareWrite,
  prepareWrites,
  prepareWritesPacked,
  unpackWrites,
  type IdRows,
  type PreparedWrite,
  type SeriesWrite,
} from '../../src/store/prepare.ts'

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'pprof')
const text = new TextDecoder()

/** A part's rows as text, each checked against its id (a TabSeparated row's second column, a series row's series_id). */
function rowsOf(part: IdRows): string[] {
  const out: string[] = []
  let at = 0
  for (let i = 0; i < part.ends.length; i++) {
    const row = text.decode(part.rows.subarray(at, part.ends[i]))
    at = part.ends[i]!
    const id = ((BigInt(part.ids[2 * i]!) << 32n) | BigInt(part.ids[2 * i + 1]!)).toString()
    assert.equal(row.startsWith('{') ? (JSON.parse(row) as { series_id: string }).series_id : row.split('\t')[1], id, `row ${i}'s id`)
    assert.ok(row.endsWith('\n'))
    out.push(row)
  }
  assert.equal(at, part.rows.length, 'no bytes after the last row')
  return out
}

/** A prepared write's fields as plain values (its views' contents), to compare two of them. */
const contents = (w: PreparedWrite) => {
  const part = (p: IdRows) => ({ ids: [...p.ids], rows: text.decode(p.rows), ends: [...p.ends] })
  return {
    seriesId: w.seriesId,
    sampleCount: w.sampleCount,
    series: part(w.series),
    functions: part(w.functions),
    stacks: part(w.stacks),
    samples: text.decode(w.samples),
  }
}

test("an upload's writes carry each function and stack row once, and every one their samples use", () => {
  let profiles = 0
  for (const f of readdirSync(fixtures)) {
    let p: ReturnType<typeof decodePprof>
    try {
      p = decodePprof(readFileSync(join(fixtures, f)))
    } catch {
      continue
    }
    const writes = pprofWrites(p, { app: 'app.cpu', labels: [['env', 'prod']], fromMs: 1, untilMs: 2, sampleRate: 100 })
    const together = prepareWrites('tenant', writes, 1700000000)
    const alone = writes.map((w) => prepareWrite('tenant', w, 1700000000))
    const fnRows = together.flatMap((w) => rowsOf(w.functions))
    const stackRows = together.flatMap((w) => rowsOf(w.stacks))
    assert.equal(new Set(fnRows).size, fnRows.length, `${f}: a function row repeated`)
    assert.equal(new Set(stackRows).size, stackRows.length, `${f}: a stack row repeated`)
    // The same rows as each write prepared on its own, less the repeats.
    const sorted = (xs: string[]) => [...new Set(xs)].sort()
    assert.deepEqual(sorted(fnRows), sorted(alone.flatMap((w) => rowsOf(w.functions))), `${f}: function rows`)
    assert.deepEqual(sorted(stackRows), sorted(alone.flatMap((w) => rowsOf(w.stacks))), `${f}: stack rows`)
    const fnIds = new Set(fnRows.map((r) => r.split('\t')[1]))
    const stacks = new Map(stackRows.map((r) => [r.split('\t')[1], r.split('\t')[2]!]))
    for (const [i, w] of together.entries()) {
      assert.deepEqual(rowsOf(w.series), rowsOf(alone[i]!.series))
      assert.equal(text.decode(w.samples), text.decode(alone[i]!.samples), `${f}: samples of write ${i}`)
      // Every stack a sample names is in the upload (and below, every function of every stack).
      const rows = text.decode(w.samples).split('\n').slice(0, -1)
      assert.equal(rows.length, w.sampleCount ? 1 : 0, `${f}: one samples_in row a write`)
      for (const row of rows)
        for (const id of row.split('\t')[5]!.slice(1, -1).split(',')) assert.ok(stacks.has(id), `${f}: the stack ${id} of write ${i}`)
    }
    for (const frames of stacks.values())
      for (const id of frames.slice(1, -1).split(',').filter(Boolean)) assert.ok(fnIds.has(id), `${f}: function ${id}`)
    // What a worker posts (made without the views) gives the same writes; it moves to the main
    // thread as two buffers, whatever the number of writes, and back as the same views.
    const before = together.map(contents)
    const posted = prepareWritesPacked('tenant', writes, 1700000000)
    assert.equal(posted.buffers.length, 2)
    const views = unpackWrites(posted)
    assert.deepEqual(views.map(contents), before, `${f}: the worker's layout`)
    const moved = structuredClone(posted, { transfer: posted.buffers })
    assert.equal(views[0]!.samples.length, 0, 'the buffers moved, not copied')
    assert.deepEqual(unpackWrites(moved).map(contents), before, `${f}: the writes after the move`)
    profiles++
  }
  assert.ok(profiles >= 5)
})

test('rows escape text for TabSeparated and encode it as UTF-8; samples merge by stack and span', () => {
  const w: SeriesWrite = {
    profileType: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds',
    labels: [['service_name', 'sé']],
    timeMs: 1500,
    durationNs: 10.4,
    functions: ['', 'a\\b\tc', 'é😀 \ud800', 'n\nr\r'],
    sources: [undefined, { file: 'x\\y.go', line: 3.6 }, undefined, undefined],
    stacks: [[1, 2], [1, 2], [3], [1, 2], [3]],
    values: [1, 2, 4, 8, 0],
    spans: ['', '', '77', '77', ''],
  }
  const [p] = prepareWrites('t\te', [w], 9)
  const fns = rowsOf(p!.functions)
  assert.equal(fns.length, 3)
  assert.match(fns[0]!, /^t\\te\t\d+\ta\\\\b\\tc\t9\tx\\\\y\.go\t4\t\t\n$/)
  assert.match(fns[1]!, /^t\\te\t\d+\té😀 \uFFFD\t9\t\t0\t\t\n$/)
  assert.match(fns[2]!, /^t\\te\t\d+\tn\\nr\\r\t9\t\t0\t\t\n$/)
  assert.equal(rowsOf(p!.stacks).length, 2)
  const samples = text.decode(p!.samples).split('\n').slice(0, -1)
  assert.equal(samples.length, 1)
  const [head, stackIds, values, spans] = [samples[0]!.split('\t').slice(0, 5).join('\t'), ...samples[0]!.split('\t').slice(5)]
  assert.equal(head, `t\\te\tprocess_cpu:cpu:nanoseconds:cpu:nanoseconds\t${p!.seriesId}\t1.500\t10`)
  // [1,2] without a span (1 + 2), [3] under span 77 (4), [1,2] under span 77 (8); the 0 is dropped.
  const stackRows = new Map(rowsOf(p!.stacks).map((r) => [r.split('\t')[1]!, r.split('\t')[2]!]))
  const [s12, s3] = stackIds!.slice(1, -1).split(',')
  assert.equal(stackIds, `[${s12},${s3},${s12}]`)
  assert.notEqual(s12, s3)
  assert.equal(stackRows.get(s12!)!.split(',').length, 2)
  assert.equal(stackRows.get(s3!)!.split(',').length, 1)
  assert.equal(values, '[3,4,8]')
  assert.equal(spans, '[0,77,77]')
  assert.equal(p!.sampleCount, 3)
  // Without spans the span array is empty: the engine's view pads it with 0 (no span).
  const [q] = prepareWrites('t', [{ ...w, spans: undefined }], 9)
  assert.match(text.decode(q!.samples), /\t\[11,4\]\t\[\]\n$/)
})
