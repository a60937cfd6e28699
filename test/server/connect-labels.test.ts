/**
 * Label queries as Grafana and Pyroscope's UIs send them (matchers on `__profile_type__` and the
 * other private labels, several matchers ORed), through a connect-node client over Connect.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createClient } from '@connectrpc/connect'
import { createConnectTransport } from '@connectrpc/connect-node'
import { startKiln, call, q, CPU, type TestServer } from './helpers.ts'
import { QuerierService } from '../../src/server/rpc/gen/querier/v1/querier_pb.ts'

const HEAP = 'memory:inuse_space:bytes:space:bytes'
let kiln: TestServer
const now = Date.now()
const start = now - 600_000
const transport = () => createConnectTransport({ baseUrl: kiln.url, httpVersion: '1.1' })

before(async () => {
  kiln = await startKiln()
  const ingest = async (name: string, body: string) => {
    const r = await call(`${kiln.url}/ingest?${q({ name, from: String(now - 120_000), until: String(now - 110_000), sampleRate: '100' })}`, { method: 'POST', body })
    assert.equal(r.status, 200, r.text)
  }
  await ingest('api.cpu{env=prod}', 'main;handle;db 50\nmain;gc 10\n')
  await ingest('api.inuse_space{env=prod,pod=a}', 'main;alloc 4096\n')
  await ingest('web.cpu{env=stage}', 'main;render 7\n')
})
after(async () => kiln?.dispose())

test("Grafana's label queries: matchers on __profile_type__ and the other private labels", async () => {
  const querier = createClient(QuerierService, transport())
  const range = { start: BigInt(start), end: BigInt(now) }
  // What Grafana's query editor sends for label autocompletion and the group-by list.
  const grafana = `{__profile_type__="${CPU}", service_name="api"}`
  assert.deepEqual((await querier.labelNames({ matchers: [grafana], ...range })).names, ['__name__', '__period_type__', '__period_unit__', '__profile_type__', '__type__', '__unit__', 'env', 'service_name'])
  assert.deepEqual((await querier.labelValues({ name: 'env', matchers: [grafana], ...range })).names, ['prod'])
  assert.deepEqual((await querier.labelValues({ name: 'pod', matchers: [grafana], ...range })).names, [], 'pod is only on the heap series')
  assert.deepEqual((await querier.labelValues({ name: 'pod', matchers: [`{__profile_type__="${HEAP}"}`], ...range })).names, ['a'])
  assert.deepEqual((await querier.labelValues({ name: '__profile_type__', matchers: ['{service_name="api"}'], ...range })).names, [CPU, HEAP].sort())
  assert.deepEqual((await querier.labelValues({ name: '__type__', matchers: [], ...range })).names, ['cpu', 'inuse_space'])
  assert.deepEqual((await querier.labelValues({ name: 'service_name', matchers: ['{__unit__="bytes"}'], ...range })).names, ['api'])
  assert.deepEqual((await querier.labelValues({ name: 'service_name', matchers: ['{__type__=~"cpu|nothing", __period_unit__!="bytes"}'], ...range })).names, ['api', 'web'])
  assert.deepEqual((await querier.labelValues({ name: 'service_name', matchers: ['{__profile_type__="no:such:type:at:all"}'], ...range })).names, [])
  // Several matchers are ORed, as in Pyroscope.
  assert.deepEqual((await querier.labelValues({ name: 'service_name', matchers: ['{env="stage"}', `{__profile_type__="${HEAP}"}`], ...range })).names, ['api', 'web'])
  const typed = await querier.selectMergeStacktraces({ profileTypeID: CPU, labelSelector: `{__profile_type__="${CPU}", service_name="api"}`, ...range })
  assert.equal(Number(typed.flamegraph?.total), 60e7, 'a selector naming the same type selects as without it')
  const other = await querier.selectMergeStacktraces({ profileTypeID: CPU, labelSelector: `{__type__="inuse_space"}`, ...range })
  assert.equal(Number(other.flamegraph?.total ?? 0), 0, 'a selector naming another type selects nothing')
})

test("the old UI's app list: Series with __type__ and the other private labels", async () => {
  const querier = createClient(QuerierService, transport())
  const r = await querier.series({ matchers: [], labelNames: ['service_name', '__profile_type__', '__type__', '__name__'], start: BigInt(start), end: BigInt(now) })
  const sets = r.labelsSet.map((l) => Object.fromEntries(l.labels.map((p) => [p.name, p.value])))
  assert.deepEqual(
    sets.map((s) => `${s.service_name} ${s.__name__} ${s.__type__} ${s.__profile_type__}`).sort(),
    [`api memory inuse_space ${HEAP}`, `api process_cpu cpu ${CPU}`, `web process_cpu cpu ${CPU}`],
  )
  const grafana = await querier.series({ matchers: [`{__profile_type__="${CPU}"}`], labelNames: ['service_name'], start: BigInt(start), end: BigInt(now) })
  assert.deepEqual(grafana.labelsSet.map((l) => l.labels[0]!.value).sort(), ['api', 'web'])
})
