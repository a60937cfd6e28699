import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { gunzipSync } from 'node:zlib'
import { GzipRowBatch } from '../../src/trace/batch.ts'

/** Rows of three tables in an interleaved order, large enough that each table's text is compressed in several pieces. */
function fill(batch: GzipRowBatch, n: number): Record<string, unknown[]> {
  const want: Record<string, unknown[]> = {}
  const tables = ['http_events', 'conn_stats', 'dns_events']
  for (let i = 0; i < n; i++) {
    // http_events every row, conn_stats every 7th, dns_events only late: tables first seen at different times.
    for (const t of tables) {
      if ((t === 'conn_stats' && i % 7) || (t === 'dns_events' && i < n - 3)) continue
      const row = {
        time_: String(1_700_000_000_000_000_000n + BigInt(i)),
        req_path: `/r/${i}/${'x'.repeat(i % 300)}`,
        n: i,
        ok: i % 2 === 0,
        q: 'a "quoted" \\ ünïcode',
      }
      ;(want[t] ??= []).push(row)
      batch.add(t, JSON.stringify(row))
    }
  }
  return want
}

test('a batch compressed piece by piece is one JSON body, tables whole and in first-seen order', () => {
  for (const n of [1, 5, 2000]) {
    const batch = new GzipRowBatch()
    const want = fill(batch, n)
    assert.equal(
      batch.count,
      Object.values(want).reduce((a, r) => a + r.length, 0),
    )
    const body = batch.finish()
    const text = gunzipSync(body).toString('utf8')
    assert.deepEqual(JSON.parse(text), want)
    assert.deepEqual(Object.keys(JSON.parse(text)), Object.keys(want))
    if (n === 2000) {
      // More than one gzip member, i.e. the rows were compressed before finish(); gzip -t reads it whole too.
      const members = body.toString('latin1').split('\x1f\x8b\x08').length - 1
      assert.ok(members > 4, `${members} gzip members`)
      const gz = spawnSync('gzip', ['-dc'], { input: body })
      if (gz.status === 0) assert.equal(gz.stdout.toString('utf8'), text)
    }
  }
})

test('an empty batch is an empty object', () => {
  assert.equal(gunzipSync(new GzipRowBatch().finish()).toString(), '{}')
})
