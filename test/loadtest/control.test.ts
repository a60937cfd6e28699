/** k6's REST API on `kiln run --address`, driven by `kiln status|pause|resume|scale|stats` processes. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { startServer, kilnRun, workdir, type TestServer } from './helpers.ts'
import { apiCall } from '../../src/cli/control.ts'

let srv: TestServer
before(async () => {
  srv = await startServer()
})
after(() => srv.close())

const freePort = (): Promise<number> =>
  new Promise((r) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => r(port))
    })
  })

/** Polls `cond` every 100 ms, at most 60 s (a run's start-up took over 15 s at load 20). */
async function until(cond: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await cond()) return
    await new Promise((r) => setTimeout(r, 100))
  }
  assert.fail(`timed out waiting for ${what}`)
}

test('--paused waits for kiln resume; kiln scale changes the VUs; kiln status and stats read the API; a stop via the API exits 103', async () => {
  srv.hits.clear()
  const address = `127.0.0.1:${await freePort()}`
  const dir = workdir({
    'test.js': `import http from 'k6/http'
import { sleep } from 'k6'
export const options = { scenarios: { ext: { executor: 'externally-controlled', vus: 1, maxVUs: 3, duration: '60s' } } }
export default function () { http.get(__ENV.BASE + '/vu' + __VU); sleep(0.05) }`,
  })
  const running = kilnRun(['run', '-q', '--paused', '--address', address, '-e', `BASE=${srv.url}`, 'test.js'], { cwd: dir })
  const status = async (): Promise<Record<string, unknown> | null> => {
    try {
      return ((await apiCall(address, 'GET', '/v1/status')).data as { attributes: Record<string, unknown> }).attributes
    } catch {
      return null
    }
  }
  await until(async () => (await status())?.paused === true, 'the paused test to listen')
  const st = await kilnRun(['status', '-a', address])
  assert.equal(st.code, 0, st.stderr)
  assert.match(st.stdout, /^paused: true$/m)
  assert.equal(srv.total(), 0, 'nothing is sent while paused')

  const res = await kilnRun(['resume', '-a', address])
  assert.equal(res.code, 0, res.stderr)
  await until(() => (srv.hits.get('/vu1') ?? 0) > 0, 'VU 1 to send')
  assert.equal(srv.hits.get('/vu2'), undefined, 'one VU until scaled')

  const sc = await kilnRun(['scale', '--vus', '3', '-a', address])
  assert.equal(sc.code, 0, sc.stderr)
  await until(() => (srv.hits.get('/vu3') ?? 0) > 0, 'VU 3 to send after kiln scale')
  const tooMany = await kilnRun(['scale', '--vus', '9', '-a', address])
  assert.notEqual(tooMany.code, 0)
  assert.match(tooMany.stderr, /from 0 to 3/)

  const stats = await kilnRun(['stats', '-a', address])
  assert.equal(stats.code, 0, stats.stderr)
  assert.match(stats.stdout, /^http_reqs \(counter\): count=\d+/m)

  const paused = await kilnRun(['pause', '-a', address])
  assert.match(paused.stdout, /^paused: true$/m)
  await apiCall(address, 'PATCH', '/v1/status', { data: { type: 'status', id: 'default', attributes: { stopped: true } } })
  const r = await running
  assert.equal(r.code, 103, r.stderr)

  const gone = await kilnRun(['status', '-a', address])
  assert.notEqual(gone.code, 0)
  assert.match(gone.stderr, /cannot reach a running test/)
})

test('pause and resume reach VUs that loop their iterations on worker threads (constant-vus); a stop while paused ends them', async () => {
  srv.hits.clear()
  const address = `127.0.0.1:${await freePort()}`
  const dir = workdir({
    'loop.js': `import http from 'k6/http'
import { sleep } from 'k6'
export const options = { scenarios: { c: { executor: 'constant-vus', vus: 4, duration: '60s' } } }
export default function () { http.get(__ENV.BASE + '/loop'); sleep(0.02) }`,
  })
  const running = kilnRun(['run', '-q', '--address', address, '-e', `BASE=${srv.url}`, 'loop.js'], {
    cwd: dir,
    env: { KILN_RUN_THREADS: '2' },
    timeoutMs: 180_000,
  })
  const hits = (): number => srv.hits.get('/loop') ?? 0
  await until(() => hits() > 0, 'the VUs to send')
  const paused = await kilnRun(['pause', '-a', address])
  assert.equal(paused.code, 0, paused.stderr)
  // An iteration already running when the pause came still ends: one more request per VU at most.
  const atPause = hits()
  await new Promise((r) => setTimeout(r, 1000))
  assert.ok(hits() <= atPause + 4, `paused: ${atPause} requests at the pause, ${hits()} a second later`)
  const stillPaused = hits()
  await new Promise((r) => setTimeout(r, 500))
  assert.equal(hits(), stillPaused, 'nothing is sent while paused')
  const resumed = await kilnRun(['resume', '-a', address])
  assert.equal(resumed.code, 0, resumed.stderr)
  await until(() => hits() > stillPaused, 'the VUs to send again after the resume')
  await kilnRun(['pause', '-a', address])
  await apiCall(address, 'PATCH', '/v1/status', { data: { type: 'status', id: 'default', attributes: { stopped: true } } })
  const r = await running
  assert.equal(r.code, 103, r.stderr)
})
