/**
 * Label queries as Grafana and Pyroscope's UIs send them (matchers on `__profile_type__` and the
 * other private labels, several matchers ORed), and the neighbours of querier.v1 the Drilldown app
 * calls (settings, status, version, capabilities, TREE and DOT formats), through a connect-node
 * client over the Connect protocol.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Code, createClient } from '@connectrpc/connect'
import { createConnectTransport } from '@connectrpc/connect-node'
import { toBinary } from '@bufbuild/protobuf'
import { startKiln, call, q, CPU, type TestServer } from './helpers.ts'
import { haveGo, viaGo } from '../formats/support.ts'
import { ProfileSchema } from '../../src/server/rpc/gen/google/v1/profile_pb.ts'
import { ProfileFormat, QuerierService } from '../../src/server/rpc/gen/querier/v1/querier_pb.ts'
import { SettingsService } from '../../src/server/rpc/gen/settings/v1/setting_pb.ts'
import { Version } from '../../src/server/rpc/gen/version/v1/version_pb.ts'
import { StatusService } from '../../src/server/rpc/gen/status/v1/status_pb.ts'
import { FeatureFlagsService } from '../../src/server/rpc/gen/capabilities/v1/feature_flags_pb.ts'

const HEAP = 'memory:inuse_space:bytes:space:bytes'
let kiln: TestServer
const now = Date.now()
const start = now - 600_000
const transport = () => createConnectTransport({ baseUrl: kiln.url, httpVersion: '1.1' })

before(async () => {
  kiln = await startKiln()
  const ingest = async (name: string, body: string) => {
    const r = await call(
      `${kiln.url}/ingest?${q({ name, from: String(now - 120_000), until: String(now - 110_000), sampleRate: '100' })}`,
      { method: 'POST', body },
    )
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
  assert.deepEqual((await querier.labelNames({ matchers: [grafana], ...range })).names, [
    '__name__',
    '__period_type__',
    '__period_unit__',
    '__profile_type__',
    '__type__',
    '__unit__',
    'env',
    'service_name',
  ])
  assert.deepEqual((await querier.labelValues({ name: 'env', matchers: [grafana], ...range })).names, ['prod'])
  assert.deepEqual((await querier.labelValues({ name: 'pod', matchers: [grafana], ...range })).names, [], 'pod is only on the heap series')
  assert.deepEqual((await querier.labelValues({ name: 'pod', matchers: [`{__profile_type__="${HEAP}"}`], ...range })).names, ['a'])
  assert.deepEqual(
    (await querier.labelValues({ name: '__profile_type__', matchers: ['{service_name="api"}'], ...range })).names,
    [CPU, HEAP].sort(),
  )
  assert.deepEqual((await querier.labelValues({ name: '__type__', matchers: [], ...range })).names, ['cpu', 'inuse_space'])
  assert.deepEqual((await querier.labelValues({ name: 'service_name', matchers: ['{__unit__="bytes"}'], ...range })).names, ['api'])
  assert.deepEqual(
    (await querier.labelValues({ name: 'service_name', matchers: ['{__type__=~"cpu|nothing", __period_unit__!="bytes"}'], ...range }))
      .names,
    ['api', 'web'],
  )
  assert.deepEqual(
    (await querier.labelValues({ name: 'service_name', matchers: ['{__profile_type__="no:such:type:at:all"}'], ...range })).names,
    [],
  )
  // Several matchers are ORed, as in Pyroscope.
  assert.deepEqual(
    (await querier.labelValues({ name: 'service_name', matchers: ['{env="stage"}', `{__profile_type__="${HEAP}"}`], ...range })).names,
    ['api', 'web'],
  )
  const typed = await querier.selectMergeStacktraces({
    profileTypeID: CPU,
    labelSelector: `{__profile_type__="${CPU}", service_name="api"}`,
    ...range,
  })
  assert.equal(Number(typed.flamegraph?.total), 60e7, 'a selector naming the same type selects as without it')
  const other = await querier.selectMergeStacktraces({ profileTypeID: CPU, labelSelector: `{__type__="inuse_space"}`, ...range })
  assert.equal(Number(other.flamegraph?.total ?? 0), 0, 'a selector naming another type selects nothing')
})

test("the old UI's app list: Series with __type__ and the other private labels", async () => {
  const querier = createClient(QuerierService, transport())
  const r = await querier.series({
    matchers: [],
    labelNames: ['service_name', '__profile_type__', '__type__', '__name__'],
    start: BigInt(start),
    end: BigInt(now),
  })
  const sets = r.labelsSet.map((l) => Object.fromEntries(l.labels.map((p) => [p.name, p.value])))
  assert.deepEqual(sets.map((s) => `${s.service_name} ${s.__name__} ${s.__type__} ${s.__profile_type__}`).sort(), [
    `api memory inuse_space ${HEAP}`,
    `api process_cpu cpu ${CPU}`,
    `web process_cpu cpu ${CPU}`,
  ])
  const grafana = await querier.series({
    matchers: [`{__profile_type__="${CPU}"}`],
    labelNames: ['service_name'],
    start: BigInt(start),
    end: BigInt(now),
  })
  assert.deepEqual(grafana.labelsSet.map((l) => l.labels[0]!.value).sort(), ['api', 'web'])
})

test('SelectMergeStacktraces answers TREE bytes and a DOT call graph', async () => {
  const querier = createClient(QuerierService, transport())
  const req = { profileTypeID: CPU, labelSelector: '{service_name="api"}', start: BigInt(start), end: BigInt(now) }
  const { tree } = await querier.selectMergeStacktraces({ ...req, format: ProfileFormat.TREE })
  // Read back as the format says: depth first, varint name length, name, varint self, varint children.
  let at = 0
  const varint = () => {
    let v = 0
    for (let shift = 1; ; shift *= 128) {
      const b = tree[at++]!
      v += (b & 0x7f) * shift
      if (b < 0x80) return v
    }
  }
  const folded: string[] = []
  const read = (path: string[]) => {
    const len = varint()
    const name = Buffer.from(tree.subarray(at, at + len)).toString()
    at += len
    const self = varint()
    const stack = name ? [...path, name] : path
    if (self) folded.push(`${stack.join(';')} ${self}`)
    for (let n = varint(); n > 0; n--) read(stack)
  }
  read([])
  assert.equal(at, tree.length, 'every byte is read')
  assert.deepEqual(folded.sort(), ['main;gc 100000000', 'main;handle;db 500000000'])
  const { dot } = await querier.selectMergeStacktraces({ ...req, format: ProfileFormat.DOT })
  assert.match(dot, /^digraph /)
  const label = (fn: string) => new RegExp(`N(\\d+) \\[label="${fn}\\\\n`).exec(dot)?.[1]
  assert.ok(label('main') && label('handle') && label('db'), dot)
  assert.match(dot, new RegExp(`N${label('main')} -> N${label('handle')} \\[label="500000000"`))
})

test('trace id selectors are refused as unimplemented, not ignored; a malformed profile id is invalid_argument', async () => {
  const querier = createClient(QuerierService, transport())
  const req = { profileTypeID: CPU, labelSelector: '{}', start: BigInt(start), end: BigInt(now) }
  const e = await querier.selectMergeStacktraces({ ...req, traceIdSelector: ['4bf92f3577b34da6a3ce929d0e0e4736'] }).catch((x) => x)
  assert.equal(e.code, Code.Unimplemented)
  assert.match(e.message, /is not supported yet/)
  const bad = await querier.selectMergeProfile({ ...req, profileIdSelector: ['x'] }).catch((x) => x)
  assert.equal(bad.code, Code.InvalidArgument)
  assert.match(bad.message, /profile id "x" is not a Kiln profile id/)
})

test('SelectMergeProfile opens in go tool pprof with the range as its time and duration', async (t) => {
  if (!haveGo()) return t.skip('go is not installed (Debian golang-go; .ci/run installs it)')
  const querier = createClient(QuerierService, transport())
  const profile = await querier.selectMergeProfile({
    profileTypeID: CPU,
    labelSelector: '{service_name="api"}',
    start: BigInt(start),
    end: BigInt(now),
  })
  // In ms: the pprof writer carries nanoseconds as doubles, exact to about 256 ns in 2026.
  assert.equal(Math.round(Number(profile.timeNanos) / 1e6), start)
  assert.equal(Math.round(Number(profile.durationNanos) / 1e6), now - start)
  const go = viaGo(toBinary(ProfileSchema, profile))
  assert.deepEqual(go.sampleTypes, ['cpu/nanoseconds'])
  assert.equal(go.folded[0], 'main;gc 100000000\nmain;handle;db 500000000\n')
})

test('AnalyzeQuery counts the series a query reads', async () => {
  const querier = createClient(QuerierService, transport())
  const r = await querier.analyzeQuery({ query: `${CPU}{service_name="api"}`, start: BigInt(start), end: BigInt(now) })
  assert.equal(r.queryImpact?.totalQueriedSeries, 1n)
  assert.deepEqual(
    r.queryScopes.map((s) => [s.componentType, s.seriesCount]),
    [['ClickHouse store', 1n]],
  )
  const all = await querier.analyzeQuery({ query: '{}', start: BigInt(start), end: BigInt(now) })
  assert.equal(all.queryImpact?.totalQueriedSeries, 3n)
})

test("settings.v1 keeps a tenant's settings; version, status, capabilities and buildinfo answer", async () => {
  const settings = createClient(SettingsService, transport())
  assert.deepEqual((await settings.get({})).settings, [])
  const set = await settings.set({ setting: { name: 'pluginSettings', value: '{"maxNodes":16384}', modifiedAt: 1000n } })
  assert.equal(set.setting?.value, '{"maxNodes":16384}')
  await settings.set({ setting: { name: 'pluginSettings', value: 'stale', modifiedAt: 999n } })
  const got = await settings.get({})
  assert.deepEqual(
    got.settings.map((s) => [s.name, s.value, s.modifiedAt]),
    [['pluginSettings', '{"maxNodes":16384}', 1000n]],
    'an older write leaves the newer setting',
  )
  const noName = await settings.set({ setting: { value: 'x' } }).catch((e) => e)
  assert.match(noName.message, /setting.name is required/)
  assert.equal((await createClient(Version, transport()).version({})).QuerierAPI, 1n)
  const info = await createClient(StatusService, transport()).getBuildInfo({})
  assert.equal(info.status, 'success')
  assert.match(info.data?.version ?? '', /^\d+\.\d+\.\d+/)
  assert.deepEqual((await createClient(FeatureFlagsService, transport()).getFeatureFlags({})).featureFlags, [])
  const http = await call(`${kiln.url}/api/v1/status/buildinfo`)
  assert.equal(http.status, 200)
  assert.deepEqual(http.json, { status: 'success', data: { version: info.data!.version, goVersion: process.version } })
})
