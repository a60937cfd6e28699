import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { startKiln, call, q, fixtures, CPU, type TestServer } from './helpers.ts'
import { decodePprof } from '../../src/formats/pprof.ts'
import { totals } from '../../src/model/profile.ts'

let kiln: TestServer
before(async () => {
  kiln = await startKiln(['--retention', '0'])
})
after(async () => kiln?.dispose())

const top = async (type: string, query: string, extra: Record<string, string> = {}) => {
  const r = await call(`${kiln.url}/api/v1/top?${q({ type, query, from: 'now-1h', ...extra })}`)
  assert.equal(r.status, 200, r.text)
  return r.json as { rows: { name: string; self: number; total: number }[]; total: number }
}

test('folded upload: .cpu suffix → process_cpu nanoseconds scaled by 1e9/sampleRate; labels from name', async () => {
  const now = Math.floor(Date.now() / 1000)
  const r = await call(
    `${kiln.url}/ingest?${q({ name: 'shop.cpu{env=prod,region=eu}', from: String(now - 10), until: String(now), sampleRate: '100', spyName: 'gospy' })}`,
    {
      method: 'POST',
      body: 'main;checkout;hash 30\nmain;checkout 10\r\nmain;idle 60\n',
    },
  )
  assert.equal(r.status, 200, r.text)
  const t = await top(CPU, '{service_name="shop", env="prod"}')
  assert.equal(t.total, 100 * 1e7, '100 samples at 100 Hz = 1 s')
  assert.deepEqual(
    t.rows.find((x) => x.name === 'hash'),
    { name: 'hash', self: 30 * 1e7, total: 30 * 1e7 },
  )
  const labels = await call(`${kiln.url}/api/v1/label-names?${q({ query: '{service_name="shop"}' })}`)
  for (const l of ['__name__', 'env', 'pyroscope_spy', 'region', 'service_name'])
    assert.ok(labels.json.includes(l), `${l} in ${labels.json}`)
})

test('from/until in seconds, ms, µs, ns and now-… all land in the right place', async () => {
  const now = Date.now()
  const forms = {
    s: String(Math.floor(now / 1000) - 100),
    ms: String(now - 100_000),
    us: String((now - 100_000) * 1000),
    ns: String(BigInt(now - 100_000) * 1_000_000n),
    rel: 'now-100s',
  }
  for (const [unit, from] of Object.entries(forms)) {
    const r = await call(`${kiln.url}/ingest?${q({ name: `times-${unit}.cpu`, from, until: 'now', format: 'folded' })}`, {
      method: 'POST',
      body: 'a;b 1\n',
    })
    assert.equal(r.status, 200, r.text)
    const tl = await call(
      `${kiln.url}/api/v1/timeline?${q({ type: CPU, query: `{service_name="times-${unit}"}`, from: String(now - 200_000), until: String(now), step: '10' })}`,
    )
    const pts = tl.json.series[0].points as [number, number][]
    assert.equal(pts.length, 1, unit)
    assert.ok(Math.abs(pts[0]![0] - (now - 100_000)) <= 10_000, `${unit}: point at ${new Date(pts[0]![0]).toISOString()}`)
  }
})

test('lines format counts each line once; memory suffix maps to its type without scaling', async () => {
  let r = await call(`${kiln.url}/ingest?${q({ name: 'lines-app.cpu', format: 'lines', sampleRate: '1000000000' })}`, {
    method: 'POST',
    body: 'a;b\na;b\na;c\n',
  })
  assert.equal(r.status, 200, r.text)
  assert.equal((await top(CPU, '{service_name="lines-app"}')).total, 3)
  r = await call(`${kiln.url}/ingest?${q({ name: 'mem-app.inuse_space' })}`, { method: 'POST', body: 'main;alloc 4096\n' })
  assert.equal(r.status, 200, r.text)
  assert.equal((await top('memory:inuse_space:bytes:space:bytes', '{service_name="mem-app"}')).total, 4096)
})

test('multipart pprof with sample_type_config, as the Go SDK sends it', async () => {
  for (const [file, expect] of [
    ['block', ['block:contentions:count:contentions:count', 'block:delay:nanoseconds:contentions:count']],
    ['mutex', ['mutex:contentions:count:contentions:count', 'mutex:delay:nanoseconds:contentions:count']],
    ['goroutine', ['goroutines:goroutine:count:goroutine:count']],
  ] as const) {
    const form = new FormData()
    form.append('profile', new Blob([readFileSync(join(fixtures, 'pprof', `${file}.pprof`))]), 'profile.pprof')
    form.append('sample_type_config', new Blob([readFileSync(join(fixtures, 'pprof', `${file}.st.json`))]), 'sample_type_config.json')
    const now = String(Math.floor(Date.now() / 1000))
    const r = await call(`${kiln.url}/ingest?${q({ name: `go-${file}`, from: now, until: now, spyName: 'gospy' })}`, {
      method: 'POST',
      body: form,
    })
    assert.equal(r.status, 200, r.text)
    const types = await call(`${kiln.url}/api/v1/profile-types?${q({ query: `{service_name="go-${file}"}`, from: 'now-10y' })}`)
    assert.deepEqual(types.json.map((t: { id: string }) => t.id).sort(), [...expect].sort(), file)
  }
})

test('prev_profile is refused as Pyroscope refuses it', async () => {
  const form = new FormData()
  form.append('profile', new Blob([readFileSync(join(fixtures, 'pprof', 'goroutine.pprof'))]), 'profile.pprof')
  form.append('prev_profile', new Blob([readFileSync(join(fixtures, 'pprof', 'goroutine.pprof'))]), 'profile.pprof')
  const r = await call(`${kiln.url}/ingest?${q({ name: 'prev' })}`, { method: 'POST', body: form })
  assert.equal(r.status, 422)
  assert.match(r.json.message, /prev_profile/)
})

test('every pprof fixture ingests; each sample type is a series with the decoded total', async () => {
  const dir = join(fixtures, 'pprof')
  const files = readdirSync(dir).filter((f) => !f.endsWith('.json') && f !== 'invalid_utf8.pb.gz')
  assert.ok(files.length >= 8, `${files.length} fixtures`)
  for (const [i, f] of files.entries()) {
    const bytes = readFileSync(join(dir, f))
    const r = await call(`${kiln.url}/ingest?${q({ name: `fx${i}`, format: 'pprof', from: 'now-10s', until: 'now' })}`, {
      method: 'POST',
      body: bytes,
    })
    assert.equal(r.status, 200, `${f}: ${r.text}`)
    const p = decodePprof(bytes)
    const sums = totals(p)
    const types = (await call(`${kiln.url}/api/v1/profile-types?${q({ query: `{service_name="fx${i}"}`, from: 'now-30y' })}`)).json as {
      id: string
      sampleType: string
      sampleUnit: string
    }[]
    const nonEmpty = p.sampleTypes.filter((_, k) => sums[k]! > 0)
    assert.equal(types.length, new Set(nonEmpty.map((st) => `${st.type}:${st.unit}`)).size, `${f}: one series per non-empty sample type`)
    for (const t of types) {
      const k = p.sampleTypes.findIndex((st) => st.type === t.sampleType && st.unit === t.sampleUnit)
      const got = await top(t.id, `{service_name="fx${i}"}`, { from: 'now-30y' })
      assert.equal(got.total, Math.round(sums[k]!), `${f} ${t.id}`)
    }
  }
  const bad = await call(`${kiln.url}/ingest?${q({ name: 'utf8', format: 'pprof' })}`, {
    method: 'POST',
    body: readFileSync(join(dir, 'invalid_utf8.pb.gz')),
  })
  assert.equal(bad.status, 422)
  assert.equal(bad.json.code, 'KILN_BAD_PPROF')
})

test('speedscope upload with a time unit is stored in nanoseconds', async () => {
  const file = {
    $schema: 'https://www.speedscope.app/file-format-schema.json',
    shared: { frames: [{ name: 'main' }, { name: 'render' }] },
    profiles: [
      { type: 'sampled', name: 'p', unit: 'milliseconds', startValue: 0, endValue: 30, samples: [[0, 1], [0]], weights: [20, 10] },
    ],
  }
  const r = await call(`${kiln.url}/ingest?${q({ name: 'ss.cpu', format: 'speedscope' })}`, { method: 'POST', body: JSON.stringify(file) })
  assert.equal(r.status, 200, r.text)
  const t = await top(CPU, '{service_name="ss"}')
  assert.equal(t.total, 30e6)
  assert.equal(t.rows.find((x) => x.name === 'render')!.self, 20e6)
})
