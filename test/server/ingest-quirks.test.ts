/**
 * Ingest quirks Pyroscope handles (issue 11 §4): .NET profiles with every function id 0, and .NET
 * sample types named as Pyroscope names them — all under `process_cpu`, dashes made underscores —
 * and /pyroscope/render's metadata and formats as Pyroscope's render gives them.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startKiln, call, q, type TestServer } from './helpers.ts'
import { encodePprof } from '../../src/formats/pprof.ts'
import { ProfileBuilder } from '../../src/model/profile.ts'
import { DOTNET_STACKS, DOTNET_TYPES, dotnetPprof } from '../formats/dotnet.ts'

let kiln: TestServer
before(async () => {
  kiln = await startKiln(['--retention', '0'])
})
after(async () => kiln?.dispose())

// What the .NET agent sends beside its profile (its keys are its sample types, dashes and all).
const dotnetConfig = {
  cpu: { units: 'samples', sampled: true },
  exception: { units: 'exceptions', 'display-name': 'exceptions' },
  'alloc-samples': { units: 'objects', 'display-name': 'alloc_objects' },
  'alloc-size': { units: 'bytes', 'display-name': 'alloc_space' },
  'lock-count': { units: 'lock_samples', 'display-name': 'mutex_count' },
  'lock-time': { units: 'lock_nanoseconds', 'display-name': 'mutex_duration' },
  'inuse-space': { units: 'bytes', 'display-name': 'inuse_space', aggregation: 'average' },
}

async function ingestDotnet(service: string, spyName?: string) {
  const form = new FormData()
  form.append('profile', new Blob([Buffer.from(dotnetPprof())]), 'profile.pprof')
  form.append('sample_type_config', new Blob([JSON.stringify(dotnetConfig)]), 'sample_type_config.json')
  const now = String(Math.floor(Date.now() / 1000))
  const r = await call(`${kiln.url}/ingest?${q({ name: service, from: now, until: now, ...(spyName ? { spyName } : {}) })}`, {
    method: 'POST',
    body: form,
  })
  assert.equal(r.status, 200, r.text)
}

const expectedTypes = DOTNET_TYPES.map(([t, unit]) => `process_cpu:${t.replaceAll('-', '_')}:${unit}::nanoseconds`).sort()

test('.NET (spyName=dotnetspy): ids fixed, every type under process_cpu with underscores, stacks as sent', async () => {
  await ingestDotnet('dotnet-shop', 'dotnetspy')
  const types = await call(`${kiln.url}/api/v1/profile-types?${q({ query: '{service_name="dotnet-shop"}', from: 'now-1h' })}`)
  assert.equal(types.status, 200, types.text)
  assert.deepEqual(types.json.map((t: { id: string }) => t.id).sort(), expectedTypes)
  // alloc_samples: one stack, 4 objects, under Shop.Checkout.Run.
  const top = await call(
    `${kiln.url}/api/v1/top?${q({ type: 'process_cpu:alloc_samples:count::nanoseconds', query: '{service_name="dotnet-shop"}', from: 'now-1h' })}`,
  )
  assert.equal(top.status, 200, top.text)
  const allocs = DOTNET_STACKS.reduce((a, [, v]) => a + v[2]!, 0)
  assert.equal(top.json.total, allocs)
  assert.equal(top.json.rows.find((r: { name: string }) => r.name === 'Shop.Checkout.Run').self, allocs)
})

test('.NET without a spyName is told by its sample_type_config (inuse-space), as Pyroscope tells it', async () => {
  await ingestDotnet('dotnet-old')
  const types = await call(`${kiln.url}/api/v1/profile-types?${q({ query: '{service_name="dotnet-old"}', from: 'now-1h' })}`)
  assert.deepEqual(types.json.map((t: { id: string }) => t.id).sort(), expectedTypes)
})

test('another spy keeps Kiln’s per-type names: the .NET rules apply to .NET only', async () => {
  await ingestDotnet('not-dotnet', 'gospy')
  const types = await call(`${kiln.url}/api/v1/profile-types?${q({ query: '{service_name="not-dotnet"}', from: 'now-1h' })}`)
  const ids: string[] = types.json.map((t: { id: string }) => t.id)
  assert.ok(ids.includes('process_cpu:cpu:nanoseconds::nanoseconds'), ids.join(' '))
  assert.ok(ids.includes('memory:alloc-samples:count::nanoseconds'), ids.join(' '))
})

// /pyroscope/render's metadata and formats, as Pyroscope's render answers them.
const render = (params: Record<string, string>) => call(`${kiln.url}/pyroscope/render?${q({ from: 'now-1h', until: 'now', ...params })}`)

test('/pyroscope/render metadata: wall in microseconds, delay in nanoseconds, cpu in samples at 1e9, objects; named by sample type', async () => {
  // The Node SDK's wall profile: samples and wall time in microseconds (Pyroscope's wall:wall:microseconds).
  const b = new ProfileBuilder({
    sampleTypes: [
      { type: 'samples', unit: 'count' },
      { type: 'wall', unit: 'microseconds' },
    ],
    periodType: { type: 'wall', unit: 'microseconds' },
    period: 10_000,
    timeMs: Date.now() - 5_000,
    durationNanos: 10e9,
  })
  b.addNames(['(program)', 'handler'], [3, 30_000])
  let r = await call(`${kiln.url}/ingest?${q({ name: 'node-wall', format: 'pprof', from: 'now-10s', until: 'now' })}`, {
    method: 'POST',
    body: Buffer.from(encodePprof(b.build())),
  })
  assert.equal(r.status, 200, r.text)
  const uploads: [string, string][] = [
    ['locks.mutex_duration', 'main;lock 2500\n'],
    ['locks.cpu', 'main;spin 3\n'],
    ['locks.alloc_objects', 'main;alloc 7\n'],
  ]
  for (const [name, body] of uploads) {
    r = await call(`${kiln.url}/ingest?${q({ name, from: 'now-10s', until: 'now' })}`, { method: 'POST', body })
    assert.equal(r.status, 200, r.text)
  }
  const cases: [string, Record<string, string>, { sampleRate: number; units: string; name: string }][] = [
    ['wall:wall:microseconds:wall:microseconds{service_name="node-wall"}', {}, { sampleRate: 100, units: 'microseconds', name: 'wall' }],
    ['mutex:delay:nanoseconds:contentions:count{service_name="locks"}', {}, { sampleRate: 100, units: 'nanoseconds', name: 'delay' }],
    ['process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="locks"}', {}, { sampleRate: 1e9, units: 'samples', name: 'cpu' }],
    ['memory:alloc_objects:count:space:bytes{service_name="locks"}', {}, { sampleRate: 100, units: 'objects', name: 'alloc_objects' }],
  ]
  for (const [query, range, want] of cases) {
    const res = await render({ query, ...range })
    assert.equal(res.status, 200, res.text)
    assert.ok(res.json.flamebearer.numTicks > 0, query)
    assert.deepEqual(res.json.metadata, { format: 'single', spyName: '', ...want }, query)
  }
})

test('/pyroscope/render format=collapsed answers the flamebearer JSON, as Pyroscope does; format=dot a call graph as text', async () => {
  const query = 'mutex:delay:nanoseconds:contentions:count{service_name="locks"}'
  const collapsed = await render({ query, format: 'collapsed' })
  assert.equal(collapsed.status, 200, collapsed.text)
  assert.equal(collapsed.json.flamebearer.numTicks, 2500)
  assert.deepEqual(collapsed.json.flamebearer.names, ['total', 'main', 'lock'])
  const dot = await render({ query, format: 'dot' })
  assert.equal(dot.status, 200, dot.text)
  assert.match(dot.headers.get('content-type') ?? '', /^text\/plain/)
  assert.match(dot.text, /^digraph /)
  assert.match(dot.text, /label="lock\\n/)
  // Nothing selected: an empty body, not an error.
  const none = await render({ query: 'mutex:delay:nanoseconds:contentions:count{service_name="nobody"}', format: 'dot' })
  assert.equal(none.status, 200)
  assert.equal(none.text, '')
})
