/** Auth before routing, tenancy on every route (metrics, scrape targets, self-profile), runs that exist (issue 12 §5). */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startKiln, call, q } from './helpers.ts'

const TOKEN = 's3cret-token'

test('auth is checked before 404/405; Bearer is case-insensitive; tenants see only their own metrics and scrape targets', async () => {
  // A scrape target of tenant "ops" that does not answer: it is listed, with its error, to "ops" only.
  const scrape = JSON.stringify([{ url: 'http://127.0.0.1:9', tenant: 'ops', interval: '1h', profiles: ['heap'] }])
  const kiln = await startKiln(['--multitenancy', '--auth-token', TOKEN], { env: { KILN_SCRAPE: scrape }, selfProfile: true })
  try {
    const auth = (tenant: string, scheme = 'Bearer') => ({ authorization: `${scheme} ${TOKEN}`, 'x-scope-orgid': tenant })
    // Without credentials nothing tells which routes exist.
    for (const [method, path] of [
      ['GET', '/api/v1/no-such-route'],
      ['DELETE', '/api/v1/profile-types'],
      ['GET', '/metrics'],
      ['GET', '/api/v1/scrape-targets'],
    ]) {
      const r = await call(`${kiln.url}${path}`, { method })
      assert.equal(r.status, 401, `${method} ${path}: ${r.text}`)
      assert.equal(r.json.code, 'KILN_UNAUTHORIZED')
    }
    for (const wrong of ['Bearer s3cret-tokeN', 'Bearer s3cret-token-and-more', 'Bearer s', 'Basic czNjcmV0LXRva2Vu', TOKEN]) {
      assert.equal(
        (await call(`${kiln.url}/api/v1/profile-types`, { headers: { authorization: wrong, 'x-scope-orgid': 'a' } })).status,
        401,
        wrong,
      )
    }
    assert.equal((await call(`${kiln.url}/api/v1/no-such-route`, { headers: auth('a') })).status, 404)
    const wrongMethod = await call(`${kiln.url}/api/v1/profile-types`, { method: 'DELETE', headers: auth('a') })
    assert.equal(wrongMethod.status, 405)
    assert.equal(wrongMethod.json.code, 'KILN_METHOD')
    for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
      assert.equal((await call(`${kiln.url}/api/v1/profile-types`, { headers: auth('a', scheme) })).status, 200, scheme)
    }
    assert.equal((await call(`${kiln.url}/ready`)).status, 200, '/ready needs no credentials')

    // Tenant a ingests twice; b's metrics show none of it.
    for (let i = 0; i < 2; i++) {
      assert.equal(
        (await call(`${kiln.url}/ingest?${q({ name: 'app.cpu' })}`, { method: 'POST', body: 'main 1\n', headers: auth('a') })).status,
        200,
      )
    }
    const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1])
    const ma = await call(`${kiln.url}/metrics`, { headers: auth('a') })
    const mb = await call(`${kiln.url}/metrics`, { headers: auth('b') })
    assert.equal(metric(ma.text, 'kiln_ingest_requests_total'), 2)
    assert.equal(metric(mb.text, 'kiln_ingest_requests_total'), 0)
    assert.doesNotMatch(
      mb.text,
      /kiln_store_samples_written_total|kiln_http_errors_total/,
      'server-wide counters are not shown to a tenant',
    )
    assert.equal(
      (await call(`${kiln.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status,
      400,
      'the tenant header is required',
    )

    const ops = await call(`${kiln.url}/api/v1/scrape-targets`, { headers: auth('ops') })
    assert.equal(ops.json.length, 1)
    assert.deepEqual((await call(`${kiln.url}/api/v1/scrape-targets`, { headers: auth('a') })).json, [])

    // The server's own profile is in no tenant: self-profiling is off under --multitenancy.
    assert.match(kiln.stderr(), /self-profiling is off under --multitenancy/)
    for (const tenant of ['anonymous', 'a', 'kiln']) {
      const types = await call(`${kiln.url}/api/v1/label-values?${q({ name: 'service_name', from: 'now-1d' })}`, { headers: auth(tenant) })
      assert.ok(!types.json.includes('kiln'), tenant)
    }
  } finally {
    await kiln.dispose()
  }
})

test('points for a run that does not exist are refused (404); for one that does, stored', async () => {
  const kiln = await startKiln()
  try {
    const point = { points: [{ metric: 'http_reqs', type: 'counter', t: Date.now(), count: 1, sum: 1, min: 1, max: 1 }] }
    const none = await call(`${kiln.url}/api/v1/runs/points?${q({ run: 'never-created' })}`, {
      method: 'POST',
      body: JSON.stringify(point),
    })
    assert.equal(none.status, 404, none.text)
    assert.equal(none.json.code, 'KILN_NOT_FOUND')
    const created = await call(`${kiln.url}/api/v1/runs`, { method: 'POST', body: JSON.stringify({ id: 'r1', script: 'x.js' }) })
    assert.equal(created.status, 200)
    const ok = await call(`${kiln.url}/api/v1/runs/points?${q({ run: 'r1' })}`, { method: 'POST', body: JSON.stringify(point) })
    assert.equal(ok.status, 200, ok.text)
    assert.equal(ok.json.stored, 1)
  } finally {
    await kiln.dispose()
  }
})
