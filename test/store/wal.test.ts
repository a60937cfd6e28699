/** The write-ahead log's file format and recovery plan (src/store/wal.ts), and the tables' settings under it. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readWal, Wal, type WalRecord } from '../../src/store/wal.ts'
import { mergeParts } from '../../src/store/wal-apply.ts'
import { hasSettings } from '../../src/store/wal-store.ts'
import { loggedSettings } from '../../src/store/schema.ts'
import { openStore, type Store } from '../../src/store/index.ts'

const rec = (token: string, rows: string): WalRecord => ({
  token,
  parts: [
    { table: 'kiln.stacks', format: 'TabSeparated', chunks: [Buffer.from(`${token}-stack\n`)] },
    { table: 'kiln.samples', format: 'TabSeparated', chunks: [Buffer.from(rows.slice(0, 3)), Buffer.from(rows.slice(3))] },
  ],
})
const text = (r: WalRecord) => r.parts.map((p) => `${p.table}:${Buffer.concat(p.chunks).toString()}`).join('|')

test('recovery: grouped commits with their group token, the rest loose; a torn tail is not a record', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-wal-'))
  let syncs = 0
  try {
    const wal = new Wal(dir, async () => {
      syncs++
    })
    const a = wal.append(rec('a', 'row a\n'))
    const b = wal.append(rec('b', 'row b\n'))
    await Promise.all([a.durable, b.durable])
    await wal.group('g1', ['a', 'b'])
    const c = wal.append(rec('c', 'row c\n'))
    const d = wal.append(rec('d', 'row d\n'))
    await Promise.all([c.durable, d.durable])
    const [file] = readdirSync(dir)
    const whole = readFileSync(join(dir, file!)).length
    // A record cut short by a crash mid-write: never acknowledged, not replayed.
    appendFileSync(join(dir, file!), readFileSync(join(dir, file!)).subarray(0, 40))
    const plan = readWal(dir)
    assert.deepEqual(
      plan.groups.map((g) => [g.token, g.records.map(text)]),
      [['g1', [text(rec('a', 'row a\n')), text(rec('b', 'row b\n'))]]],
    )
    assert.deepEqual(plan.loose.map(text), [text(rec('c', 'row c\n')), text(rec('d', 'row d\n'))])
    // A flipped byte in the last record ends the segment there.
    truncateSync(join(dir, file!), whole)
    const bytes = readFileSync(join(dir, file!))
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 3) ^ 0xff, bytes.length - 3)
    writeFileSync(join(dir, file!), bytes)
    assert.deepEqual(
      readWal(dir).loose.map((r) => r.token),
      ['c'],
    )
    // Applied and checkpointed: the segments go, after one sync of the engine's files.
    for (const x of [a, b, c, d]) wal.applied(x.seg)
    await wal.close()
    assert.equal(syncs, 1)
    assert.deepEqual(readdirSync(dir), [])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a group merges its commits into one part per table, in log order, samples last', () => {
  // A record of this version (samples_in) after two from before it (samples): both kinds last.
  const now: WalRecord = {
    token: 'c',
    parts: [
      { table: 'kiln.stacks', format: 'TabSeparated', chunks: [Buffer.from('c-stack\n')] },
      { table: 'kiln.samples_in', format: 'TabSeparated', chunks: [Buffer.from('row c\n')] },
    ],
  }
  const { meta, samples } = mergeParts([rec('a', 'row a\n'), rec('b', 'row b\n'), now])
  assert.deepEqual(
    meta.map((p) => [p.table, Buffer.concat(p.chunks).toString()]),
    [['kiln.stacks', 'a-stack\nb-stack\nc-stack\n']],
  )
  assert.deepEqual(
    samples.map((p) => [p.table, Buffer.concat(p.chunks).toString()]),
    [
      ['kiln.samples', 'row a\nrow b\n'],
      ['kiln.samples_in', 'row c\n'],
    ],
  )
})

test("the embedded engine's profile tables are made with the log's settings; an older directory's are altered once, at its next start", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-wal-settings-'))
  const settings = async (store: Store) => {
    const rs = await store.client.query({
      query: "SELECT name, engine_full FROM system.tables WHERE database = 'kiln' AND name IN ('samples', 'stacks') ORDER BY name",
      format: 'JSONEachRow',
    })
    return (await rs.json<{ name: string; engine_full: string }>()).map((t) => [t.name, hasSettings(t.engine_full, loggedSettings)])
  }
  try {
    let store = await openStore({ dataDir, retentionDays: 0 })
    assert.deepEqual(await settings(store), [
      ['samples', true],
      ['stacks', true],
    ])
    // As a directory from before the log left it: its parts fsynced.
    await store.client.command({ query: 'ALTER TABLE kiln.samples MODIFY SETTING fsync_after_insert = 1, fsync_part_directory = 1' })
    assert.deepEqual(await settings(store), [
      ['samples', false],
      ['stacks', true],
    ])
    await store.close()
    store = await openStore({ dataDir, retentionDays: 0 })
    assert.deepEqual(await settings(store), [
      ['samples', true],
      ['stacks', true],
    ])
    await store.close()
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
})
