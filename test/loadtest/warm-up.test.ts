/**
 * run/warm-up.ts: before the clock starts, each worker thread runs throwaway VUs against Kiln's
 * own loopback server, so V8 has compiled the hot code when the test begins. None of it may
 * reach the test's target, its metrics, its iteration counts or its `rps` budget.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { consolidate } from '../../src/loadtest/run/options.ts'
import { WARM_UP_MAX_MS, startWarmTarget, warmUpFits, warmUpMs, warmUpVUs } from '../../src/loadtest/run/warm-up.ts'
import type { VuOptions } from '../../src/loadtest/engine/host.ts'
import { kilnRun, startServer, workdir } from './helpers.ts'

const scenarios = (o: Record<string, unknown>) => consolidate([o]).scenarios

test('the warm-up lasts a quarter of the longest scenario, at most 2 s; KILN_RUN_WARMUP sets it', () => {
  assert.equal(warmUpMs(scenarios({ duration: '1s' }), {}), 250)
  assert.equal(warmUpMs(scenarios({ duration: '5s' }), {}), 1250)
  assert.equal(warmUpMs(scenarios({ duration: '1m' }), {}), WARM_UP_MAX_MS)
  assert.equal(
    warmUpMs(
      scenarios({
        stages: [
          { duration: '2s', target: 5 },
          { duration: '2s', target: 0 },
        ],
      }),
      {},
    ),
    1000,
  )
  assert.equal(warmUpMs(scenarios({ duration: '1m' }), { KILN_RUN_WARMUP: '0' }), 0)
  assert.equal(warmUpMs(scenarios({ duration: '1s' }), { KILN_RUN_WARMUP: '700' }), 700)
  assert.throws(() => warmUpMs(scenarios({}), { KILN_RUN_WARMUP: 'soon' }), /KILN_RUN_WARMUP must be a whole number/)
  assert.equal(warmUpVUs(10, 2), 5)
  assert.equal(warmUpVUs(1000, 2), 8)
  assert.equal(warmUpVUs(1, 2), 1)
})

test('no warm-up where the options would stop or slow its VUs on loopback: rps, blacklistIPs, localIPs', () => {
  const net = { hosts: { a: '1.2.3.4' }, blacklistIPs: [], blockHostnames: ['*.example'], noConnectionReuse: true, tlsAuth: [] }
  const opts = (o: object) => ({ rps: 0, net, ...o }) as unknown as VuOptions
  assert.equal(warmUpFits(opts({})), true, 'hosts and blockHostnames name hosts, not 127.0.0.1')
  assert.equal(warmUpFits(opts({ rps: 10 })), false)
  assert.equal(warmUpFits(opts({ net: { ...net, blacklistIPs: ['127.0.0.0/8'] } })), false)
  assert.equal(warmUpFits(opts({ net: { ...net, localIPs: [[1, 2]] } })), false)
})

test("the warm target answers and closes every 25th connection's request", async () => {
  const t = await startWarmTarget()
  try {
    const heads: (string | null)[] = []
    for (let i = 0; i < 25; i++) {
      const r = await fetch(t.url)
      assert.equal(await r.text(), 'warm')
      heads.push(r.headers.get('connection'))
    }
    assert.equal(t.requests, 25)
    assert.equal(heads[24], 'close')
    assert.equal(heads.filter((h) => h === 'close').length, 1)
  } finally {
    await t.close()
  }
})

test('a run on worker threads warms up first, and none of it reaches the target, the metrics or the counts', async () => {
  const srv = await startServer()
  const dir = workdir({
    'get.js': `import http from 'k6/http'\nexport const options = { vus: 4, duration: '1s' }\nexport default function () { http.get(__ENV.URL) }\n`,
  })
  try {
    const r = await kilnRun(['run', '--summary-export', 'out.json', '-e', `URL=${srv.url}/`, 'get.js'], {
      cwd: dir,
      env: { KILN_RUN_THREADS: '2', KILN_RUN_WARMUP: '400' },
    })
    assert.equal(r.code, 0, r.stderr)
    const m = /warm-up: 0\.4s, (\d+) throwaway iterations \((\d+) requests\) against Kiln's own server on 127\.0\.0\.1/.exec(r.stderr)
    assert.ok(m, r.stderr)
    assert.ok(Number(m[1]) > 0, 'the warm-up VUs iterated')
    assert.ok(Number(m[2]) >= Number(m[1]), 'each iteration made its request')
    const out = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'))
    const reqs = out.metrics.http_reqs.count
    assert.ok(reqs > 0)
    assert.equal(reqs, srv.total(), 'http_reqs counts exactly what the target saw')
    assert.equal(out.metrics.iterations.count, srv.total(), 'one iteration per request, none of the warm-up')
  } finally {
    await srv.close()
  }
})

test('KILN_RUN_WARMUP=0 skips it; a bad value exits 104; smoke tests on the main thread never warm up', async () => {
  const srv = await startServer()
  const dir = workdir({ 'get.js': `import http from 'k6/http'\nexport default function () { http.get(__ENV.URL) }\n` })
  try {
    const off = await kilnRun(['run', '-u', '2', '-d', '1s', '-e', `URL=${srv.url}/`, 'get.js'], {
      cwd: dir,
      env: { KILN_RUN_THREADS: '2', KILN_RUN_WARMUP: '0' },
    })
    assert.equal(off.code, 0, off.stderr)
    assert.doesNotMatch(off.stderr, /warm-up/)
    const smoke = await kilnRun(['run', '-i', '3', '-e', `URL=${srv.url}/`, 'get.js'], { cwd: dir })
    assert.equal(smoke.code, 0, smoke.stderr)
    assert.doesNotMatch(smoke.stderr, /warm-up/)
    const bad = await kilnRun(['run', '-u', '2', '-d', '1s', '-e', `URL=${srv.url}/`, 'get.js'], {
      cwd: dir,
      env: { KILN_RUN_THREADS: '2', KILN_RUN_WARMUP: '1.5s' },
    })
    assert.equal(bad.code, 104, bad.stderr)
    assert.match(bad.stderr, /KILN_RUN_WARMUP must be a whole number of milliseconds/)
  } finally {
    await srv.close()
  }
})
