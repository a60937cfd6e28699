/**
 * `/ingest?format=jfr` end to end, against a real `kiln server`: the Pyroscope Java agent's
 * multipart upload (`jfr` + `labels`), a raw gzipped recording, a raw one the JDK wrote here, and
 * broken uploads. The fixtures are from 2023, hence `--retention 0` and a ten-year query range.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { startKiln, call, q, CPU, type TestServer } from '../server/helpers.ts'
import { HOT_JFR_GZ, expectedFolded, hotJfr, noJdk, noSharedJfr, readJfrFixture, recordHot } from './jfr-support.ts'

let kiln: TestServer
before(async () => {
  kiln = await startKiln(['--retention', '0'])
})
after(async () => kiln?.dispose())

const range = { from: 'now-10y', until: 'now' }
const top = async (type: string, query: string) => {
  const r = await call(`${kiln.url}/api/v1/top?${q({ type, query, ...range })}`)
  assert.equal(r.status, 200, r.text)
  return r.json as { rows: { name: string; self: number; total: number }[]; total: number }
}
const types = async (query: string) => {
  const r = await call(`${kiln.url}/api/v1/profile-types?${q({ query, ...range })}`)
  assert.equal(r.status, 200, r.text)
  return (r.json as { id: string }[]).map((t) => t.id).sort()
}

/** Self counts per leaf function in expected folded text, the largest first. */
function selfByLeaf(folded: string): [string, number][] {
  const m = new Map<string, number>()
  for (const line of folded.trim().split('\n')) {
    const at = line.lastIndexOf(' ')
    const leaf = line.slice(0, at).split(';').at(-1)!
    m.set(leaf, (m.get(leaf) ?? 0) + Number(line.slice(at + 1)))
  }
  return [...m].sort((a, b) => b[1] - a[1])
}

test('multipart jfr + labels (Pyroscope Java agent): one CPU series per thread_name, totals and top function as expected', {
  skip: noSharedJfr,
}, async () => {
  // As the agent's exporter sends it: gzipped parts named and filed `jfr` and `labels`, and these parameters.
  const form = new FormData()
  form.append('jfr', new Blob([readJfrFixture('dump1.jfr.gz')]), 'jfr')
  form.append('labels', new Blob([readJfrFixture('dump1.labels.pb.gz')], { type: 'application/x-protobuf' }), 'labels')
  const now = Math.floor(Date.now() / 1000)
  const params = {
    name: 'javaapp.itimer{env=test}',
    units: 'samples',
    aggregationType: 'sum',
    from: String(now - 10),
    until: String(now),
    spyName: 'javaspy',
    sampleRate: '100',
    format: 'jfr',
  }
  const r = await call(`${kiln.url}/ingest?${q(params)}`, { method: 'POST', body: form })
  assert.equal(r.status, 200, r.text)
  assert.deepEqual(await types('{service_name="javaapp"}'), [CPU])
  const values = await call(`${kiln.url}/api/v1/label-values?${q({ name: 'thread_name', query: '{service_name="javaapp"}', ...range })}`)
  assert.deepEqual(values.json, ['pool-2-thread-1', 'pool-2-thread-3', 'pool-2-thread-5', 'pool-2-thread-7'])
  for (const [key, folded] of Object.entries(expectedFolded('dump1.json.gz'))) {
    const thread = /thread_name=([\w-]+)/.exec(key)?.[1]
    const query = thread ? `{service_name="javaapp", env="test", thread_name="${thread}"}` : '{service_name="javaapp", thread_name=""}'
    const t = await top(CPU, query)
    const leaves = selfByLeaf(folded)
    assert.equal(t.total, leaves.reduce((n, [, v]) => n + v, 0) * 1e7, key)
    const bySelf = [...t.rows].sort((a, b) => b.self - a.self)
    assert.equal(bySelf[0]!.name, leaves[0]![0], key)
    assert.equal(bySelf[0]!.self, leaves[0]![1] * 1e7, key)
  }
})

test('raw gzipped body (async-profiler cpu): process_cpu with the expected top function', { skip: noSharedJfr }, async () => {
  const r = await call(`${kiln.url}/ingest?${q({ name: 'kafka', format: 'jfr' })}`, {
    method: 'POST',
    body: readJfrFixture('cortex-dev-01__kafka-0__cpu__0.jfr.gz'),
  })
  assert.equal(r.status, 200, r.text)
  assert.deepEqual(await types('{service_name="kafka"}'), [CPU])
  const leaves = selfByLeaf(expectedFolded('cortex-dev-01__kafka-0__cpu__0.json.gz')['kafka.app.cpu{}']!)
  const t = await top(CPU, '{service_name="kafka"}')
  const bySelf = [...t.rows].sort((a, b) => b.self - a.self)
  assert.equal(bySelf[0]!.name, leaves[0]![0])
  // No sampleRate: each sample is worth the recording's own interval.
  assert.equal(t.total, leaves.reduce((n, [, v]) => n + v, 0) * 1e7)
})

test("raw gzipped body (the repository's JDK recording): CPU series, Hot.spin on top, total = samples × 20 ms", async () => {
  const r = await call(`${kiln.url}/ingest?${q({ name: 'hotgz', format: 'jfr' })}`, { method: 'POST', body: readFileSync(HOT_JFR_GZ) })
  assert.equal(r.status, 200, r.text)
  assert.ok((await types('{service_name="hotgz"}')).includes(CPU))
  const t = await top(CPU, '{service_name="hotgz"}')
  const bySelf = [...t.rows].sort((a, b) => b.self - a.self)
  assert.equal(bySelf[0]!.name, 'Hot.spin')
  assert.equal(t.total % 2e7, 0, "each Java sample is worth the recording's 20 ms")
  assert.ok(t.total > 0)
})

test('raw recording from the JDK: CPU, allocation and lock profile types; Hot.spin on top', {
  skip: noJdk(),
  timeout: 300_000,
}, async () => {
  const file = recordHot()
  const r = await call(`${kiln.url}/ingest?${q({ name: 'hot', format: 'jfr', from: 'now-1m', until: 'now' })}`, {
    method: 'POST',
    body: readFileSync(file),
  })
  assert.equal(r.status, 200, r.text)
  const ids = await types('{service_name="hot"}')
  for (const id of [
    CPU,
    'memory:alloc_in_new_tlab_bytes:bytes:space:bytes',
    'memory:alloc_outside_tlab_objects:count:space:bytes',
    'mutex:delay:nanoseconds:mutex:count',
  ]) {
    assert.ok(ids.includes(id), `${id} in ${ids.join(' ')}`)
  }
  const t = await top(CPU, '{service_name="hot"}')
  const bySelf = [...t.rows].sort((a, b) => b.self - a.self)
  assert.equal(bySelf[0]!.name, 'Hot.spin')
  const alloc = await top('memory:alloc_outside_tlab_bytes:bytes:space:bytes', '{service_name="hot"}')
  assert.ok(
    alloc.rows.some((x) => x.name === 'Hot.alloc' && x.self > 0.5 * alloc.total),
    JSON.stringify(alloc.rows.slice(0, 3)),
  )
})

test('broken uploads: truncated recording → 422 KILN_BAD_JFR; multipart without jfr → 400; bad labels → 422', async () => {
  const bytes = hotJfr()
  let r = await call(`${kiln.url}/ingest?${q({ name: 'broken', format: 'jfr' })}`, {
    method: 'POST',
    body: bytes.subarray(0, bytes.length - 100),
  })
  assert.equal(r.status, 422, r.text)
  assert.equal(r.json.code, 'KILN_BAD_JFR')
  assert.match(r.json.message, /truncated file/)
  const form = new FormData()
  form.append('profile', new Blob([bytes]), 'profile')
  r = await call(`${kiln.url}/ingest?${q({ name: 'broken', format: 'jfr' })}`, { method: 'POST', body: form })
  assert.equal(r.status, 400, r.text)
  assert.match(r.json.message, /no 'jfr' field \(fields: profile\)/)
  const bad = new FormData()
  bad.append('jfr', new Blob([bytes]), 'jfr')
  bad.append('labels', new Blob([Uint8Array.from([0x0a, 0x20, 0x08])]), 'labels')
  r = await call(`${kiln.url}/ingest?${q({ name: 'broken', format: 'jfr' })}`, { method: 'POST', body: bad })
  assert.equal(r.status, 422, r.text)
  assert.equal(r.json.code, 'KILN_BAD_JFR')
  assert.deepEqual(await types('{service_name="broken"}'), [], 'nothing was written')
})
