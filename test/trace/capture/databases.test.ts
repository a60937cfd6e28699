import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startMariadb, startPostgres, startRedis, which, type Service } from '../services.ts'
import { run } from '../protocols/support.ts'
import { mysqlConnect } from '../protocols/mysql-client.ts'
import { captureUnavailable, traceSession } from './helpers.ts'

const unavailable = captureUnavailable()

const le32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n)
  return b
}

test('databases: redis-cli → redis-server, mariadb → MariaDB (COM_QUERY and a prepared statement), psql → PostgreSQL; both sides', {
  skip: unavailable ?? false,
  timeout: 240_000,
}, async (t) => {
  const started = await Promise.all([startRedis(), startMariadb(), startPostgres()])
  const skip = started.find((s): s is { skip: string } => 'skip' in s)
  if (skip || !which('redis-cli') || !which('psql')) {
    for (const s of started) if (!('skip' in s)) await s.stop()
    return t.skip(skip?.skip ?? 'redis-cli or psql is not installed')
  }
  const [redis, maria, pg] = started as [Service, Service, Service]
  const mysql = which('mariadb') ?? which('mysql')!
  try {
    const s = await traceSession(async () => {
      for (const args of [
        ['SET', 'k', 'v1'],
        ['GET', 'k'],
        ['INCR', 'n'],
        ['GET', 'missing'],
      ]) {
        const r = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(redis.port), ...args])
        assert.equal(r.code, 0, r.stderr)
      }
      const q = await run(mysql, [
        '--no-defaults',
        '-h127.0.0.1',
        `-P${maria.port}`,
        '-ukiln',
        '-pkiln',
        'kiln',
        '-e',
        'SELECT 40+2; SELECT * FROM nope',
      ])
      assert.match(q.stderr, /1146/)
      const c = await mysqlConnect(maria.port, 'kiln', 'kiln', 'kiln')
      const prep = await c.command(Buffer.from('\x16SELECT 6*7 AS answer'), (ps) => ps[0]![0] !== 0x00 || ps.length >= 3)
      await c.command(Buffer.concat([Buffer.from([0x17]), prep[0]!.subarray(1, 5), Buffer.from([0]), le32(1)]))
      c.close()
      const p = await run('psql', [
        '-h',
        '127.0.0.1',
        '-p',
        String(pg.port),
        '-U',
        'postgres',
        '-X',
        '-c',
        'SELECT 1 AS one',
        '-c',
        'SELECT * FROM nope',
      ])
      assert.match(p.stderr, /nope/)
    })
    try {
      const redisRows = await s.query<{ trace_role: string; req_cmd: string; req_args: string; resp: string; service: string }>(
        `SELECT trace_role, req_cmd, req_args, resp, service FROM kiln.redis_events WHERE (local_port = ${redis.port} AND trace_role = 2) OR (remote_port = ${redis.port} AND trace_role = 1) ORDER BY trace_role, time_`,
      )
      const cmds = (role: string) =>
        redisRows
          .filter((r) => r.trace_role === role && r.req_cmd !== 'COMMAND' && !r.req_cmd.startsWith('COMMAND'))
          .map((r) => `${r.req_cmd} ${r.req_args}`)
      const want = ['SET ["k","v1"]', 'GET ["k"]', 'INCR ["n"]', 'GET ["missing"]']
      assert.deepEqual(cmds('1'), want, s.log)
      assert.deepEqual(cmds('2'), want)
      assert.ok(redisRows.some((r) => r.trace_role === '2' && r.service === 'redis-server'))

      const my = await s.query<{ trace_role: string; req_cmd: string; req_body: string; resp_status: string; resp_body: string }>(
        `SELECT trace_role, req_cmd, req_body, resp_status, resp_body FROM kiln.mysql_events WHERE local_port = ${maria.port} AND trace_role = 2 ORDER BY time_`,
      )
      const mine = my.filter((r) => /40\+2|nope|6\*7/.test(r.req_body))
      assert.deepEqual(
        mine.map((r) => [r.req_cmd, r.req_body, r.resp_status]),
        [
          ['3', 'SELECT 40+2', '1'],
          ['3', 'SELECT * FROM nope', '2'],
          ['22', 'SELECT 6*7 AS answer', '1'],
          ['23', 'query=[SELECT 6*7 AS answer] params=[]', '1'],
        ],
        JSON.stringify(my),
      )
      const myClient = await s.query<{ n: string }>(
        `SELECT count() AS n FROM kiln.mysql_events WHERE remote_port = ${maria.port} AND trace_role = 1 AND req_body LIKE '%6*7%'`,
      )
      assert.equal(myClient[0]!.n, '2', 'the test process as the client of the prepared statement')

      const pgRows = await s.query<{ trace_role: string; req_cmd: string; req: string; resp: string }>(
        `SELECT trace_role, req_cmd, req, resp FROM kiln.pgsql_events WHERE (local_port = ${pg.port} AND trace_role = 2) OR (remote_port = ${pg.port} AND trace_role = 1) ORDER BY trace_role, time_`,
      )
      for (const role of ['1', '2']) {
        const q = pgRows.filter((r) => r.trace_role === role && /one|nope/.test(r.req))
        assert.deepEqual(
          q.map((r) => r.req),
          ['SELECT 1 AS one', 'SELECT * FROM nope'],
          JSON.stringify(pgRows),
        )
        assert.match(q[1]!.resp, /nope/)
      }
    } finally {
      await s.dispose()
    }
  } finally {
    for (const svc of [redis, maria, pg]) await svc.stop()
  }
})
