/**
 * Ingest quirks Pyroscope handles (issue 11 §4): .NET profiles with every function id 0, and .NET
 * sample types named as Pyroscope names them — all under `process_cpu`, dashes made underscores.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startKiln, call, q, type TestServer } from './helpers.ts'
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
