/** kiln archive → kiln run archive.tar without the original files; kiln inspect; kiln new. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { rmSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startServer, kilnRun, workdir, type TestServer } from './helpers.ts'
import { readTar, writeTar } from '../../src/loadtest/run/archive.ts'
import { KilnError } from '../../src/model/errors.ts'

let srv: TestServer
before(async () => {
  srv = await startServer()
})
after(() => srv.close())

test('an archive holds the script, its modules and opened files, and runs where they are gone', async () => {
  srv.hits.clear()
  const dir = workdir({
    'script.js': `import http from 'k6/http'
import { page } from './lib/pages.js'
const users = JSON.parse(open('./users.json'))
export const options = { iterations: 3 }
export default function () { http.get(__ENV.BASE + page(users[__ITER % users.length])) }`,
    'users.json': JSON.stringify(['ada', 'bob']),
  })
  mkdirSync(join(dir, 'lib'))
  writeFileSync(join(dir, 'lib', 'pages.js'), `export const page = (u) => '/user/' + u`)
  const a = await kilnRun(['archive', '-O', 'test.tar', '-e', 'IGNORED=1', 'script.js'], { cwd: dir })
  assert.equal(a.code, 0, a.stderr)
  assert.match(a.stdout, /3 files/)
  rmSync(join(dir, 'lib'), { recursive: true })
  rmSync(join(dir, 'users.json'))
  rmSync(join(dir, 'script.js'))
  const r = await kilnRun(['run', '-q', '-e', `BASE=${srv.url}`, 'test.tar'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(srv.hits.get('/user/ada'), 2)
  assert.equal(srv.hits.get('/user/bob'), 1)
})

test('tar reader: round trip, long names, and damaged input gives a clean error', () => {
  const long = 'files/' + 'd'.repeat(120) + '/x.js'
  const entries = new Map([
    ['a.txt', Buffer.from('hello')],
    [long, Buffer.alloc(1000, 7)],
  ])
  const back = readTar(writeTar(entries))
  assert.deepEqual([...back.keys()], ['a.txt', long])
  assert.equal(back.get(long)!.length, 1000)
  const tar = writeTar(entries)
  let seed = 3
  for (let i = 0; i < 500; i++) {
    const bad = Buffer.from(tar.subarray(0, (seed = (seed * 48271) % 2147483647) % tar.length))
    const k = seed % Math.max(1, bad.length)
    bad[k] = (bad[k] ?? 0) ^ 0xff
    try {
      readTar(bad)
    } catch (e) {
      assert.ok(e instanceof KilnError, String(e))
    }
  }
})

test('kiln inspect prints the resolved plan; kiln new writes a script kiln accepts', async () => {
  const dir = workdir({})
  const n = await kilnRun(['new', '--template', 'protocol', 'load.js'], { cwd: dir })
  assert.equal(n.code, 0, n.stderr)
  assert.match(readFileSync(join(dir, 'load.js'), 'utf8'), /export default function/)
  const again = await kilnRun(['new', '--template', 'protocol', 'load.js'], { cwd: dir })
  assert.notEqual(again.code, 0, 'no overwrite without --force')
  const i = await kilnRun(['inspect', 'load.js'], { cwd: dir })
  assert.equal(i.code, 0, i.stderr)
  const plan = JSON.parse(i.stdout)
  assert.equal(plan.scenarios.default.executor, 'ramping-vus')
  assert.deepEqual(plan.executionRequirements, { maxVUs: 5, totalDuration: '70s' })
  const req = await kilnRun(['inspect', '--execution-requirements', '-u', '3', '-d', '10s', 'load.js'], { cwd: dir })
  assert.deepEqual(JSON.parse(req.stdout), { maxVUs: 3, totalDuration: '40s' })
})
