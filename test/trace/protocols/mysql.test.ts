import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { inferProtocol } from '../../../src/trace/protocols/index.ts'
import type { DataEvent } from '../../../src/trace/types.ts'
import { startMariadb, which, type Started } from '../services.ts'
import { mysqlConnect } from './mysql-client.ts'
import { tcpProxy } from './proxy.ts'
import { cut, fuzz, junk, mutate, parse, rng, run, script, split } from './support.ts'

let svc: Started = { skip: 'not started' }
const recorded: DataEvent[][] = []
before(async () => {
  svc = await startMariadb()
})
after(async () => {
  if (!('skip' in svc)) await svc.stop()
})

const rows = (events: DataEvent[]) =>
  parse('mysql', events).records.map((r) => [r.row.req_cmd, r.row.req_body, r.row.resp_status, r.row.resp_body])

test('MariaDB and the mariadb client: DDL, INSERT, SELECT, an error, QUIT', async (t) => {
  if ('skip' in svc) return t.skip(svc.skip)
  const client = which('mariadb') ?? which('mysql')
  if (!client) return t.skip('the mariadb client is not installed')
  const proxy = await tcpProxy(svc.port)
  try {
    const sql =
      "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO t VALUES (1,'a'),(2,'b'); SELECT * FROM t; SELECT * FROM nope"
    const r = await run(client, ['--no-defaults', '--force', '-h127.0.0.1', `-P${proxy.port}`, '-ukiln', '-pkiln', 'kiln', '-e', sql])
    assert.match(r.stderr, /1146/, 'the error reached the client')
    await proxy.close()
    const ev = proxy.events()
    recorded.push(ev)
    const got = rows(ev)
    const from = got.findIndex((g) => String(g[1]).startsWith('CREATE'))
    assert.deepEqual(got.slice(from), [
      [3, 'CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20))', 1, 'OK affected_rows=0 last_insert_id=0'],
      [3, "INSERT INTO t VALUES (1,'a'),(2,'b')", 1, 'OK affected_rows=2 last_insert_id=0'],
      [3, 'SELECT * FROM t', 1, 'Resultset rows = 2'],
      [3, 'SELECT * FROM nope', 2, "Error 1146 (42S02): Table 'kiln.nope' doesn't exist"],
      [1, '', 0, ''],
    ])
    assert.deepEqual(inferProtocol(ev[0]!.data, false, { local: 50000, remote: proxy.port }), { protocol: 'mysql', fromClient: false })
    for (const rec of parse('mysql', ev).records) assert.ok((rec.row.latency as number) >= 0)
    assert.deepEqual(rows(split(ev, 5)), got)
    // Capture keeping 64 bytes per transfer: statements are cut, statuses survive.
    const cutRows = rows(cut(ev, 64))
    assert.deepEqual(
      cutRows.slice(cutRows.findIndex((g) => String(g[1]).startsWith('CREATE'))).map((g) => g[3]),
      [
        'OK affected_rows=0 last_insert_id=0',
        'OK affected_rows=2 last_insert_id=0',
        'Resultset rows >= 0 (cut by capture)',
        "Error 1146 (42S02): Table 'kiln.nope' doesn't exist",
        '',
      ],
    )
  } finally {
    await proxy.close()
  }
})

const le32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n)
  return b
}
const str = (s: string) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)])

test('MariaDB prepared statements over the binary protocol: PREPARE, EXECUTE with typed parameters (twice), CLOSE, PING, INIT_DB', async (t) => {
  if ('skip' in svc) return t.skip(svc.skip)
  const proxy = await tcpProxy(svc.port)
  try {
    const c = await mysqlConnect(proxy.port, 'kiln', 'kiln', 'kiln')
    await c.command(Buffer.from('\x03CREATE TABLE IF NOT EXISTS p (id BIGINT, name VARCHAR(20), score DOUBLE, at DATETIME)'))
    const prep = await c.command(Buffer.from('\x16INSERT INTO p VALUES (?, ?, ?, ?)'), (ps) => ps[0]![0] !== 0x00 || ps.length >= 1 + 4 + 1)
    const id = prep[0]!.readUInt32LE(1)
    // EXECUTE: id, flags 0, iterations 1, null bitmap (4 params → 1 byte; the 4th NULL), bound 1, types, values.
    const types = Buffer.from([8, 0, 253, 0, 5, 0, 12, 0])
    const score = Buffer.alloc(8)
    score.writeDoubleLE(2.5)
    const big = Buffer.alloc(8)
    big.writeBigInt64LE(-42n)
    await c.command(
      Buffer.concat([Buffer.from([0x17]), le32(id), Buffer.from([0]), le32(1), Buffer.from([0x08, 1]), types, big, str('zoë'), score]),
    )
    // Second EXECUTE without types (they were bound by the first), with a DATETIME.
    const at = Buffer.from([7, 0xe8, 0x07, 12, 31, 23, 59, 58])
    await c.command(
      Buffer.concat([Buffer.from([0x17]), le32(id), Buffer.from([0]), le32(1), Buffer.from([0x00, 0]), big, str('x'), score, at]),
    )
    const sel = await c.command(Buffer.from('\x16SELECT name FROM p WHERE id = ?'), (ps) => ps.length >= 1 + 2 + 2)
    const sid = sel[0]!.readUInt32LE(1)
    await c.command(Buffer.concat([Buffer.from([0x17]), le32(sid), Buffer.from([0]), le32(1), Buffer.from([0, 1, 8, 0]), big]))
    c.send(Buffer.concat([Buffer.from([0x19]), le32(id)]))
    await c.command(Buffer.from([0x0e]))
    await c.command(Buffer.from('\x02kiln'))
    c.send(Buffer.from([0x01]))
    await new Promise((r) => setTimeout(r, 100))
    c.close()
    await proxy.close()
    const ev = proxy.events()
    recorded.push(ev)
    assert.deepEqual(rows(ev), [
      [
        3,
        'CREATE TABLE IF NOT EXISTS p (id BIGINT, name VARCHAR(20), score DOUBLE, at DATETIME)',
        1,
        'OK affected_rows=0 last_insert_id=0',
      ],
      [22, 'INSERT INTO p VALUES (?, ?, ?, ?)', 1, `Prepared statement id=${id} params=4 columns=0`],
      [23, 'query=[INSERT INTO p VALUES (?, ?, ?, ?)] params=[-42, zoë, 2.5, NULL]', 1, 'OK affected_rows=1 last_insert_id=0'],
      [23, 'query=[INSERT INTO p VALUES (?, ?, ?, ?)] params=[-42, x, 2.5, 2024-12-31 23:59:58]', 1, 'OK affected_rows=1 last_insert_id=0'],
      [22, 'SELECT name FROM p WHERE id = ?', 1, `Prepared statement id=${sid} params=1 columns=1`],
      [23, 'query=[SELECT name FROM p WHERE id = ?] params=[-42]', 1, 'Resultset rows = 2'],
      [25, 'INSERT INTO p VALUES (?, ?, ?, ?)', 0, ''],
      [14, '', 1, 'OK affected_rows=0 last_insert_id=0'],
      [2, 'kiln', 1, 'OK affected_rows=0 last_insert_id=0'],
      [1, '', 0, ''],
    ])
  } finally {
    await proxy.close()
  }
})

/** A packet: 3-byte length, sequence id, payload. */
const pk = (seq: number, ...parts: (string | number[])[]) => {
  const p = Buffer.concat(parts.map((x) => (typeof x === 'string' ? Buffer.from(x, 'latin1') : Buffer.from(x))))
  return Buffer.concat([Buffer.from([p.length & 0xff, (p.length >> 8) & 0xff, p.length >> 16, seq]), p])
}

test('hand-built: CLIENT_DEPRECATE_EOF result sets, multi-result CALL, a huge row skipped by counting, capture starting mid-connection', () => {
  const col = (n: string) => pk(2, [3], 'def', [0, 0, 0, n.length], n, [0, 0x0c, 0x21, 0, 0x0b, 0, 0, 0, 3, 0, 0, 0, 0, 0])
  const ev = script(
    // A response with no command (capture began mid-connection), then a query in the OK-terminated layout.
    [false, pk(1, [0, 0, 0, 2, 0, 0, 0])],
    [true, pk(0, [3], 'SELECT a')],
    [false, Buffer.concat([pk(1, [1]), col('a'), pk(3, [1], '1'), pk(4, [1], '2'), pk(5, [0xfe, 0, 0, 2, 0, 0, 0])])],
    // CALL: two result sets, the first ends with SERVER_MORE_RESULTS_EXISTS (0x0008), then the final OK.
    [true, pk(0, [3], 'CALL p()')],
    [false, Buffer.concat([pk(1, [1]), col('a'), pk(3, [0xfe, 0, 0, 0x0a, 0]), pk(4, [1], '7'), pk(5, [0xfe, 0, 0, 0x0a, 0])])],
    [false, pk(6, [0, 0, 0, 2, 0, 0, 0])],
    // A 200 KB row (over the 64 KiB buffer) is counted past.
    [true, pk(0, [3], 'SELECT blob')],
    [
      false,
      Buffer.concat([
        pk(1, [1]),
        col('b'),
        pk(3, [0xfe, 0, 0, 2, 0]),
        pk(4, [0xfd, 0x40, 0x0d, 0x03], 'x'.repeat(200_000)),
        pk(5, [0xfe, 0, 0, 2, 0]),
      ]),
    ],
  )
  const got = rows(ev)
  assert.deepEqual(got, [
    [3, 'SELECT a', 1, 'Resultset rows = 2'],
    [3, 'CALL p()', 1, 'Resultset rows = 1; OK affected_rows=0 last_insert_id=0'],
    [3, 'SELECT blob', 1, 'Resultset rows = 1'],
  ])
  assert.deepEqual(rows(split(ev, 3000)), got)
})

test('fuzz: mutated MariaDB recordings and random bytes never throw and stay bounded', () => {
  const r = rng(3306)
  const bases = recorded.length ? recorded : [script([true, pk(0, [3], 'SELECT 1')], [false, pk(1, [0, 0, 0, 2, 0, 0, 0])])]
  const inputs: DataEvent[][] = []
  for (let i = 0; i < 300; i++) inputs.push(mutate(bases[i % bases.length]!, r))
  for (let i = 0; i < 8; i++) inputs.push(split(mutate(bases[i % bases.length]!, r), 9, i))
  for (let i = 0; i < 100; i++) inputs.push(junk(r))
  fuzz('mysql', inputs)
})
