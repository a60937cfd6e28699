/** Bad input gets a clear 4xx {code, message}; nothing stored is lost; acknowledged writes survive kill -9. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { startKiln, call, q, fixtures, CPU } from './helpers.ts'

test('bad input: clear 4xx errors, the server keeps serving, stored data intact', async () => {
  const kiln = await startKiln(['--max-body-bytes', String(1 << 20)])
  try {
    const ok = await call(`${kiln.url}/ingest?${q({ name: 'keep.cpu' })}`, { method: 'POST', body: 'main;safe 100\n' })
    assert.equal(ok.status, 200)
    const cpu = readFileSync(join(fixtures, 'pprof', 'cpu.pb.gz'))
    const { gunzipSync } = await import('node:zlib')
    const raw = gunzipSync(cpu)
    const deep = Array.from({ length: 100_000 }, (_, i) => `f${i}`).join(';') + ' 1\n'
    const manyLabels = `app{${Array.from({ length: 10_000 }, (_, i) => `l${i}=v`).join(',')}}`
    const cases: [string, string, RequestInit, number, string][] = [
      ['truncated gzip pprof', `name=x&format=pprof`, { body: cpu.subarray(0, cpu.length - 40) }, 422, 'KILN_BAD_GZIP'],
      ['corrupt gzip', `name=x&format=pprof`, { body: Buffer.concat([cpu.subarray(0, 20), Buffer.alloc(200, 7)]) }, 422, 'KILN_BAD_GZIP'],
      ['truncated raw pprof', `name=x&format=pprof`, { body: raw.subarray(0, raw.length - 7) }, 422, 'KILN_BAD_PPROF'],
      ['decompression bomb', `name=x&format=pprof`, { body: gzipSync(Buffer.alloc(200 << 20)) }, 413, 'KILN_TOO_LARGE'],
      ['body over the limit', `name=x`, { body: Buffer.alloc(2 << 20, 0x61) }, 413, 'KILN_TOO_LARGE'],
      ['stack 100,000 frames deep', `name=x.cpu`, { body: deep }, 422, 'KILN_LIMIT'],
      ['10,000 labels', q({ name: manyLabels }), { body: 'a 1\n' }, 400, 'KILN_BAD_LABELS'],
      ['folded without counts', `name=x`, { body: 'a;b;c\n' }, 422, 'KILN_BAD_FOLDED'],
      ['no name', ``, { body: 'a 1\n' }, 400, 'KILN_BAD_REQUEST'],
      ['bad time', `name=x&from=yesterday`, { body: 'a 1\n' }, 400, 'KILN_BAD_TIME'],
      ['unknown format', `name=x&format=zip`, { body: 'a 1\n' }, 422, 'KILN_BAD_FORMAT'],
      ['binary trie', `name=x&format=trie`, { body: 'a 1\n' }, 415, 'KILN_UNSUPPORTED'],
      ['too old for retention', `name=x&from=1000000000&until=1000000010`, { body: 'a 1\n' }, 422, 'KILN_LIMIT'],
    ]
    for (const [what, query, init, status, code] of cases) {
      const r = await call(`${kiln.url}/ingest?${query}`, { method: 'POST', ...init })
      assert.equal(r.status, status, `${what}: ${r.text.slice(0, 300)}`)
      assert.equal(r.json?.code, code, what)
      assert.ok(r.json.message.length > 10, what)
    }
    const queries: [string, Record<string, string>, string][] = [
      ['invalid selector', { type: CPU, query: '{a="b"' }, 'KILN_SELECTOR_SYNTAX'],
      ['invalid regex', { type: CPU, query: '{a=~"("}' }, 'KILN_SELECTOR_SYNTAX'],
      ['empty time range', { type: CPU, from: 'now', until: 'now-1h' }, 'KILN_BAD_TIME'],
      ['bad type', { type: 'cpu' }, 'KILN_BAD_REQUEST'],
      ['missing type', {}, 'KILN_BAD_REQUEST'],
    ]
    for (const [what, params, code] of queries) {
      const r = await call(`${kiln.url}/api/v1/flamegraph?${q(params)}`)
      assert.equal(r.status, 400, what)
      assert.equal(r.json.code, code, what)
    }
    const missing = await call(`${kiln.url}/api/v1/nope`)
    assert.equal(missing.status, 404)
    assert.equal(missing.json.code, 'KILN_NOT_FOUND')
    const after = await call(`${kiln.url}/api/v1/top?${q({ type: CPU, query: '{service_name="keep"}' })}`)
    assert.deepEqual(after.json.rows.find((r: { name: string }) => r.name === 'safe')?.self, 1e9)
    assert.equal((await call(`${kiln.url}/ready`)).status, 200)
  } finally {
    await kiln.dispose()
  }
})

test('tenants are kept apart with multi-tenancy on; invalid tenant ids are refused; auth is enforced', async () => {
  const kiln = await startKiln(['--multitenancy', '--auth-token', 's3cret'])
  try {
    const auth = { authorization: 'Bearer s3cret' }
    assert.equal((await call(`${kiln.url}/api/v1/profile-types`, { headers: { 'x-scope-orgid': 'a' } })).status, 401)
    assert.equal((await call(`${kiln.url}/ready`)).status, 200, '/ready needs no auth')
    for (const t of ['team-a', 'team-b']) {
      const r = await call(`${kiln.url}/ingest?${q({ name: 'svc.cpu' })}`, {
        method: 'POST',
        headers: { ...auth, 'x-scope-orgid': t },
        body: `main;${t} 10\n`,
      })
      assert.equal(r.status, 200, r.text)
    }
    const a = await call(`${kiln.url}/api/v1/top?${q({ type: CPU })}`, { headers: { ...auth, 'x-scope-orgid': 'team-a' } })
    assert.deepEqual(a.json.rows.map((r: { name: string }) => r.name).sort(), ['main', 'team-a'])
    for (const bad of ['..', 'a/b', 'x'.repeat(151)]) {
      const r = await call(`${kiln.url}/api/v1/top?${q({ type: CPU })}`, { headers: { ...auth, 'x-scope-orgid': bad } })
      assert.equal(r.status, 400, bad)
      assert.equal(r.json.code, 'KILN_BAD_TENANT')
    }
    const none = await call(`${kiln.url}/api/v1/top?${q({ type: CPU })}`, { headers: auth })
    assert.equal(none.json.code, 'KILN_BAD_TENANT')
    const basic = await startKiln(['--basic-auth', 'u:p'])
    try {
      assert.equal((await call(`${basic.url}/api/v1/profile-types`)).status, 401)
      assert.equal(
        (await call(`${basic.url}/api/v1/profile-types`, { headers: { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` } }))
          .status,
        200,
      )
    } finally {
      await basic.dispose()
    }
  } finally {
    await kiln.dispose()
  }
})

test('acknowledged writes survive kill -9 and a restart', async () => {
  const kiln = await startKiln()
  const dataDir = kiln.dataDir
  let total = 0
  for (let i = 0; i < 20; i++) {
    const r = await call(`${kiln.url}/ingest?${q({ name: 'durable.cpu', sampleRate: '1000000000' })}`, {
      method: 'POST',
      body: `main;step${i % 4} ${i + 1}\n`,
    })
    assert.equal(r.status, 200)
    total += i + 1
  }
  await kiln.stop({ kill9: true })
  const again = await startKiln([], { dataDir })
  try {
    const r = await call(`${again.url}/api/v1/top?${q({ type: CPU, query: '{service_name="durable"}' })}`)
    assert.equal(r.json.total, total, 'every acknowledged sample is back')
  } finally {
    await again.dispose()
    const { rmSync } = await import('node:fs')
    rmSync(dataDir, { recursive: true, force: true })
  }
})

test('push.v1 Push over Connect JSON and protobuf', async () => {
  const kiln = await startKiln()
  try {
    const raw = readFileSync(join(fixtures, 'pprof', 'cpu.pb.gz'))
    const { decodePprof, encodePprof } = await import('../../src/formats/pprof.ts')
    const p = decodePprof(raw)
    p.timeMs = Date.now() - 5000
    const fresh = encodePprof(p, { gzip: true })
    const body = {
      series: [
        {
          labels: [
            { name: '__name__', value: 'process_cpu' },
            { name: 'service_name', value: 'alloy-app' },
            { name: 'pod', value: 'p1' },
          ],
          samples: [{ ID: 'x', rawProfile: Buffer.from(fresh).toString('base64') }],
        },
      ],
    }
    const r = await call(`${kiln.url}/push.v1.PusherService/Push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    assert.equal(r.status, 200, r.text)
    const types = await call(`${kiln.url}/api/v1/profile-types?${q({ query: '{service_name="alloy-app", pod="p1"}' })}`)
    assert.deepEqual(types.json.map((t: { id: string }) => t.id).sort(), [
      'process_cpu:cpu:nanoseconds:cpu:nanoseconds',
      'process_cpu:samples:count:cpu:nanoseconds',
    ])
    const protobuf = (await import('protobufjs')).default
    const { root } = protobuf.parse(
      `syntax="proto3"; message LP {string name=1; string value=2;} message RS {bytes raw_profile=1; string ID=2;} message S {repeated LP labels=1; repeated RS samples=2;} message Req {repeated S series=1;}`,
    )
    const Req = root.lookupType('Req')
    const bytes = Req.encode(
      Req.fromObject({ series: [{ labels: [{ name: 'service_name', value: 'pb-app' }], samples: [{ rawProfile: fresh }] }] }),
    ).finish()
    const r2 = await fetch(`${kiln.url}/push.v1.PusherService/Push`, {
      method: 'POST',
      headers: { 'content-type': 'application/proto' },
      body: Buffer.from(bytes),
    })
    assert.equal(r2.status, 200)
    const top = await call(`${kiln.url}/api/v1/top?${q({ type: CPU, query: '{service_name="pb-app"}' })}`)
    assert.ok(top.json.total > 0)
    const bad = await call(`${kiln.url}/push.v1.PusherService/Push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ series: [{ labels: [], samples: [{ rawProfile: Buffer.from('junk').toString('base64') }] }] }),
    })
    assert.equal(bad.status, 400)
    assert.match(bad.json.message, /series 0, sample 0/)
  } finally {
    await kiln.dispose()
  }
})
