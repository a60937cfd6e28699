/**
 * Pull mode end to end: a `kiln server` process configured with `scrape:` targets pulls a real Go
 * program's net/http/pprof endpoints and @kiln/node's pull endpoint; a hanging target and a
 * closed port show up as failures with their last error and time in /api/v1/scrape-targets.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer as createHttpServer } from 'node:http'
import { createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { startKiln, call, q, root } from '../server/helpers.ts'
import { buildGoApp, startListening } from './goapp.ts'
import { ProfileBuilder } from '../../src/model/profile.ts'
import { encodePprof } from '../../src/formats/pprof.ts'

const nodeApp = `
import { startPullServer } from ${JSON.stringify(join(root, 'packages/node/src/index.ts'))}
function kilnPullHot(ms) { const end = Date.now() + ms; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1); return x }
const keep = []
setInterval(() => { kilnPullHot(30); keep.push(new Array(2000).fill(keep.length)); if (keep.length > 200) keep.shift() }, 40)
const s = await startPullServer({ port: 0 })
console.log('listening on ' + s.url)
`

interface Status {
  url: string
  health: string
  lastError?: string
  lastErrorTime?: string
  profiles: { path: string; health: string; scrapes: number; lastError?: string }[]
}

async function until(what: string, ok: () => Promise<string | true>, tries = 120): Promise<void> {
  let last = ''
  for (let i = 0; i < tries; i++) {
    const r = await ok()
    if (r === true) return
    last = r
    await new Promise((r) => setTimeout(r, 500))
  }
  throw new Error(`timed out waiting until ${what}; last: ${last}`)
}

test('the server scrapes a Go program and @kiln/node; failing targets show their errors', async (t) => {
  const built = buildGoApp()
  if ('skip' in built) {
    console.log(`# skipped: ${built.skip}`)
    t.skip(built.skip)
    return
  }
  const dir = mkdtempSync(join(tmpdir(), 'kiln-scrape-'))
  const hung = new Set<Socket>()
  const hanging = createServer((s) => {
    hung.add(s)
    s.resume()
  })
  await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', () => r()))
  // Answers 200 with text: not a profile.
  const garbage = createHttpServer((_req, res) => res.end('hello, not a profile\n'))
  // Serves a custom profile only with the right token.
  const custom = new ProfileBuilder({
    sampleTypes: [{ type: 'things', unit: 'count' }],
    periodType: { type: 'things', unit: 'count' },
    period: 1,
    timeMs: Date.now(),
    durationNanos: 0,
  })
  custom.addNames(['main', 'kilnAuthed'], [7])
  const customBody = encodePprof(custom.build(), { gzip: true })
  const authed = createHttpServer((req, res) => {
    if (req.headers.authorization !== 'Bearer s3cret') return res.writeHead(401).end('unauthorized\n')
    res.end(customBody)
  })
  await new Promise<void>((r) => authed.listen(0, '127.0.0.1', () => r()))
  await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', () => r()))
  const closed = createServer()
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()))
  const closedPort = (closed.address() as { port: number }).port
  await new Promise((r) => closed.close(r))
  writeFileSync(join(dir, 'app.mts'), nodeApp)
  const go = await startListening(built.binary, [])
  const node = await startListening(process.execPath, ['--import', 'tsx', join(dir, 'app.mts')], { cwd: root })
  const config = {
    scrape: [
      {
        url: go.url,
        labels: { service_name: 'go-app', env: 'test' },
        interval: '2s',
        seconds: 1,
        profiles: ['cpu', 'heap', 'goroutine', 'mutex', 'block', { path: '/debug/pprof/threadcreate', metric: 'threadcreate' }],
      },
      { url: node.url, labels: { service_name: 'node-app' }, interval: '2s', seconds: 1, profiles: ['cpu', 'heap', 'goroutine'] },
      {
        url: `http://127.0.0.1:${(hanging.address() as { port: number }).port}`,
        labels: { service_name: 'hangs' },
        interval: '2s',
        timeout: '1s',
        profiles: ['heap'],
      },
      { url: `http://127.0.0.1:${closedPort}`, labels: { service_name: 'gone' }, interval: '2s', profiles: ['heap'] },
      {
        url: `http://127.0.0.1:${(garbage.address() as { port: number }).port}`,
        labels: { service_name: 'garbage' },
        interval: '2s',
        profiles: ['heap'],
      },
      {
        url: `http://127.0.0.1:${(authed.address() as { port: number }).port}`,
        labels: { service_name: 'authed' },
        interval: '2s',
        headers: { authorization: 'Bearer s3cret' },
        profiles: [{ path: '/debug/pprof/custom', metric: 'custom' }],
      },
    ],
  }
  writeFileSync(join(dir, 'kiln.yaml'), stringify(config))
  const stopTargets = async () => {
    await go.stop()
    await node.stop()
    for (const x of hung) x.destroy()
    await new Promise((r) => hanging.close(r))
    await new Promise((r) => garbage.close(r))
    await new Promise((r) => authed.close(r))
    rmSync(dir, { recursive: true, force: true })
  }
  // A server that does not start must not leave the targets running: the file then hung until
  // scripts/test.js killed it 10 minutes later (a whole-suite run at load 21).
  const kiln = await startKiln(['--config', join(dir, 'kiln.yaml')]).catch(async (e: unknown) => {
    await stopTargets()
    throw e
  })
  try {
    const targets = async () => (await call(`${kiln.url}/api/v1/scrape-targets`)).json as Status[]
    // Two scrapes of each cumulative profile: the second one writes their deltas.
    await until('every Go and Node profile was scraped twice and the bad targets failed', async () => {
      const s = await targets()
      const scraped = (i: number, path: string) => (s[i]!.profiles.find((p) => p.path === path)?.scrapes ?? 0) >= 2
      return (
        ([
          '/debug/pprof/profile',
          '/debug/pprof/heap',
          '/debug/pprof/mutex',
          '/debug/pprof/block',
          '/debug/pprof/goroutine',
          '/debug/pprof/threadcreate',
        ].every((p) => scraped(0, p)) &&
          ['/debug/pprof/profile', '/debug/pprof/heap'].every((p) => scraped(1, p)) &&
          s[2]!.health === 'down' &&
          s[3]!.health === 'down' &&
          s[4]!.health === 'down' &&
          s[5]!.health === 'up') ||
        JSON.stringify(s)
      )
    })
    const s = await targets()
    assert.equal(s[0]!.health, 'up', JSON.stringify(s[0]))
    assert.equal(s[1]!.health, 'down', 'goroutine is not served by @kiln/node')
    assert.match(s[1]!.lastError!, /goroutine.*HTTP 404/)
    assert.match(s[2]!.lastError!, /no complete answer within 1000 ms/)
    assert.match(s[3]!.lastError!, /ECONNREFUSED/)
    assert.match(s[4]!.lastError!, /did not return a pprof profile: /)
    assert.equal(s[5]!.lastError, undefined, 'the token was sent')
    for (const x of s.slice(1, 5)) assert.ok(Date.parse(x.lastErrorTime!) > Date.now() - 60_000, 'a recent error time')

    const types = async (service: string) =>
      (await call(`${kiln.url}/api/v1/profile-types?${q({ query: `{service_name="${service}"}` })}`)).json.map(
        (x: { id: string }) => x.id,
      ) as string[]
    const goTypes = await types('go-app')
    for (const id of [
      'process_cpu:cpu:nanoseconds:cpu:nanoseconds',
      'memory:inuse_space:bytes:space:bytes',
      'memory:alloc_space:bytes:space:bytes',
      'goroutines:goroutine:count:goroutine:count',
      'mutex:delay:nanoseconds:contentions:count',
      'block:delay:nanoseconds:contentions:count',
      'threadcreate:threadcreate:count:threadcreate:count',
    ]) {
      assert.ok(goTypes.includes(id), `${id} in ${goTypes}`)
    }
    const top = async (type: string, query: string) =>
      (await call(`${kiln.url}/api/v1/top?${q({ type, query })}`)).json as { rows: { name: string; total: number }[]; total: number }
    const has = async (type: string, query: string, fn: string) => {
      const r = await top(type, query)
      assert.ok(
        r.rows.some((x) => x.name.includes(fn) && x.total > 0),
        `${fn} in ${type}: ${r.rows.slice(0, 8).map((x) => x.name)}`,
      )
    }
    await has('process_cpu:cpu:nanoseconds:cpu:nanoseconds', '{service_name="go-app", env="test"}', 'main.kilnGoHot')
    await has('memory:alloc_space:bytes:space:bytes', '{service_name="go-app"}', 'main.kilnGoAlloc')
    await has('mutex:delay:nanoseconds:contentions:count', '{service_name="go-app"}', 'main.kilnGoLock')
    await has('block:delay:nanoseconds:contentions:count', '{service_name="go-app"}', 'main.kilnGoBlock')
    const instances = (await call(`${kiln.url}/api/v1/label-values?${q({ name: 'instance', query: '{service_name="go-app"}' })}`)).json
    assert.deepEqual(instances, [new URL(go.url).host])

    await has('process_cpu:cpu:nanoseconds:wall:nanoseconds', '{service_name="node-app"}', 'kilnPullHot')
    await has('custom:things:count:things:count', '{service_name="authed"}', 'kilnAuthed')
    assert.ok((await types('node-app')).includes('memory:inuse_space:bytes:space:bytes'))
  } finally {
    await kiln.dispose()
    await stopTargets()
  }
})
