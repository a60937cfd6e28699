/** `k6/experimental/redis` (and `k6/x/redis`) against Debian's redis-server on a loopback port. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { startRedis, type Service } from '../trace/services.ts'
import { kilnRun, workdir } from './helpers.ts'

let svc: Service | null = null
let skip = ''
before(async () => {
  const s = await startRedis()
  if ('skip' in s) skip = s.skip
  else svc = s
})
after(() => svc?.stop())

/** The JSON a script printed as `RESULT …` from console.log. */
function result(stderr: string): any {
  const line = stderr.split('\n').find((l) => l.includes(' RESULT '))
  assert.ok(line, stderr)
  return JSON.parse(line.slice(line.indexOf(' RESULT ') + 8).replace(/\s+source=console$/, ''))
}

test('every documented Client method, through a URL with user, password and database, and through the options object', async (t) => {
  if (!svc) return t.skip(skip)
  const port = svc.port
  const dir = workdir({
    'script.js': `
import redis from 'k6/experimental/redis'
export const options = { iterations: 1 }
const admin = new redis.Client('redis://127.0.0.1:${port}')
const c = new redis.Client('redis://kiln:s3cret@127.0.0.1:${port}/2')
const o = new redis.Client({ socket: { host: '127.0.0.1', port: ${port} }, username: 'kiln', password: 's3cret', database: 3, clientName: 'kiln-vu' })
const err = (p) => p.then((v) => 'resolved ' + v, (e) => e.message)
export async function setup() {
  await admin.sendCommand('ACL', 'SETUSER', 'kiln', 'on', '>s3cret', '~*', '+@all')
}
export default async function () {
  const r = {}
  r.set = await c.set('k', 'v', 0)
  r.get = await c.get('k')
  r.getMissing = await err(c.get('nope'))
  r.getSet = await c.getSet('k', 42)
  r.afterGetSet = await c.get('k')
  r.exists = await c.exists('k', 'nope')
  r.existsArray = await c.exists(['k', 'k'])
  r.incr = await c.incr('n')
  r.incrBy = await c.incrBy('n', 10)
  r.decr = await c.decr('n')
  r.decrBy = await c.decrBy('n', 3)
  await c.set('word', 'abc', 0)
  r.incrWrong = await err(c.incr('word'))
  r.mget = await c.mget('n', 'nope', 'k')
  r.expire = await c.expire('k', 100)
  r.ttl = await c.ttl('k')
  r.persist = await c.persist('k')
  r.ttlAfter = await c.ttl('k')
  r.expireMissing = await c.expire('nope', 10)
  r.setEx = await c.set('short', 'x', 50)
  r.ttlShort = await c.ttl('short')
  r.lpush = await c.lpush('l', 'b', 'a')
  r.rpush = await c.rpush('l', 'c', 1, true)
  r.lrange = await c.lrange('l', 0, -1)
  r.lindex = await c.lindex('l', -1)
  r.lindexOut = await err(c.lindex('l', 99))
  r.lset = await c.lset('l', 0, 'A')
  r.lrem = await c.lrem('l', 0, '1')
  r.llen = await c.llen('l')
  r.lpop = await c.lpop('l')
  r.rpop = await c.rpop('l')
  r.lpopEmpty = await err(c.lpop('empty'))
  r.hset = await c.hset('h', 'f', 'x')
  r.hsetnx = await c.hsetnx('h', 'f', 'y')
  r.hsetnxNew = await c.hsetnx('h', 'g', 5)
  r.hget = await c.hget('h', 'f')
  r.hgetMissing = await err(c.hget('h', 'zz'))
  r.hincrby = await c.hincrby('h', 'g', 2)
  r.hgetall = await c.hgetall('h')
  r.hkeys = (await c.hkeys('h')).sort()
  r.hvals = (await c.hvals('h')).sort()
  r.hlen = await c.hlen('h')
  r.hdel = await c.hdel('h', 'f', 'zz')
  r.sadd = await c.sadd('s', 'x', 'y', 'x')
  r.srem = await c.srem('s', 'y', 'q')
  r.sismember = await c.sismember('s', 'x')
  r.sismemberNo = await c.sismember('s', 'y')
  r.smembers = await c.smembers('s')
  r.srandmember = await c.srandmember('s')
  r.spop = await c.spop('s')
  r.spopEmpty = await err(c.spop('s'))
  r.wrongType = await err(c.lpush('h', 'x'))
  r.echo = await c.sendCommand('ECHO', 'hello')
  r.getDel = await c.getDel('short')
  r.del = await c.del('n', 'nope')
  r.randomKey = typeof (await c.randomKey())
  r.options = await o.set('from-options', 'yes', 0)
  r.clientName = await o.sendCommand('CLIENT', 'GETNAME')
  r.badPassword = await err(new redis.Client('redis://kiln:wrong@127.0.0.1:${port}').get('k'))
  r.badArg = await err(c.set('k', { a: 1 }, 0))
  console.log('RESULT ' + JSON.stringify(r))
}`,
  })
  const run = await kilnRun(['run', '-q', '--no-summary', 'script.js'], { cwd: dir, timeoutMs: 60_000 })
  assert.equal(run.code, 0, run.stderr)
  const r = result(run.stderr)
  assert.deepEqual(r, {
    set: 'OK',
    get: 'v',
    getMissing: 'redis: nil',
    getSet: 'v',
    afterGetSet: '42',
    exists: 1,
    existsArray: 2,
    incr: 1,
    incrBy: 11,
    decr: 10,
    decrBy: 7,
    incrWrong: 'ERR value is not an integer or out of range',
    mget: ['7', null, '42'],
    expire: true,
    ttl: 100,
    persist: true,
    ttlAfter: -1,
    expireMissing: false,
    setEx: 'OK',
    ttlShort: 50,
    lpush: 2,
    rpush: 5,
    lrange: ['a', 'b', 'c', '1', '1'],
    lindex: '1',
    lindexOut: 'redis: nil',
    lset: 'OK',
    lrem: 2,
    llen: 3,
    lpop: 'A',
    rpop: 'c',
    lpopEmpty: 'redis: nil',
    hset: 1,
    hsetnx: false,
    hsetnxNew: true,
    hget: 'x',
    hgetMissing: 'redis: nil',
    hincrby: 7,
    hgetall: { f: 'x', g: '7' },
    hkeys: ['f', 'g'],
    hvals: ['7', 'x'],
    hlen: 2,
    hdel: 1,
    sadd: 2,
    srem: 1,
    sismember: true,
    sismemberNo: false,
    smembers: ['x'],
    srandmember: 'x',
    spop: 'x',
    spopEmpty: 'redis: nil',
    wrongType: 'WRONGTYPE Operation against a key holding the wrong kind of value',
    echo: 'hello',
    getDel: 'x',
    del: 1,
    randomKey: 'string',
    options: 'OK',
    clientName: 'kiln-vu',
    badPassword: 'WRONGPASS invalid username-password pair or user is disabled.',
    badArg: 'redis: argument 2 of set must be a string, number or boolean, not object',
  })
  // The keys are where the URL and the options said: databases 2 and 3, not 0.
  const peek = new Redis({ port, host: '127.0.0.1', lazyConnect: true })
  try {
    await peek.connect()
    assert.equal(await peek.get('k'), null)
    await peek.select(2)
    assert.equal(await peek.get('k'), '42')
    await peek.select(3)
    assert.equal(await peek.get('from-options'), 'yes')
  } finally {
    peek.disconnect()
  }
})

test('k6/x/redis is the same module; a bad URL is a script error, an unreachable server a rejection', async (t) => {
  if (!svc) return t.skip(skip)
  const dir = workdir({
    'ok.js': `
import { Client } from 'k6/x/redis'
export const options = { iterations: 1 }
const down = new Client({ socket: { host: '127.0.0.1', port: 1 } })
export default async function () {
  const r = await down.get('k').then(() => 'resolved', (e) => e.message)
  console.log('RESULT ' + JSON.stringify(r))
}`,
    'bad.js': `
import redis from 'k6/experimental/redis'
const c = new redis.Client('http://127.0.0.1:${svc.port}')
export default function () {}`,
  })
  const ok = await kilnRun(['run', '-q', '--no-summary', 'ok.js'], { cwd: dir, timeoutMs: 60_000 })
  assert.equal(ok.code, 0, ok.stderr)
  assert.match(result(ok.stderr), /ECONNREFUSED 127\.0\.0\.1:1/)
  const bad = await kilnRun(['run', '-q', '--no-summary', 'bad.js'], { cwd: dir })
  assert.equal(bad.code, 107, bad.stderr)
  assert.match(bad.stderr, /invalid redis URL scheme 'http': use redis:\/\/ or rediss:\/\//)
})
