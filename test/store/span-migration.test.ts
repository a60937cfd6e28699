/**
 * A data directory from before samples had span_id opens, keeps its rows (read as no span) and
 * takes samples with spans; the span selection reads only those.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore } from '../../src/store/index.ts'
import { makeLabels } from '../../src/model/labels.ts'
import { topTable } from '../../src/model/tree.ts'
import { spanIdValue } from '../../src/model/span.ts'

const dir = mkdtempSync(join(tmpdir(), 'kiln-span-migration-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds'
const t0 = Date.UTC(2026, 0, 1, 12)
const write = (stacks: number[][], values: number[], spans?: string[]) => ({
  profileType: CPU,
  labels: makeLabels([
    ['__name__', 'process_cpu'],
    ['service_name', 'api'],
  ]),
  timeMs: t0,
  durationNs: 10e9,
  functions: ['', 'main', 'old', 'spanned', 'both'],
  stacks,
  values,
  ...(spans ? { spans } : {}),
})
const sel = (spanIds?: string[]) => ({ tenant: 't', profileType: CPU, matchers: [], from: t0, until: t0 + 60_000, spanIds })
const tops = async (store: Awaited<ReturnType<typeof openStore>>, spanIds?: string[]) =>
  Object.fromEntries(
    topTable(await store.reader.mergedTree(sel(spanIds)))
      .filter((r) => r.self > 0)
      .map((r) => [r.name, r.self]),
  )

test('samples written before span_id existed are read after the upgrade, as samples of no span', async () => {
  // The old layout: the store as it was, with the column gone and a row inserted the old way.
  const old = await openStore({ dataDir: dir, retentionDays: 0 })
  await old.writer.write('t', [write([[1, 2]], [7])])
  await old.client.command({ query: `ALTER TABLE ${old.db}.samples DROP COLUMN span_id` })
  await old.close()

  const store = await openStore({ dataDir: dir, retentionDays: 0 })
  try {
    assert.deepEqual(await tops(store), { old: 7 })
    const span = spanIdValue('00f067aa0ba902b7')!
    const other = spanIdValue('9a517183f26a089d')!
    // One stack under two spans and none: three rows, one stack row.
    await store.writer.write('t', [
      write(
        [
          [1, 3],
          [1, 4],
          [1, 4],
          [1, 4],
        ],
        [5, 1, 2, 4],
        [span, span, other, ''],
      ),
    ])
    assert.deepEqual(await tops(store), { old: 7, spanned: 5, both: 7 })
    assert.deepEqual(await tops(store, [span]), { spanned: 5, both: 1 })
    assert.deepEqual(await tops(store, [other]), { both: 2 })
    assert.deepEqual(await tops(store, []), {})
    const [row] = (await (
      await store.client.query({ query: `SELECT count() FROM ${store.db}.stacks`, format: 'JSONCompactEachRow' })
    ).json()) as [string][]
    assert.equal(Number(row![0]), 3, 'a stack met under several spans is written once')
  } finally {
    await store.close()
  }
})
