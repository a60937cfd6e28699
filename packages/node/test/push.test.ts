/**
 * @kiln/node in a real app pushes to a real `kiln server` process: the hot function and a
 * wrapWithLabels label arrive; a dead or silent server leaves the app running, drops counted.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server, type Socket } from 'node:net'
import { startKiln, call, q } from '../../../test/server/helpers.ts'
import { hotSource, runApp } from './support.ts'

const CPU = 'process_cpu:cpu:nanoseconds:wall:nanoseconds'
const WALL = 'wall:wall:nanoseconds:wall:nanoseconds'

// Configured only through PYROSCOPE_* variables, as a deployment would.
const app = `
import { init, start, stop, wrapWithLabels, stats } from SDK
${hotSource}
function kilnSdkPlain(ms) { return kilnSdkHot(ms) }
init({ tags: { region: 'test' }, retryBaseMs: 100, attempts: 2, timeoutMs: Number(process.env.TIMEOUT_MS ?? 10000) })
await start()
let ticks = 0
for (let i = 0; i < Number(process.env.ROUNDS ?? 40); i++) {
  wrapWithLabels({ route: '/checkout' }, () => kilnSdkHot(60))
  kilnSdkPlain(15)
  await new Promise((r) => setTimeout(r, 5))
  ticks++
}
await stop(Number(process.env.STOP_MS ?? 5000))
console.log(JSON.stringify({ ticks, ...stats() }))
`

test('an app using @kiln/node pushes CPU, wall and heap profiles with its dynamic labels', async () => {
  const kiln = await startKiln()
  try {
    const r = await runApp(app, {
      PYROSCOPE_SERVER_ADDRESS: kiln.url,
      PYROSCOPE_APPLICATION_NAME: 'sdk-push',
      PYROSCOPE_FLUSH_INTERVAL_MS: '1000',
    })
    assert.equal(r.code, 0, r.err)
    const s = JSON.parse(r.out)
    assert.ok(s.sent >= 2 && s.dropped === 0, `profiles sent, none dropped: ${r.out} ${r.err}`)
    const types = (await call(`${kiln.url}/api/v1/profile-types?${q({ query: '{service_name="sdk-push"}' })}`)).json.map(
      (t: { id: string }) => t.id,
    )
    for (const t of [CPU, WALL, 'memory:inuse_space:bytes:space:bytes', 'memory:inuse_objects:count:space:bytes'])
      assert.ok(types.includes(t), `${t} in ${types}`)

    const top = async (type: string, query: string) =>
      (await call(`${kiln.url}/api/v1/top?${q({ type, query })}`)).json as {
        rows: { name: string; self: number; total: number }[]
        total: number
      }
    const share = (t: Awaited<ReturnType<typeof top>>, fn: string) =>
      t.rows.filter((x) => x.name.startsWith(`${fn} `)).reduce((a, x) => a + x.self, 0) / t.total
    const all = await top(CPU, '{service_name="sdk-push", region="test"}')
    assert.ok(share(all, 'kilnSdkHot') > 0.5, `kilnSdkHot is most of the CPU time: ${JSON.stringify(all.rows.slice(0, 5))}`)
    assert.ok(
      all.rows.some((x) => /^kilnSdkHot .*app\.mts:\d+$/.test(x.name)),
      'frames are named "function file:line"',
    )

    const routes = (await call(`${kiln.url}/api/v1/label-values?${q({ name: 'route', query: '{service_name="sdk-push"}' })}`)).json
    assert.deepEqual(routes, ['/checkout'])
    // The labelled series holds the wrapped calls only; the plain caller stays outside it.
    const labelled = await top(CPU, '{service_name="sdk-push", route="/checkout"}')
    assert.ok(
      share(labelled, 'kilnSdkHot') > 0.7,
      `the labelled series is the wrapped hot loop: ${JSON.stringify(labelled.rows.slice(0, 5))}`,
    )
    const plainIn = (t: Awaited<ReturnType<typeof top>>) =>
      t.rows.filter((x) => x.name.startsWith('kilnSdkPlain ')).reduce((a, x) => a + x.total, 0) / t.total
    assert.ok(plainIn(labelled) < 0.05, `kilnSdkPlain is (almost) never labelled: ${plainIn(labelled)}`)
    assert.ok(plainIn(all) > 0.05, `kilnSdkPlain shows in the unlabelled series: ${plainIn(all)}`)
    // Wall time includes the idle waits; CPU time does not.
    const wall = await top(WALL, '{service_name="sdk-push"}')
    assert.ok(
      wall.rows.some((x) => x.name === '(idle)'),
      'idle time is wall time',
    )
    assert.ok(!all.rows.some((x) => x.name === '(idle)'), 'idle time is not CPU time')
  } finally {
    await kiln.dispose()
  }
})

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  return (server.address() as { port: number }).port
}

test('a dead server (closed port) leaves the app running and counts the drops', async () => {
  const probe = createServer()
  const port = await listen(probe)
  await new Promise((r) => probe.close(r))
  const r = await runApp(app, {
    PYROSCOPE_SERVER_ADDRESS: `http://127.0.0.1:${port}`,
    PYROSCOPE_APPLICATION_NAME: 'sdk-dead',
    PYROSCOPE_FLUSH_INTERVAL_MS: '1000',
    ROUNDS: '25',
    STOP_MS: '1000',
  })
  assert.equal(r.code, 0, r.err)
  const s = JSON.parse(r.out)
  assert.equal(s.ticks, 25)
  assert.equal(s.sent, 0)
  assert.ok(s.dropped >= 2, `drops counted: ${r.out}`)
  assert.match(r.err, /@kiln\/node: dropped \d+ profile\(s\) for http:\/\/127\.0\.0\.1:\d+ \(\d+ in total\): .*ECONNREFUSED/)
})

test('a server that never answers times out: the app finishes and the drops are counted', async () => {
  const sockets = new Set<Socket>()
  const silent = createServer((s) => {
    sockets.add(s)
    s.resume() // read the request, never answer
  })
  const port = await listen(silent)
  try {
    const r = await runApp(app, {
      PYROSCOPE_SERVER_ADDRESS: `http://127.0.0.1:${port}`,
      PYROSCOPE_APPLICATION_NAME: 'sdk-silent',
      PYROSCOPE_FLUSH_INTERVAL_MS: '1000',
      ROUNDS: '25',
      STOP_MS: '1000',
      TIMEOUT_MS: '300',
    })
    assert.equal(r.code, 0, r.err)
    const s = JSON.parse(r.out)
    assert.equal(s.ticks, 25)
    assert.equal(s.sent, 0)
    assert.ok(s.dropped >= 2, `drops counted: ${r.out}`)
    assert.match(r.err, /no answer within 300 ms/)
    assert.ok(sockets.size > 0, 'the app did try the server')
  } finally {
    for (const s of sockets) s.destroy()
    await new Promise((r) => silent.close(r))
  }
})

const asyncApp = `
import { init, start, stop, wrapWithLabels } from SDK
function kilnAfterAwait(ms) { const end = Date.now() + ms; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1); return x }
function kilnOutside(ms) { const end = Date.now() + ms; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 2); return x }
init({ asyncLabels: process.env.ASYNC === '1' })
await start()
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
// Long phases: on a loaded machine a sample's time and the stack it records can lie some ms apart
// (V8's sampler thread and the main thread wait for a core), across a label change — with 50 ms
// phases 12 % of kilnOutside came out labelled at load 20; 150 ms keeps that skew a small share.
for (let i = 0; i < 10; i++) {
  await wrapWithLabels({ route: '/async' }, async () => { await sleep(2); kilnAfterAwait(150) })
  kilnOutside(50)
  await sleep(2)
}
await stop()
`

test('with asyncLabels, labels follow await; without, only the synchronous part is labelled', async () => {
  const kiln = await startKiln()
  try {
    for (const on of ['1', '0']) {
      const r = await runApp(asyncApp, {
        PYROSCOPE_SERVER_ADDRESS: kiln.url,
        PYROSCOPE_APPLICATION_NAME: `sdk-async-${on}`,
        PYROSCOPE_FLUSH_INTERVAL_MS: '1000',
        ASYNC: on,
      })
      assert.equal(r.code, 0, r.err)
    }
    const top = async (query: string) =>
      (await call(`${kiln.url}/api/v1/top?${q({ type: CPU, query })}`)).json as { rows: { name: string; total: number }[]; total: number }
    const share = (t: Awaited<ReturnType<typeof top>>, fn: string) =>
      t.total ? t.rows.filter((x) => x.name.startsWith(`${fn} `)).reduce((a, x) => a + x.total, 0) / t.total : 0
    const on = await top('{service_name="sdk-async-1", route="/async"}')
    assert.ok(share(on, 'kilnAfterAwait') > 0.7, `the work after await is labelled: ${JSON.stringify(on.rows.slice(0, 5))}`)
    assert.ok(share(on, 'kilnOutside') < 0.05, `work outside the wrapped call is not: ${share(on, 'kilnOutside')}`)
    const offAll = await top('{service_name="sdk-async-0"}')
    const offLabelled = await top('{service_name="sdk-async-0", route="/async"}')
    assert.ok(share(offAll, 'kilnAfterAwait') > 0.3, 'the work ran')
    assert.ok(
      offLabelled.total < offAll.total * 0.05,
      `without asyncLabels the continuation is not labelled: ${offLabelled.total} of ${offAll.total}`,
    )
  } finally {
    await kiln.dispose()
  }
})
