/** `kiln run -o kiln=URL --profile SEL`: the run, its per-second metrics and thresholds stored in a real Kiln server. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import { startServer, kilnRun, workdir } from './helpers.ts'
import { startKiln, call, q } from '../server/helpers.ts'

test('runs are stored in Kiln with metrics, thresholds and the profiles of their window; two runs compare', async () => {
  const target = await startServer()
  // A server that does not start must not leave the target listening: the file then hung until
  // scripts/test.js killed it 10 minutes later (a whole-suite run at load 25).
  const kiln = await startKiln().catch(async (e: unknown) => {
    await target.close()
    throw e
  })
  try {
    // The target's profile during the run window (as an SDK would send it).
    const ingest = await call(`${kiln.url}/ingest?${q({ name: 'target.cpu', from: 'now' })}`, { method: 'POST', body: 'main;serve 10\n' })
    assert.equal(ingest.status, 200)
    const dir = workdir({
      'test.js': `import http from 'k6/http'
import { check } from 'k6'
export const options = { thresholds: { http_req_failed: ['rate<0.5'], http_req_duration: ['max<0'] } }
export default function () { check(http.get(__ENV.URL), { ok: (r) => r.status === 200 }) }
`,
    })
    const ids: string[] = []
    for (const n of ['6', '10']) {
      const r = await kilnRun([
        'run',
        '-q',
        '-u',
        '2',
        '-i',
        n,
        '-e',
        `URL=${target.url}/`,
        '--tag',
        'team=web',
        '-o',
        `kiln=${kiln.url}`,
        '--profile',
        '{service_name="target"}',
        '--summary-export',
        join(dir, `sum${n}.json`),
        join(dir, 'test.js'),
      ])
      assert.equal(r.code, 99, `max<0 is crossed: ${r.stderr}`)
      const m = /runs\/get\?run=([\w-]+)/.exec(r.stderr)
      assert.ok(m, r.stderr)
      assert.ok(r.stderr.includes(`${kiln.url}/?page=runs&run=${m![1]}`), 'the run page in the web UI is named')
      ids.push(m![1]!)
    }
    const list = await call(`${kiln.url}/api/v1/runs`)
    assert.deepEqual(list.json.map((r: { id: string }) => r.id).sort(), [...ids].sort())
    const got = await call(`${kiln.url}/api/v1/runs/get?run=${ids[1]}`)
    assert.equal(got.status, 200, got.text)
    assert.equal(got.json.run.script, 'test.js')
    assert.deepEqual(got.json.run.tags, { team: 'web' })
    assert.equal(got.json.metrics.http_reqs.count, 10, 'every request is counted')
    assert.equal(got.json.metrics.iterations.count, 10)
    // Percentiles from the stored per-second histograms agree with k6's exact ones within 2%.
    const exact = JSON.parse(readFileSync(join(dir, 'sum10.json'), 'utf8')).metrics.http_req_duration
    for (const [mine, k6] of [
      ['p50', 'med'],
      ['p90', 'p(90)'],
      ['p95', 'p(95)'],
    ] as const) {
      const want = exact[k6] as number
      assert.ok(
        Math.abs(got.json.metrics.http_req_duration[mine] - want) <= want * 0.02,
        `${mine}: ${got.json.metrics.http_req_duration[mine]} vs k6's ${want}`,
      )
    }
    const second = got.json.points.find((p: { metric: string }) => p.metric === 'http_req_duration')
    assert.ok(second.p95 >= second.min && second.p95 <= second.max, 'each second of a trend has its percentiles')
    assert.equal(got.json.points.find((p: { metric: string }) => p.metric === 'http_reqs').p95, undefined, 'counters have none')
    assert.deepEqual(got.json.run.thresholds.map((t: { source: string; ok: boolean }) => [t.source, t.ok]).sort(), [
      ['max<0', false],
      ['rate<0.5', true],
    ])
    assert.ok(got.json.run.ended >= got.json.run.started)
    assert.deepEqual(got.json.profile.types, ['process_cpu:cpu:nanoseconds:cpu:nanoseconds'], "the target's profiles in the run window")
    const cmp = await call(`${kiln.url}/api/v1/runs/compare?a=${ids[0]}&b=${ids[1]}`)
    assert.equal(cmp.json.a.metrics.http_reqs.count, 6)
    assert.equal(cmp.json.b.metrics.http_reqs.count, 10)
    assert.equal(typeof cmp.json.change.http_req_duration, 'number')
    const missing = await call(`${kiln.url}/api/v1/runs/get?run=nope`)
    assert.equal(missing.status, 404)
    assert.equal(
      (await call(`${kiln.url}/api/v1/runs/points?run=${ids[0]}`, { method: 'POST', body: '{"points":[{"metric":"a","t":"x"}]}' })).status,
      400,
    )
    assert.equal(
      (await call(`${kiln.url}/api/v1/runs/points?run=x`, { method: 'POST', body: '{"points":[]}' })).status,
      404,
      'points of a run never created',
    )
    const badHist = await call(`${kiln.url}/api/v1/runs/points?run=${ids[0]}`, {
      method: 'POST',
      body: JSON.stringify({ points: [{ metric: 'a', type: 'trend', t: 0, count: 1, sum: 1, min: 1, max: 1, hist: { '99999': 1 } }] }),
    })
    assert.deepEqual([badHist.status, badHist.json.code], [400, 'KILN_BAD_REQUEST'])
    // A dead Kiln server does not stop the run.
    const dead = await kilnRun(['run', '-q', '-i', '1', '-e', `URL=${target.url}/`, '-o', 'kiln=http://127.0.0.1:1', join(dir, 'test.js')])
    assert.equal(dead.code, 99)
    assert.match(dead.stderr, /output kiln=http:\/\/127\.0\.0\.1:1: .*not stored/)
  } finally {
    await kiln.dispose()
    await target.close()
  }
})

test('-o kiln= sends the tenant (--tenant) and the token (KILN_AUTH_TOKEN) as the rest of the CLI does', async () => {
  const target = await startServer()
  const kiln = await startKiln(['--multitenancy', '--auth-token', 's3cret']).catch(async (e: unknown) => {
    await target.close()
    throw e
  })
  try {
    const dir = workdir({ 'test.js': `import http from 'k6/http'\nexport default function () { http.get(__ENV.URL) }\n` })
    const args = ['run', '-q', '-i', '2', '-e', `URL=${target.url}/`, '-o', `kiln=${kiln.url}`, '--tenant', 'team-a', join(dir, 'test.js')]
    const ok = await kilnRun(args, { env: { KILN_AUTH_TOKEN: 's3cret' } })
    assert.equal(ok.code, 0, ok.stderr)
    assert.match(ok.stderr, /run stored in Kiln/)
    const auth = { authorization: 'Bearer s3cret' }
    const mine = await call(`${kiln.url}/api/v1/runs`, { headers: { ...auth, 'x-scope-orgid': 'team-a' } })
    assert.equal(mine.json.length, 1, 'stored under the tenant')
    const other = await call(`${kiln.url}/api/v1/runs`, { headers: { ...auth, 'x-scope-orgid': 'team-b' } })
    assert.equal(other.json.length, 0, 'not under another tenant')
    // Without the token the server says 401: the run goes on and says why nothing was stored.
    const denied = await kilnRun(args, { env: { KILN_AUTH_TOKEN: '' } })
    assert.equal(denied.code, 0)
    assert.match(denied.stderr, /output kiln=.*401.*not stored/)
  } finally {
    await kiln.dispose()
    await target.close()
  }
})
