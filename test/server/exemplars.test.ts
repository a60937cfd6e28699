/**
 * Exemplars on SelectSeries (EXEMPLAR_TYPE_INDIVIDUAL): each point names its largest profile, and
 * that profile id, passed back as profile_id_selector, selects exactly that profile's stacks —
 * Grafana's click from a dot on the time series to that one profile's flame graph.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Code, createClient } from '@connectrpc/connect'
import { createConnectTransport } from '@connectrpc/connect-node'
import { startKiln, call, q, CPU, type TestServer } from './helpers.ts'
import { flameGraphToFolded } from '../../src/model/flamegraph.ts'
import { QuerierService } from '../../src/server/rpc/gen/querier/v1/querier_pb.ts'
import { ExemplarType } from '../../src/server/rpc/gen/types/v1/types_pb.ts'

let kiln: TestServer
// Whole minutes, so the 60 s steps below hold the profiles as placed.
const t0 = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000
const range = { start: BigInt(t0), end: BigInt(t0 + 5 * 60_000) }
const querier = () => createClient(QuerierService, createConnectTransport({ baseUrl: kiln.url, httpVersion: '1.1' }))

before(async () => {
  kiln = await startKiln()
  const ingest = async (name: string, at: number, body: string) => {
    const r = await call(`${kiln.url}/ingest?${q({ name, from: String(at), until: String(at + 10_000), sampleRate: '100' })}`, {
      method: 'POST',
      body,
    })
    assert.equal(r.status, 200, r.text)
  }
  // Minute 0: two profiles of pod a, the second larger, and one of pod b. Minute 2: one of pod a.
  await ingest('ex.cpu{pod=a}', t0 + 5_000, 'main;small 3\n')
  await ingest('ex.cpu{pod=a}', t0 + 30_000, 'main;big 7\nmain;other 1\n')
  await ingest('ex.cpu{pod=b}', t0 + 10_000, 'main;pod_b 20\n')
  await ingest('ex.cpu{pod=a}', t0 + 125_000, 'main;later 2\n')
})
after(async () => kiln?.dispose())

test('each point of SelectSeries names its largest profile, whose id selects that profile alone', async () => {
  const c = querier()
  const res = await c.selectSeries({
    profileTypeID: CPU,
    labelSelector: '{service_name="ex"}',
    groupBy: ['pod'],
    step: 60,
    exemplarType: ExemplarType.INDIVIDUAL,
    ...range,
  })
  const a = res.series.find((s) => s.labels.some((l) => l.name === 'pod' && l.value === 'a'))!
  assert.deepEqual(
    a.points.map((p) => [Number(p.timestamp) - t0, p.value / 1e7, p.exemplars.length]),
    [
      [0, 11, 1],
      [120_000, 2, 1],
    ],
  )
  const [ex] = a.points[0]!.exemplars
  assert.equal(Number(ex!.timestamp), t0 + 30_000, 'the larger of the two profiles')
  assert.equal(Number(ex!.value), 8e7)
  assert.match(ex!.profileId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
  const labels = Object.fromEntries(ex!.labels.map((l) => [l.name, l.value]))
  assert.equal(labels.service_name, 'ex')
  assert.equal(labels.pod, 'a')

  const one = await c.selectMergeStacktraces({
    profileTypeID: CPU,
    labelSelector: '{}',
    profileIdSelector: [ex!.profileId],
    ...range,
  })
  assert.equal(flameGraphToFolded(plain(one.flamegraph!)), 'main;big 70000000\nmain;other 10000000\n')
  // Two ids: both profiles; the same ids through SelectMergeProfile's pprof.
  const later = a.points[1]!.exemplars[0]!.profileId
  const two = await c.selectMergeStacktraces({
    profileTypeID: CPU,
    labelSelector: '{}',
    profileIdSelector: [ex!.profileId, later],
    ...range,
  })
  assert.equal(flameGraphToFolded(plain(two.flamegraph!)), 'main;big 70000000\nmain;later 20000000\nmain;other 10000000\n')
  const pprof = await c.selectMergeProfile({ profileTypeID: CPU, labelSelector: '{}', profileIdSelector: [later], ...range })
  assert.equal(pprof.sample.length, 1)

  // Without exemplar_type, points carry none.
  const none = await c.selectSeries({ profileTypeID: CPU, labelSelector: '{service_name="ex"}', step: 60, ...range })
  assert.ok(none.series[0]!.points.every((p) => p.exemplars.length === 0))
})

test('span exemplars on SelectSeries are unimplemented, as in Pyroscope', async () => {
  const e = await querier()
    .selectSeries({ profileTypeID: CPU, labelSelector: '{}', step: 60, exemplarType: ExemplarType.SPAN, ...range })
    .catch((x) => x)
  assert.equal(e.code, Code.Unimplemented)
  assert.match(e.message, /EXEMPLAR_TYPE_SPAN is not implemented/)
})

type Fg = { names: string[]; levels: { values: (bigint | number)[] }[]; total: bigint | number; maxSelf: bigint | number }
function plain(fg: Fg) {
  return { names: fg.names, levels: fg.levels.map((l) => l.values.map(Number)), total: Number(fg.total), maxSelf: Number(fg.maxSelf) }
}
