/**
 * `k6/experimental/redis` beyond one server: a Redis Cluster of three masters (keys routed to the
 * node of their slot) and a Sentinel that names the master, all Debian's redis-server on loopback.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freePort, which } from '../trace/services.ts'
import { kilnRun, workdir } from './helpers.ts'

const server = which('redis-server')
const cli = which('redis-cli')
const skip = server && cli ? false : 'redis-server and redis-cli are not installed (Debian packages redis-server, redis-tools)'
const procs: ChildProcess[] = []
let dir = ''

/** A redis-server with `args` (after its config file `conf`, which must come first), answering PING on `port` (30 s at most). */
async function redis(port: number, args: string[], conf: string[] = []): Promise<void> {
  const common = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]
  const p = spawn(server!, [...conf, ...common, ...args], { stdio: 'ignore' })
  procs.push(p)
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
  c.on('error', () => {}) // refused until the server listens: the loop below retries
  try {
    for (let i = 0; ; i++) {
      try {
        if (c.status !== 'ready') await c.connect()
        await c.ping()
        return
      } catch (e) {
        if (i > 300 || p.exitCode !== null) throw new Error(`redis-server on ${port} did not start: ${(e as Error).message}`)
        c.disconnect()
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  } finally {
    c.disconnect()
  }
}

let nodes: number[] = []
let master = 0
let sentinel = 0
before(async () => {
  if (skip) return
  dir = mkdtempSync(join(tmpdir(), 'kiln-redis-'))
  // Three cluster masters, each with its own bus port (cluster-port: ports from freePort can be above 55535).
  nodes = [await freePort(), await freePort(), await freePort()]
  for (const [i, port] of nodes.entries())
    await redis(port, ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${i}.conf`, '--cluster-port', String(await freePort())])
  const made = spawnSync(cli!, ['--cluster', 'create', ...nodes.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
    encoding: 'utf8',
  })
  assert.equal(made.status, 0, made.stdout + made.stderr)
  for (const port of nodes) {
    const c = new Redis({ port, host: '127.0.0.1' })
    for (let i = 0; !(await c.cluster('INFO')).includes('cluster_state:ok'); i++) {
      assert.ok(i < 300, `cluster node ${port} never became ok`)
      await new Promise((r) => setTimeout(r, 100))
    }
    c.disconnect()
  }
  // A plain master and a Sentinel watching it under the name 'shop'.
  master = await freePort()
  await redis(master, [])
  sentinel = await freePort()
  writeFileSync(join(dir, 'sentinel.conf'), `sentinel monitor shop 127.0.0.1 ${master} 1\n`)
  await redis(sentinel, [], [join(dir, 'sentinel.conf'), '--sentinel'])
})
after(() => {
  for (const p of procs) p.kill('SIGKILL')
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** The JSON a script printed as `RESULT …` from console.log. */
function result(stderr: string): any {
  const line = stderr.split('\n').find((l) => l.includes(' RESULT '))
  assert.ok(line, stderr)
  return JSON.parse(line.slice(line.indexOf(' RESULT ') + 8).replace(/\s+source=console$/, ''))
}

test('a cluster: keys go to the node of their slot, given one node (cluster.nodes) or all of them (v0.47 addrs)', { skip }, async () => {
  const d = workdir({
    'script.js': `
import redis from 'k6/experimental/redis'
export const options = { iterations: 1 }
const viaNodes = new redis.Client({ cluster: { nodes: ['redis://127.0.0.1:${nodes[0]}'] } })
const viaAddrs = new redis.Client({ addrs: ${JSON.stringify(nodes.map((p) => `127.0.0.1:${p}`))} })
export default async function () {
  const r = { set: 0, got: [], addrs: [] }
  for (let i = 0; i < 30; i++) r.set += (await viaNodes.set('key' + i, 'v' + i, 0)) === 'OK' ? 1 : 0
  for (let i = 0; i < 30; i++) r.got.push(await viaAddrs.get('key' + i))
  r.incr = await viaAddrs.incr('counter')
  r.crossSlot = await viaNodes.mget('key1', 'key2').then(() => 'resolved', (e) => e.message)
  console.log('RESULT ' + JSON.stringify(r))
}`,
  })
  const run = await kilnRun(['run', '-q', '--no-summary', 'script.js'], { cwd: d, timeoutMs: 60_000 })
  assert.equal(run.code, 0, run.stderr)
  const r = result(run.stderr)
  assert.equal(r.set, 30)
  assert.deepEqual(
    r.got,
    Array.from({ length: 30 }, (_, i) => `v${i}`),
  )
  assert.equal(r.incr, 1)
  // Keys of two slots in one command: the cluster's own refusal, as go-redis reports it in k6.
  assert.match(r.crossSlot, /CROSSSLOT/)
  // Every master holds some of the keys: they were routed, not all sent to the node given.
  for (const port of nodes) {
    const c = new Redis({ port, host: '127.0.0.1' })
    assert.ok((await c.dbsize()) > 0, `node ${port} holds none of the 30 keys`)
    c.disconnect()
  }
})

test('Sentinel: masterName finds the master through the Sentinel at socket; an unknown name fails the command, not the run', {
  skip,
}, async () => {
  const d = workdir({
    'script.js': `
import redis from 'k6/experimental/redis'
export const options = { iterations: 1 }
const c = new redis.Client({ socket: { host: '127.0.0.1', port: ${sentinel} }, masterName: 'shop' })
const wrong = new redis.Client({ socket: { host: '127.0.0.1', port: ${sentinel} }, masterName: 'nope' })
export default async function () {
  const r = {}
  r.set = await c.set('through-sentinel', 'yes', 0)
  r.get = await c.get('through-sentinel')
  r.wrong = await wrong.get('x').then(() => 'resolved', (e) => e.message)
  console.log('RESULT ' + JSON.stringify(r))
}`,
    'bad.js': `
import redis from 'k6/experimental/redis'
const c = new redis.Client({ cluster: { nodes: [] } })
export default function () {}`,
  })
  const run = await kilnRun(['run', '-q', '--no-summary', 'script.js'], { cwd: d, timeoutMs: 60_000 })
  assert.equal(run.code, 0, run.stderr)
  const r = result(run.stderr)
  assert.equal(r.set, 'OK')
  assert.equal(r.get, 'yes')
  assert.notEqual(r.wrong, 'resolved')
  // The value is on the master the Sentinel named.
  const m = new Redis({ port: master, host: '127.0.0.1' })
  assert.equal(await m.get('through-sentinel'), 'yes')
  m.disconnect()
  const bad = await kilnRun(['run', '-q', '--no-summary', 'bad.js'], { cwd: d })
  assert.equal(bad.code, 107, bad.stderr)
  assert.match(bad.stderr, /cluster\.nodes must list at least one node/)
})
