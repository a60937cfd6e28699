import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { inferProtocol } from '../../../src/trace/protocols/index.ts'
import type { DataEvent } from '../../../src/trace/types.ts'
import { startRedis, which } from '../services.ts'
import { tcpProxy } from './proxy.ts'
import { cut, fuzz, junk, mutate, parse, rng, run, script, split } from './support.ts'

const recorded: DataEvent[][] = []
const rows = (events: DataEvent[]) => parse('redis', events).records.map((r) => [r.row.req_cmd, r.row.req_args, r.row.resp])

const resp = (...args: string[]) => `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')

/** One raw connection: writes each chunk, waits `ms` after each, returns everything read. */
async function session(port: number, chunks: (string | Buffer)[], ms = 60): Promise<string> {
  const s = connect(port, '127.0.0.1')
  await new Promise((r) => s.once('connect', r))
  let got = ''
  s.on('data', (d) => (got += d.toString('latin1')))
  for (const c of chunks) {
    s.write(c)
    await new Promise((r) => setTimeout(r, ms))
  }
  s.destroy()
  return got
}

test('redis-server and redis-cli: strings, lists, hashes, errors, nulls, two-word commands, RESP3 after HELLO 3', async (t) => {
  if (!which('redis-cli')) return t.skip('redis-cli is not installed (Debian package redis-tools)')
  const svc = await startRedis()
  if ('skip' in svc) return t.skip(svc.skip)
  const proxy = await tcpProxy(svc.port)
  try {
    const input = [
      'SET greeting hello',
      'GET greeting',
      'GET missing',
      'INCR counter',
      'RPUSH list a b c',
      'LRANGE list 0 -1',
      'HSET h f1 v1 f2 v2',
      'GET list',
      'CONFIG GET maxmemory',
      'CLIENT SETNAME kiln',
      'HELLO 3',
      'HGETALL h',
      'SADD s x',
      'SMEMBERS s',
      'ZADD z 1.5 m',
      'ZSCORE z m',
      'EXISTS greeting',
    ].join('\n')
    const r = await run('redis-cli', ['-p', String(proxy.port)], { input })
    assert.equal(r.code, 0, r.stderr)
    await proxy.close()
    const ev = proxy.events()
    recorded.push(ev)
    const got = rows(ev)
    const want: [string, string[], string][] = [
      ['SET', ['greeting', 'hello'], 'OK'],
      ['GET', ['greeting'], 'hello'],
      ['GET', ['missing'], '<NULL>'],
      ['INCR', ['counter'], '1'],
      ['RPUSH', ['list', 'a', 'b', 'c'], '3'],
      ['LRANGE', ['list', '0', '-1'], '["a", "b", "c"]'],
      ['HSET', ['h', 'f1', 'v1', 'f2', 'v2'], '2'],
      ['GET', ['list'], '-WRONGTYPE Operation against a key holding the wrong kind of value'],
      ['CONFIG GET', ['maxmemory'], '["maxmemory", "0"]'],
      ['CLIENT SETNAME', ['kiln'], 'OK'],
    ]
    // redis-cli opens with COMMAND DOCS (and may send CLIENT SETINFO); skip what it sent first.
    const first = got.findIndex((g) => g[0] === 'SET')
    assert.ok(first >= 0, JSON.stringify(got))
    const mine = got.slice(first)
    assert.deepEqual(
      mine.slice(0, want.length),
      want.map(([c, a, r]) => [c, JSON.stringify(a), r]),
    )
    const after = mine.slice(want.length)
    assert.equal(after[0]![0], 'HELLO')
    assert.match(after[0]![2] as string, /^\{"server": "redis", /, 'HELLO 3 answers a RESP3 map')
    assert.deepEqual(after.slice(1), [
      ['HGETALL', '["h"]', '{"f1": "v1", "f2": "v2"}'],
      ['SADD', '["s","x"]', '1'],
      ['SMEMBERS', '["s"]', '["x"]'],
      ['ZADD', '["z","1.5","m"]', '1'],
      ['ZSCORE', '["z","m"]', '1.5'],
      ['EXISTS', '["greeting"]', '1'],
    ])
    assert.deepEqual(inferProtocol(ev[0]!.data, true, { local: 50000, remote: proxy.port }), { protocol: 'redis', fromClient: true })
    // The same under capture that keeps 256 bytes per transfer: every reply but COMMAND DOCS is shorter.
    const cutRows = rows(cut(ev, 256))
    assert.deepEqual(cutRows.slice(cutRows.findIndex((g) => g[0] === 'SET')), mine)
    assert.deepEqual(rows(split(ev, 4)), got)
  } finally {
    await proxy.close()
    await svc.stop()
  }
})

test('redis-server: pipelining with a 300 KB value (counted, not held), then pub/sub messages with no request', async (t) => {
  const svc = await startRedis()
  if ('skip' in svc) return t.skip(svc.skip)
  const proxy = await tcpProxy(svc.port)
  try {
    const big = 'v'.repeat(300_000)
    await session(proxy.port, [resp('SET', 'big', big) + resp('STRLEN', 'big') + resp('GET', 'big') + resp('PING')], 300)
    const sub = connect(proxy.port, '127.0.0.1')
    await new Promise((r) => sub.once('connect', r))
    sub.write(resp('SUBSCRIBE', 'news', 'sport'))
    await new Promise((r) => setTimeout(r, 100))
    await session(proxy.port, [resp('PUBLISH', 'news', 'hello') + resp('PUBLISH', 'sport', 'goal')])
    await new Promise((r) => setTimeout(r, 100))
    sub.destroy()
    await proxy.close()
    const [pipe, subscriber, publisher] = proxy.conns().map((c) => proxy.events(c))
    recorded.push(pipe!, subscriber!)
    const { records, parser } = parse('redis', pipe!)
    assert.deepEqual(
      records.map((r) => [r.row.req_cmd, (r.row.req_args as string).length, (r.row.resp as string).slice(0, 10)]),
      [
        ['SET', JSON.stringify(['big', 'v'.repeat(512)]).length, 'OK'],
        ['STRLEN', 7, '300000'],
        ['GET', 7, 'vvvvvvvvvv'],
        ['PING', 2, 'PONG'],
      ],
    )
    assert.ok(parser.buffered() < 70_000)
    assert.deepEqual(rows(subscriber!), [
      ['SUBSCRIBE', '["news","sport"]', '["subscribe", "news", 1]'],
      ['PUSH PUB', '[]', '["message", "news", "hello"]'],
      ['PUSH PUB', '[]', '["message", "sport", "goal"]'],
    ])
    assert.deepEqual(rows(publisher!), [
      ['PUBLISH', '["news","hello"]', '1'],
      ['PUBLISH', '["sport","goal"]', '1'],
    ])
  } finally {
    await proxy.close()
    await svc.stop()
  }
})

test('hand-built RESP3: null, boolean, double, big number, verbatim, blob error, set, map, attribute, push', () => {
  const ev = script(
    [true, resp('A') + resp('B') + resp('C') + resp('D') + resp('E') + resp('F') + resp('G') + resp('H') + resp('I')],
    [false, '_\r\n#t\r\n,3.14\r\n(12345678901234567890\r\n=15\r\ntxt:Some string\r\n!9\r\nERR oops!\r\n~2\r\n:1\r\n:2\r\n'],
    [false, '|1\r\n+ttl\r\n:3\r\n%1\r\n+k\r\n*1\r\n$1\r\nv\r\n'],
    [false, '>3\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n$0\r\n\r\n+last\r\n'],
  )
  assert.deepEqual(
    rows(ev).map((r) => r[2]),
    ['<NULL>', 'true', '3.14', '12345678901234567890', 'Some string', '-ERR oops!', '[1, 2]', '{"k": ["v"]}', 'last'],
  )
})

test('hand-built: inline commands, a reply with no command, a gap inside an argument, junk', () => {
  const t0 = 10n
  const ev: DataEvent[] = [
    { timeNs: t0, fromClient: false, data: Buffer.from('+stray\r\n'), size: 8 },
    { timeNs: t0 + 1n, fromClient: true, data: Buffer.from('PING\r\nECHO  hi \r\n'), size: 17 },
    { timeNs: t0 + 2n, fromClient: false, data: Buffer.from('+PONG\r\n$2\r\nhi\r\n'), size: 15 },
    { timeNs: t0 + 3n, fromClient: true, data: Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\nxyz'), size: 29 + 100002 },
    { timeNs: t0 + 4n, fromClient: true, data: Buffer.from(resp('GET', 'k')), size: 22 },
    { timeNs: t0 + 5n, fromClient: false, data: Buffer.from('+OK\r\n'), size: 5 },
    { timeNs: t0 + 6n, fromClient: false, data: Buffer.from('$100000\r\nxyz'), size: 9 + 100002 },
    { timeNs: t0 + 7n, fromClient: true, data: Buffer.from('\x00\x01garbage'), size: 9 },
  ]
  const { records, parser } = parse('redis', ev)
  assert.deepEqual(
    records.map((r) => [r.row.req_cmd, r.row.req_args, r.row.resp]),
    [
      ['PING', '[]', 'PONG'],
      ['ECHO', '["hi"]', 'hi'],
      ['SET', '["k","xyz"]', 'OK'],
      ['GET', '["k"]', 'xyz'],
    ],
  )
  assert.equal(parser.stats.unmatched, 1, 'the stray reply')
  assert.equal(parser.stats.errors, 0, 'junk after the last command is skipped at the next command start')
})

test('fuzz: mutated redis-cli recordings and random bytes never throw and stay bounded', () => {
  const r = rng(6379)
  const bases = recorded.length ? recorded : [script([true, resp('GET', 'k')], [false, '$1\r\nv\r\n'])]
  const inputs: DataEvent[][] = []
  for (let i = 0; i < 300; i++) inputs.push(mutate(bases[i % bases.length]!, r))
  for (let i = 0; i < 8; i++) inputs.push(split(mutate(bases[i % bases.length]!, r), 9, i))
  for (let i = 0; i < 100; i++) inputs.push(junk(r))
  inputs.push(script([false, '*1000000000\r\n' + ':1\r\n'.repeat(20000)]))
  inputs.push(script([false, '*1\r\n'.repeat(100) + ':1\r\n']))
  inputs.push(script([true, '*2000000\r\n' + '$1\r\na\r\n'.repeat(50000)]))
  fuzz('redis', inputs)
})
