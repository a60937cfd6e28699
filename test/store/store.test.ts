import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore } from '../../src/store/index.ts'
import { makeLabels } from '../../src/model/labels.ts'
import { parseSelector } from '../../src/model/selector.ts'
import { topTable } from '../../src/model/tree.ts'

const dir = mkdtempSync(join(tmpdir(), 'kiln-store-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds'
const fns = ['', 'main', 'work', 'idle', 'hash']

test('writes series, merges stacks in SQL and reads them back by selector and time', async () => {
  const store = await openStore({ dataDir: dir, retentionDays: 0 })
  const t0 = Date.UTC(2026, 0, 1, 12)
  const w = (env: string, time: number, work: number) => ({
    profileType: CPU,
    labels: makeLabels([
      ['__name__', 'process_cpu'],
      ['service_name', 'api'],
      ['env', env],
    ]),
    timeMs: time,
    durationNs: 10e9,
    functions: fns,
    stacks: [
      [1, 2],
      [1, 3],
      [1, 2, 4],
    ],
    values: [work, 5, 1],
  })
  await Promise.all([store.writer.write('t1', [w('prod', t0, 10)]), store.writer.write('t1', [w('dev', t0 + 10_000, 20)])])
  await store.writer.write('t2', [w('prod', t0, 1000)])
  const sel = (q: string, from = t0, until = t0 + 60_000) => ({
    tenant: 't1',
    profileType: CPU,
    matchers: parseSelector(q).matchers,
    from,
    until,
  })

  const all = topTable(await store.reader.mergedTree(sel('{service_name="api"}')))
  assert.deepEqual(
    all.find((r) => r.name === 'work'),
    { name: 'work', self: 30, total: 32 },
  )
  assert.deepEqual(
    all.find((r) => r.name === 'main'),
    { name: 'main', self: 0, total: 42 },
  )

  const prod = topTable(await store.reader.mergedTree(sel('{env=~"pr.*"}')))
  assert.equal(prod.find((r) => r.name === 'work')!.self, 10, 'selector filters series')
  const early = topTable(await store.reader.mergedTree(sel('{}', t0, t0 + 5_000)))
  assert.equal(early.find((r) => r.name === 'work')!.self, 10, 'time range filters samples')

  assert.deepEqual(await store.reader.profileTypes(sel('{}')), [CPU])
  assert.deepEqual(await store.reader.labelValues(sel('{}'), 'env'), ['dev', 'prod'])
  assert.ok((await store.reader.labelNames(sel('{}'))).includes('service_name'))
  const tl = await store.reader.timeline(sel('{}'), { stepS: 10, groupBy: ['env'], aggregation: 'sum' })
  assert.deepEqual(tl.map((s) => [s.labels.env, s.points]).sort(), [
    ['dev', [[t0 + 10_000, 26]]],
    ['prod', [[t0, 16]]],
  ])
  assert.deepEqual(await store.reader.breakdown(sel('{}'), 'env'), [
    { value: 'dev', total: 26 },
    { value: 'prod', total: 16 },
  ])
  const other = topTable(await store.reader.mergedTree({ ...sel('{}'), tenant: 't2' }))
  assert.equal(other.find((r) => r.name === 'work')!.self, 1000, 'tenants are apart')
  await store.close()
})

test('a merged tree of 20,000 distinct functions names every one (the names query stays under max_query_size)', async () => {
  const store = await openStore({ dataDir: dir, retentionDays: 0 })
  const t0 = Date.UTC(2026, 0, 2, 12)
  const n = 20_000
  const functions = ['', 'main', ...Array.from({ length: n }, (_, k) => `pkg${k}.fn`)]
  await store.writer.write('wide', [
    {
      profileType: CPU,
      labels: makeLabels([['service_name', 'wide']]),
      timeMs: t0,
      durationNs: 10e9,
      functions,
      stacks: Array.from({ length: n }, (_, k) => [1, k + 2]),
      values: Array.from({ length: n }, () => 1),
    },
  ])
  const rows = topTable(await store.reader.mergedTree({ tenant: 'wide', profileType: CPU, matchers: [], from: t0, until: t0 + 1000 }))
  assert.equal(rows.length, n + 1)
  assert.ok(!rows.some((r) => r.name === '[unknown]'))
  await store.close()
})

test('a changed retention is applied to existing tables', async () => {
  const store = await openStore({ dataDir: dir, retentionDays: 9 })
  const rs = await store.client.query({
    query: "SELECT engine_full FROM system.tables WHERE database = 'kiln' AND name = 'samples'",
    format: 'JSONCompactEachRow',
  })
  const [[engine]] = (await rs.json()) as [[string]]
  assert.match(engine, /TTL toDateTime\(time\) \+ toIntervalDay\(9\)/)
  await store.close()
})

test('pipelined commits: a write whose new stacks a commit in flight is writing writes them too, and each is whole', async () => {
  const store = await openStore({ dataDir: dir, retentionDays: 0, commits: 2 })
  // Copies stay apart to be counted: no merge folds them meanwhile.
  for (const t of ['stacks', 'functions']) await store.client.command({ query: `SYSTEM STOP MERGES kiln.${t}` })
  const t0 = Date.UTC(2026, 0, 3, 12)
  const w = (time: number, v: number) => ({
    profileType: CPU,
    labels: makeLabels([['service_name', 'pipe']]),
    timeMs: time,
    durationNs: 10e9,
    functions: fns,
    stacks: [
      [1, 2],
      [1, 3, 4],
    ],
    values: [v, 1],
  })
  let firstDone = false
  const first = store.writer.write('pipe', [w(t0, 10)]).then(() => (firstDone = true))
  // The first commit begins on the next turn of the event loop; its inserts (fsynced) take longer than two turns.
  await new Promise((r) => setImmediate(r))
  await new Promise((r) => setImmediate(r))
  assert.equal(firstDone, false, 'the first commit is still in flight')
  const second = store.writer.write('pipe', [w(t0 + 10_000, 20)])
  await Promise.all([first, second])
  // Both commits carry the two stacks and four functions: neither waits on the other for them.
  const count = async (table: string) => {
    const rs = await store.client.query({ query: `SELECT count() FROM kiln.${table} WHERE tenant = 'pipe'`, format: 'JSONCompactEachRow' })
    return Number(((await rs.json()) as [[string]])[0][0])
  }
  assert.equal(await count('stacks'), 4)
  assert.equal(await count('functions'), 8)
  const rows = topTable(await store.reader.mergedTree({ tenant: 'pipe', profileType: CPU, matchers: [], from: t0, until: t0 + 60_000 }))
  assert.deepEqual(
    rows.find((r) => r.name === 'work'),
    { name: 'work', self: 30, total: 30 },
  )
  assert.deepEqual(
    rows.find((r) => r.name === 'hash'),
    { name: 'hash', self: 2, total: 2 },
  )
  // A third write of the same stacks, once both are durable, writes no stack again.
  await store.writer.write('pipe', [w(t0 + 20_000, 1)])
  assert.equal(await count('stacks'), 4)
  for (const t of ['stacks', 'functions']) await store.client.command({ query: `SYSTEM START MERGES kiln.${t}` })
  await store.close()
})
