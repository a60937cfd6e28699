import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { gunzipSync } from 'node:zlib'
import { RowBatch } from '../../src/trace/batch.ts'
import { expandGroups, TRACE_GROUPS_TYPE } from '../../src/model/trace-groups.ts'
import { checkTraceBatch } from '../../src/model/trace-rows.ts'
import { KilnError } from '../../src/model/errors.ts'

/** Rows of three tables in an interleaved order, large enough that each table's text is compressed in several pieces. */
function fill(batch: RowBatch, n: number): Record<string, unknown[]> {
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
    const batch = new RowBatch({ format: 'json' })
    const want = fill(batch, n)
    assert.equal(
      batch.count,
      Object.values(want).reduce((a, r) => a + r.length, 0),
    )
    const body = Buffer.concat(batch.finish())
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
  assert.equal(gunzipSync(Buffer.concat(new RowBatch({ format: 'json' }).finish())).toString(), '{}')
  assert.deepEqual(JSON.parse(gunzipSync(Buffer.concat(new RowBatch().finish())).toString()), { tables: {}, groups: [] })
})

/** A seeded generator (mulberry32): the same rows and mutations in every run. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Row = Record<string, string | number | boolean>

/**
 * Rows as the socket capture emits them — JSON text, or the loader's UTF-8 without its closing
 * brace — each with the shared columns of one of a few connections (or none), and the whole rows
 * they stand for.
 */
function sharedRows(batch: RowBatch, n: number, r: () => number, tables = ['http_events', 'conn_stats']): Record<string, Row[]> {
  const conns = Array.from({ length: 7 }, (_, i) => ({
    remote_addr: `10.0.0.${i}`,
    remote_port: 40000 + i,
    trace_role: 1 + (i % 2),
    encrypted: i === 3,
    upid: `${(BigInt(i) << 96n) + 12345n}`,
    cmdline: `nginx: worker "${i}" \\ ü`,
  }))
  const want: Record<string, Row[]> = {}
  for (let i = 0; i < n; i++) {
    const table = r() < 0.8 ? tables[0]! : tables[tables.length - 1]!
    const own: Row = { time_: String(1_700_000_000_000_000_000n + BigInt(i)), req_path: `/r/${i}/${'é'.repeat(Math.floor(r() * 400))}` }
    const c = r() < 0.9 ? conns[Math.floor(r() * conns.length)]! : undefined
    const shared = c ? JSON.stringify(c).slice(1, -1) : ''
    const text = JSON.stringify(own)
    batch.add(table, r() < 0.5 ? text : Buffer.from(text.slice(0, -1)), shared)
    ;(want[table] ??= []).push({ ...own, ...c })
  }
  return want
}

test('a grouped batch, gzipped or not, expands to the rows with their shared columns; a json one holds the same rows whole', () => {
  for (const n of [1, 7, 3000]) {
    for (const gzip of [true, false]) {
      const batch = new RowBatch({ gzip })
      const want = sharedRows(batch, n, rng(n))
      assert.equal(batch.contentType, TRACE_GROUPS_TYPE)
      const raw = Buffer.concat(batch.finish())
      const body = JSON.parse((gzip ? gunzipSync(raw) : raw).toString('utf8'))
      // Shared columns are sent once per connection, not per row.
      assert.ok(body.groups.length <= 8, `${body.groups.length} groups`)
      assert.deepEqual(JSON.parse(JSON.stringify(expandGroups(body))), want)
      const plain = new RowBatch({ format: 'json', gzip })
      assert.deepEqual(sharedRows(plain, n, rng(n)), want)
      const p = Buffer.concat(plain.finish())
      assert.deepEqual(JSON.parse((gzip ? gunzipSync(p) : p).toString('utf8')), want)
      if (n === 3000) assert.ok(p.length > raw.length * 1.2, `plain ${p.length} bytes, grouped ${raw.length}`)
    }
  }
})

test("the loader's compact rows (arrays of values) go with their column names once; to a plain-JSON server, as objects", () => {
  const columns = ['time_', 'req_path', 'resp_status']
  const rows = Array.from({ length: 300 }, (_, i) => [
    String(1_700_000_000_000_000_000n + BigInt(i)),
    `/p/${i}/${'ü'.repeat(i % 50)}`,
    200 + (i % 3),
  ])
  const want = { http_events: rows.map((r, i) => ({ ...Object.fromEntries(columns.map((c, j) => [c, r[j]])), pid: i % 2 })) }
  for (const format of ['grouped', 'json'] as const) {
    const batch = new RowBatch({ format })
    // An object row of the same table between them (the agent's own parser's).
    rows.forEach((r, i) => batch.add('http_events', Buffer.from(JSON.stringify(r).slice(0, -1)), `"pid":${i % 2}`, columns))
    const body = JSON.parse(gunzipSync(Buffer.concat(batch.finish())).toString('utf8'))
    if (format === 'grouped') {
      assert.deepEqual(body.columns, { http_events: columns })
      assert.deepEqual(body.tables.http_events[0], [0, rows[0]])
      assert.deepEqual(JSON.parse(JSON.stringify(expandGroups(body))), want)
    } else assert.deepEqual(body, want)
  }
})

test('expandGroups refuses what is not a grouped body, naming the table, row and group', () => {
  const bad: [unknown, RegExp][] = [
    [[], /expected \{"tables"/],
    [{ tables: {} }, /expected \{"tables"/],
    [{ tables: [], groups: [] }, /expected \{"tables"/],
    [{ tables: {}, groups: [], x: 1 }, /unknown member "x"/],
    [{ tables: {}, groups: [1] }, /group 0: expected an object/],
    [{ tables: { http_events: {} }, groups: [] }, /http_events: expected an array/],
    [{ tables: { http_events: [[0]] }, groups: [{}] }, /http_events row 0: expected \[group/],
    [
      {
        tables: {
          http_events: [
            [0, {}],
            [1, {}],
          ],
        },
        groups: [{}],
      },
      /http_events row 1: group 1 is not an index of the 1 groups/,
    ],
    [{ tables: { http_events: [[-1, {}]] }, groups: [{}] }, /group -1/],
    [{ tables: { http_events: [['0', {}]] }, groups: [{}] }, /group "0"/],
    [{ tables: { http_events: [[0.5, {}]] }, groups: [{}] }, /group 0.5/],
    [{ tables: { http_events: [[0, { pid: 1 }]] }, groups: [{ pid: 2 }] }, /row 0: column "pid" is in the row and in its group 0/],
    [{ tables: { http_events: [[0, [1]]] }, groups: [{}] }, /http_events row 0: an array of values, but "columns" names none/],
    [{ tables: { http_events: [[0, [1]]] }, columns: { http_events: ['a', 'b'] }, groups: [{}] }, /row 0: 1 values for the 2 columns/],
    [{ tables: {}, columns: { http_events: ['a', 'a'] }, groups: [] }, /"columns".http_events: expected an array of distinct/],
    [{ tables: {}, columns: { http_events: [1] }, groups: [] }, /"columns".http_events/],
    [{ tables: {}, columns: [], groups: [] }, /"columns": expected an object/],
    [
      { tables: { http_events: [[0, [1]]] }, columns: { http_events: ['pid'] }, groups: [{ pid: 2 }] },
      /column "pid" is in the row and in its group 0/,
    ],
  ]
  for (const [body, re] of bad) {
    assert.throws(
      () => expandGroups(body),
      (e: unknown) => e instanceof KilnError && e.code === 'KILN_BAD_REQUEST' && re.test(e.message),
      JSON.stringify(body),
    )
  }
  // __proto__ is a column like any other (and refused by the table's columns), never the row's prototype.
  const rows = expandGroups(JSON.parse('{"tables":{"http_events":[[0,{"__proto__":{"x":1}}]]},"groups":[{}]}'))
  assert.throws(() => checkTraceBatch(rows), /unknown column "__proto__"/)
})

test('fuzzed grouped bodies are expanded and checked or refused with KILN_BAD_REQUEST, never another error', () => {
  const r = rng(9)
  const batch = new RowBatch({ gzip: false })
  sharedRows(batch, 40, r, ['http_events'])
  for (let i = 0; i < 10; i++)
    batch.add('http_events', Buffer.from(`["${1_700_000_000_000_000_000n + BigInt(i)}","/c/${i}"`), '"pid":7', ['time_', 'req_path'])
  const good = Buffer.concat(batch.finish()).toString('utf8')
  let accepted = 0
  let refused = 0
  for (let i = 0; i < 3000; i++) {
    // Text mutations (most no longer JSON) and structural ones on the parsed body.
    let text = good
    const roll = r()
    if (roll < 0.3) {
      const at = Math.floor(r() * text.length)
      text = text.slice(0, at) + String.fromCharCode(Math.floor(r() * 128)) + text.slice(at + 1)
    } else if (roll < 0.4) text = text.slice(0, Math.floor(r() * text.length))
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      continue
    }
    if (roll >= 0.4) body = mutateValue(body, r, 0)
    try {
      checkTraceBatch(expandGroups(body))
      accepted++
    } catch (e) {
      if (!(e instanceof KilnError) || !['KILN_BAD_REQUEST', 'KILN_BAD_TIME'].includes(e.code)) throw e
      refused++
    }
  }
  assert.ok(accepted > 50 && refused > 500, `${accepted} accepted, ${refused} refused`)
})

/** One random change somewhere in a parsed JSON value: a member or element replaced, removed or added. */
function mutateValue(v: unknown, r: () => number, depth: number): unknown {
  const junk = [
    null,
    0,
    -1,
    1.5,
    2 ** 64,
    '',
    'x',
    '0',
    true,
    [],
    {},
    [0],
    [0, {}],
    [99, {}],
    { pid: 'x' },
    [0, ['/x', 1]],
    ['req_path', 'latency'],
  ]
  const pick = () => junk[Math.floor(r() * junk.length)]
  if (v === null || typeof v !== 'object' || r() < 0.15 * depth) return r() < 0.5 ? pick() : v
  if (Array.isArray(v)) {
    if (!v.length || r() < 0.1) return [...v, pick()]
    const i = Math.floor(r() * v.length)
    if (r() < 0.1) return v.filter((_, j) => j !== i)
    return v.map((x, j) => (j === i ? mutateValue(x, r, depth + 1) : x))
  }
  const o = v as Record<string, unknown>
  const keys = Object.keys(o)
  if (!keys.length || r() < 0.1) return { ...o, [['pid', 'time_', 'bogus', 'tables', 'groups', 'columns'][Math.floor(r() * 6)]!]: pick() }
  const k = keys[Math.floor(r() * keys.length)]!
  if (r() < 0.1) {
    const { [k]: _, ...rest } = o
    return rest
  }
  return { ...o, [k]: mutateValue(o[k], r, depth + 1) }
}
