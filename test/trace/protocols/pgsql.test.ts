import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { inferProtocol } from '../../../src/trace/protocols/index.ts'
import type { DataEvent } from '../../../src/trace/types.ts'
import { startPostgres, which, type Started } from '../services.ts'
import { tcpProxy } from './proxy.ts'
import { cut, fuzz, junk, mutate, parse, rng, run, script, split } from './support.ts'

let svc: Started = { skip: 'not started' }
const recorded: DataEvent[][] = []
before(async () => {
  svc = await startPostgres()
})
after(async () => {
  if (!('skip' in svc)) await svc.stop()
})

const rows = (events: DataEvent[]) => parse('pgsql', events).records.map((r) => [r.row.req_cmd, r.row.req, r.row.resp])

/** A typed frontend message: type letter, int32 length (counting itself), payload parts. */
function msg(type: string, ...parts: (string | Buffer | number[])[]): Buffer {
  const body = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p + '\0') : Buffer.from(p))))
  const h = Buffer.alloc(5)
  h.write(type, 0, 'latin1')
  h.writeUInt32BE(body.length + 4, 1)
  return Buffer.concat([h, body])
}
const i16 = (...v: number[]) => Buffer.from(v.flatMap((x) => [(x >> 8) & 0xff, x & 0xff]))
const i32 = (...v: number[]) =>
  Buffer.concat(
    v.map((x) => {
      const b = Buffer.alloc(4)
      b.writeInt32BE(x)
      return b
    }),
  )
const textParams = (...ps: string[]) =>
  Buffer.concat([i16(0), i16(ps.length), ...ps.map((p) => Buffer.concat([i32(Buffer.byteLength(p)), Buffer.from(p)])), i16(0)])

/** A raw client (trust auth): startup, then writes frames and waits for `n` ReadyForQuery. */
async function pgSession(port: number): Promise<{ send(b: Buffer, readies: number): Promise<void>; end(): void }> {
  const s: Socket = connect(port, '127.0.0.1')
  await new Promise((r) => s.once('connect', r))
  let got = Buffer.alloc(0)
  let waiter: (() => void) | null = null
  let want = 0
  const readies = () => {
    let n = 0
    for (let o = 0; o + 5 <= got.length; ) {
      if (got[o] === 0x5a) n++
      o += 1 + got.readUInt32BE(o + 1)
    }
    return n
  }
  s.on('data', (d) => {
    got = Buffer.concat([got, d])
    if (waiter && readies() >= want) waiter()
  })
  const send = async (b: Buffer, n: number) => {
    want = readies() + n
    const done = new Promise<void>((r) => (waiter = r))
    s.write(b)
    await done
  }
  const params = Buffer.from('user\0postgres\0database\0postgres\0\0')
  const startup = Buffer.concat([i32(8 + params.length, 196608), params])
  await send(startup, 1)
  return { send, end: () => s.end(msg('X')) }
}

test('PostgreSQL and psql: simple queries (DDL, INSERT, SELECT with NULL, two statements in one query, an error)', async (t) => {
  if ('skip' in svc) return t.skip(svc.skip)
  if (!which('psql')) return t.skip('psql is not installed (Debian package postgresql-client)')
  const proxy = await tcpProxy(svc.port)
  try {
    const r = await run('psql', [
      '-h',
      '127.0.0.1',
      '-p',
      String(proxy.port),
      '-U',
      'postgres',
      '-X',
      '-c',
      'CREATE TABLE t (a int, b text)',
      '-c',
      "INSERT INTO t VALUES (1,'x'),(2,NULL)",
      '-c',
      'SELECT * FROM t',
      '-c',
      'SELECT 1 AS one; SELECT 2 AS two',
      '-c',
      'SELECT * FROM nope',
    ])
    assert.match(r.stderr, /nope/, r.stderr)
    await proxy.close()
    const ev = proxy.events()
    recorded.push(ev)
    assert.deepEqual(rows(ev), [
      ['Query', 'CREATE TABLE t (a int, b text)', 'CREATE TABLE'],
      ['Query', "INSERT INTO t VALUES (1,'x'),(2,NULL)", 'INSERT 0 2'],
      ['Query', 'SELECT * FROM t', 'a,b\n1,x\n2,[NULL]\nSELECT 2'],
      ['Query', 'SELECT 1 AS one; SELECT 2 AS two', 'one\n1\nSELECT 1\ntwo\n2\nSELECT 1'],
      ['Query', 'SELECT * FROM nope', 'ERROR 42P01: relation "nope" does not exist'],
    ])
    // psql opens with GSSENCRequest/SSLRequest (answered 'N') or the StartupMessage: either way inferred as a client's PostgreSQL.
    assert.deepEqual(inferProtocol(ev[0]!.data, true, { local: 50000, remote: proxy.port }), { protocol: 'pgsql', fromClient: true })
    assert.deepEqual(rows(split(ev, 6)), rows(ev))
    for (const rec of parse('pgsql', ev).records) assert.ok((rec.row.latency as number) > 0)
    // Capture keeping 100 bytes per transfer: the startup phase is cut (its replies resynchronise), queries survive.
    assert.deepEqual(
      rows(cut(ev, 100)).map((x) => x[1]),
      rows(ev).map((x) => x[1]),
    )
  } finally {
    await proxy.close()
  }
})

test('PostgreSQL extended protocol: unnamed and named statements, text and binary parameters, pipelined executes, a failing Parse', async (t) => {
  if ('skip' in svc) return t.skip(svc.skip)
  const proxy = await tcpProxy(svc.port)
  try {
    const c = await pgSession(proxy.port)
    await c.send(
      Buffer.concat([
        msg('P', '', 'SELECT $1::int + 1 AS n', i16(0)),
        msg('B', '', '', textParams('41')),
        msg('D', [0x50], ''),
        msg('E', '', i32(0)),
        msg('S'),
      ]),
      1,
    )
    await c.send(Buffer.concat([msg('P', 's1', 'SELECT generate_series(1, $1) AS g', i16(1), i32(23)), msg('S')]), 1)
    // Two executes of s1 in one batch, binary int4 parameters, no Describe.
    const bin = (v: number) => Buffer.concat([i16(1, 1), i16(1), i32(4, v), i16(0)])
    await c.send(
      Buffer.concat([msg('B', 'p1', 's1', bin(3)), msg('E', 'p1', i32(0)), msg('B', 'p2', 's1', bin(1)), msg('E', 'p2', i32(0)), msg('S')]),
      1,
    )
    await c.send(
      Buffer.concat([msg('P', '', 'SELECT * FROM nope', i16(0)), msg('B', '', '', textParams()), msg('E', '', i32(0)), msg('S')]),
      1,
    )
    c.end()
    await new Promise((r) => setTimeout(r, 50))
    await proxy.close()
    const ev = proxy.events()
    recorded.push(ev)
    assert.deepEqual(rows(ev), [
      ['Execute', 'query=[SELECT $1::int + 1 AS n] params=[41]', 'n\n42\nSELECT 1'],
      ['Execute', 'query=[SELECT generate_series(1, $1) AS g] params=[3]', '1\n2\n3\nSELECT 3'],
      ['Execute', 'query=[SELECT generate_series(1, $1) AS g] params=[1]', '1\nSELECT 1'],
      ['Parse', 'SELECT * FROM nope', 'ERROR 42P01: relation "nope" does not exist'],
    ])
  } finally {
    await proxy.close()
  }
})

test('hand-built: a reply stream joined mid-connection, a 200 KB DataRow skipped by counting, COPY and notices ignored', () => {
  const srv = (type: string, ...parts: (string | Buffer | number[])[]) => msg(type, ...parts)
  const row = (...vals: string[]) =>
    srv('D', i16(vals.length), ...vals.map((v) => Buffer.concat([i32(Buffer.byteLength(v)), Buffer.from(v)])))
  const ev = script(
    [false, Buffer.concat([srv('C', 'SELECT 1'), srv('Z', 'I')])],
    [true, msg('Q', 'SELECT big')],
    [
      false,
      Buffer.concat([
        srv('T', i16(1), 'big', i32(0), i16(0), i32(25), i16(-1), i32(-1), i16(0)),
        srv('N', 'SNOTICE', 'Mhi', ''),
        row('y'.repeat(200_000)),
        srv('C', 'SELECT 1'),
        srv('Z', 'I'),
      ]),
    ],
  )
  const got = rows(ev)
  assert.equal(got.length, 1)
  assert.equal(got[0]![0], 'Query')
  assert.match(got[0]![2] as string, /^big\ny{100,}…\nSELECT 1$/)
  assert.deepEqual(rows(split(ev, 1000)), got)
})

test('fuzz: mutated PostgreSQL recordings and random bytes never throw and stay bounded', () => {
  const r = rng(5432)
  const bases = recorded.length
    ? recorded
    : [script([true, msg('Q', 'SELECT 1')], [false, Buffer.concat([msg('C', 'SELECT 1'), msg('Z', 'I')])])]
  const inputs: DataEvent[][] = []
  for (let i = 0; i < 300; i++) inputs.push(mutate(bases[i % bases.length]!, r))
  for (let i = 0; i < 8; i++) inputs.push(split(mutate(bases[i % bases.length]!, r), 9, i))
  for (let i = 0; i < 100; i++) inputs.push(junk(r))
  fuzz('pgsql', inputs)
})
