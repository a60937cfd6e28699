/**
 * Pyroscope's query API as Grafana calls it, over Connect with protobuf and JSON bodies. The
 * protobuf side is encoded and decoded by protobufjs from the message definitions (field numbers
 * of Pyroscope's api/ protos), independently of Kiln's own codec.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import protobuf from 'protobufjs'
import { startKiln, call, q, CPU, type TestServer } from './helpers.ts'
import { decodeLevels, flameGraphToFolded } from '../../src/model/flamegraph.ts'

const { root } = protobuf.parse(`
syntax = "proto3";
package q;
message LabelPair { string name = 1; string value = 2; }
message Labels { repeated LabelPair labels = 1; }
message ProfileType { string ID = 1; string name = 2; string sample_type = 4; string sample_unit = 5; string period_type = 6; string period_unit = 7; }
message ProfileTypesRequest { int64 start = 1; int64 end = 2; }
message ProfileTypesResponse { repeated ProfileType profile_types = 1; }
message LabelNamesRequest { repeated string matchers = 1; int64 start = 2; int64 end = 3; }
message LabelValuesRequest { string name = 1; repeated string matchers = 2; int64 start = 3; int64 end = 4; }
message NamesResponse { repeated string names = 1; }
message SeriesRequest { repeated string matchers = 1; repeated string label_names = 2; int64 start = 3; int64 end = 4; }
message SeriesResponse { repeated Labels labels_set = 2; }
message Location { string name = 1; }
message StackTraceSelector { repeated Location call_site = 1; }
message SelectMergeStacktracesRequest { string profile_typeID = 1; string label_selector = 2; int64 start = 3; int64 end = 4; optional int64 max_nodes = 5; int32 format = 6; StackTraceSelector stack_trace_selector = 7; }
message Level { repeated int64 values = 1; }
message FlameGraph { repeated string names = 1; repeated Level levels = 2; int64 total = 3; int64 max_self = 4; }
message FlameGraphDiff { repeated string names = 1; repeated Level levels = 2; int64 total = 3; int64 max_self = 4; int64 leftTicks = 5; int64 rightTicks = 6; }
message SelectMergeStacktracesResponse { FlameGraph flamegraph = 1; }
message Point { double value = 1; int64 timestamp = 2; }
message Series { repeated LabelPair labels = 1; repeated Point points = 2; }
message SelectSeriesRequest { string profile_typeID = 1; string label_selector = 2; int64 start = 3; int64 end = 4; repeated string group_by = 5; optional double step = 6; optional int32 aggregation = 7; StackTraceSelector stack_trace_selector = 8; optional int64 limit = 9; }
message SelectSeriesResponse { repeated Series series = 1; }
message SelectMergeProfileRequest { string profile_typeID = 1; string label_selector = 2; int64 start = 3; int64 end = 4; }
message DiffRequest { SelectMergeStacktracesRequest left = 1; SelectMergeStacktracesRequest right = 2; }
message DiffResponse { FlameGraphDiff flamegraph = 1; }
message ValueType { int64 type = 1; int64 unit = 2; }
message Sample { repeated uint64 location_id = 1; repeated int64 value = 2; }
message Line { uint64 function_id = 1; int64 line = 2; }
message PLocation { uint64 id = 1; repeated Line line = 4; }
message PFunction { uint64 id = 1; int64 name = 2; }
message Profile { repeated ValueType sample_type = 1; repeated Sample sample = 2; repeated PLocation location = 4; repeated PFunction function = 5; repeated string string_table = 6; }
`)

let kiln: TestServer
const now = Date.now()
const start = now - 600_000

async function rpc(method: string, reqType: string, resType: string, body: Record<string, unknown>) {
  const T = root.lookupType(`q.${reqType}`)
  const bytes = T.encode(T.fromObject(body)).finish()
  const r = await fetch(`${kiln.url}/querier.v1.QuerierService/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/proto' },
    body: Buffer.from(bytes),
  })
  const buf = new Uint8Array(await r.arrayBuffer())
  assert.equal(r.status, 200, `${method}: ${Buffer.from(buf).toString()}`)
  assert.equal(r.headers.get('content-type'), 'application/proto')
  return root.lookupType(`q.${resType}`).toObject(root.lookupType(`q.${resType}`).decode(buf), { longs: Number, defaults: true }) as any
}

before(async () => {
  kiln = await startKiln()
  const ingest = async (name: string, body: string, at: number) => {
    const r = await call(`${kiln.url}/ingest?${q({ name, from: String(at), until: String(at + 10_000), sampleRate: '100' })}`, {
      method: 'POST',
      body,
    })
    assert.equal(r.status, 200, r.text)
  }
  await ingest('api.cpu{env=prod,region=eu}', 'main;handle;db 50\nmain;handle;json 20\nmain;gc 10\n', now - 300_000)
  await ingest('api.cpu{env=stage,region=us}', 'main;handle;db 5\nmain;handle;json 40\n', now - 200_000)
  await ingest('web.cpu{env=prod}', 'main;render 7\n', now - 100_000)
})
after(async () => kiln?.dispose())

test('ProfileTypes, LabelNames, LabelValues, Series (protobuf)', async () => {
  const pt = await rpc('ProfileTypes', 'ProfileTypesRequest', 'ProfileTypesResponse', { start, end: now })
  assert.deepEqual(
    pt.profileTypes.map((t: any) => [t.ID, t.name, t.sampleType, t.sampleUnit, t.periodType, t.periodUnit]),
    [[CPU, 'process_cpu', 'cpu', 'nanoseconds', 'cpu', 'nanoseconds']],
  )
  const names = await rpc('LabelNames', 'LabelNamesRequest', 'NamesResponse', { matchers: ['{service_name="api"}'], start, end: now })
  assert.deepEqual(names.names, [
    '__name__',
    '__period_type__',
    '__period_unit__',
    '__profile_type__',
    '__type__',
    '__unit__',
    'env',
    'region',
    'service_name',
  ])
  const values = await rpc('LabelValues', 'LabelValuesRequest', 'NamesResponse', { name: 'service_name', matchers: [], start, end: now })
  assert.deepEqual(values.names, ['api', 'web'])
  const prodOnly = await rpc('LabelValues', 'LabelValuesRequest', 'NamesResponse', {
    name: 'region',
    matchers: ['{env="prod"}'],
    start,
    end: now,
  })
  assert.deepEqual(prodOnly.names, ['eu'])
  const series = await rpc('Series', 'SeriesRequest', 'SeriesResponse', {
    matchers: ['{service_name="api"}'],
    labelNames: ['env', 'service_name'],
    start,
    end: now,
  })
  assert.deepEqual(series.labelsSet.map((l: any) => l.labels.map((p: any) => `${p.name}=${p.value}`).join(',')).sort(), [
    'env=prod,service_name=api',
    'env=stage,service_name=api',
  ])
})

test('SelectMergeStacktraces returns flame graph levels over protobuf and JSON alike', async () => {
  const req = { profileTypeID: CPU, labelSelector: '{service_name="api"}', start, end: now }
  const pb = await rpc('SelectMergeStacktraces', 'SelectMergeStacktracesRequest', 'SelectMergeStacktracesResponse', req)
  const fg = {
    names: pb.flamegraph.names,
    levels: pb.flamegraph.levels.map((l: any) => l.values),
    total: pb.flamegraph.total,
    maxSelf: pb.flamegraph.maxSelf,
  }
  assert.equal(fg.total, 125 * 1e7)
  assert.equal(fg.maxSelf, 60 * 1e7)
  assert.equal(flameGraphToFolded(fg), ['main;gc 100000000', 'main;handle;db 550000000', 'main;handle;json 600000000', ''].join('\n'))
  const j = await call(`${kiln.url}/querier.v1.QuerierService/SelectMergeStacktraces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...req, start: String(start) }),
  })
  assert.equal(j.status, 200, j.text)
  assert.equal(j.json.flamegraph.total, String(125 * 1e7), 'int64 as strings in JSON')
  assert.deepEqual(
    j.json.flamegraph.levels.map((l: any) => l.values.map(Number)),
    fg.levels,
  )
  const small = await rpc('SelectMergeStacktraces', 'SelectMergeStacktracesRequest', 'SelectMergeStacktracesResponse', {
    ...req,
    maxNodes: 2,
  })
  const kept = decodeLevels(small.flamegraph.levels.map((l: any) => l.values))
    .flat()
    .map((n) => small.flamegraph.names[n.name])
  assert.deepEqual(
    kept,
    ['total', 'main', 'handle', 'other', 'other'],
    'max_nodes=2 keeps the 2 largest nodes, the rest merge into "other" per parent',
  )
  const site = await rpc('SelectMergeStacktraces', 'SelectMergeStacktracesRequest', 'SelectMergeStacktracesResponse', {
    ...req,
    stackTraceSelector: { callSite: [{ name: 'main' }, { name: 'handle' }] },
  })
  assert.equal(site.flamegraph.total, 115 * 1e7, 'call-site filter keeps stacks through main;handle')
})

test('SelectSeries: step, group_by, limit and average', async () => {
  const r = await rpc('SelectSeries', 'SelectSeriesRequest', 'SelectSeriesResponse', {
    profileTypeID: CPU,
    labelSelector: '{}',
    start,
    end: now,
    step: 60,
    groupBy: ['service_name'],
  })
  const byService = Object.fromEntries(r.series.map((s: any) => [s.labels[0].value, s.points]))
  assert.deepEqual(Object.keys(byService).sort(), ['api', 'web'])
  assert.equal(
    byService.api.reduce((a: number, p: any) => a + p.value, 0),
    125 * 1e7,
  )
  assert.equal(byService.api.length, 2, 'two profiles in different minutes')
  for (const p of byService.api) assert.equal(p.timestamp % 60_000, 0, 'points are aligned to the step')
  const top1 = await rpc('SelectSeries', 'SelectSeriesRequest', 'SelectSeriesResponse', {
    profileTypeID: CPU,
    labelSelector: '{}',
    start,
    end: now,
    step: 600,
    groupBy: ['service_name'],
    limit: 1,
  })
  assert.deepEqual(
    top1.series.map((s: any) => s.labels[0].value),
    ['api'],
  )
  const site = await rpc('SelectSeries', 'SelectSeriesRequest', 'SelectSeriesResponse', {
    profileTypeID: CPU,
    labelSelector: '{service_name="api"}',
    start,
    end: now,
    step: 600,
    stackTraceSelector: { callSite: [{ name: 'main' }, { name: 'handle' }, { name: 'json' }] },
  })
  assert.equal(
    site.series[0].points.reduce((a: number, p: any) => a + p.value, 0),
    60 * 1e7,
    'a call-site selector counts only the stacks through main;handle;json',
  )
})

test('SelectMergeProfile answers a pprof; Diff answers both sides on one layout', async () => {
  const T = root.lookupType('q.SelectMergeProfileRequest')
  const res = await fetch(`${kiln.url}/querier.v1.QuerierService/SelectMergeProfile`, {
    method: 'POST',
    headers: { 'content-type': 'application/proto' },
    body: Buffer.from(T.encode(T.fromObject({ profileTypeID: CPU, labelSelector: `{env="prod"}`, start, end: now })).finish()),
  })
  assert.equal(res.status, 200)
  const P = root.lookupType('q.Profile')
  const prof = P.toObject(P.decode(new Uint8Array(await res.arrayBuffer())), { longs: Number }) as any
  const total = prof.sample.reduce((a: number, s: any) => a + s.value[0], 0)
  assert.equal(total, 87 * 1e7)
  assert.equal(prof.stringTable[prof.sampleType[0].type], 'cpu')
  const diff = await rpc('Diff', 'DiffRequest', 'DiffResponse', {
    left: { profileTypeID: CPU, labelSelector: '{env="prod", service_name="api"}', start, end: now },
    right: { profileTypeID: CPU, labelSelector: '{env="stage"}', start, end: now },
  })
  assert.equal(diff.flamegraph.leftTicks, 80 * 1e7)
  assert.equal(diff.flamegraph.rightTicks, 45 * 1e7)
  const nodes = decodeLevels(
    diff.flamegraph.levels.map((l: any) => l.values),
    true,
  ).flat()
  const json = nodes.find((n) => diff.flamegraph.names[n.name] === 'json')!
  assert.deepEqual([json.total, json.rTotal], [20 * 1e7, 40 * 1e7])
})

test('/pyroscope/render and /render-diff answer flamebearer JSON', async () => {
  const r = await call(
    `${kiln.url}/pyroscope/render?${q({ query: `${CPU}{service_name="api"}`, from: String(start), until: String(now) })}`,
  )
  assert.equal(r.status, 200, r.text)
  assert.equal(r.json.flamebearer.numTicks, 125 * 1e7)
  assert.equal(r.json.metadata.format, 'single')
  assert.equal(r.json.metadata.units, 'samples')
  assert.equal(r.json.timeline.durationDelta, 15)
  assert.equal(
    r.json.timeline.samples.reduce((a: number, b: number) => a + b, 0),
    125 * 1e7,
  )
  const d = await call(
    `${kiln.url}/pyroscope/render-diff?${q({ leftQuery: `${CPU}{env="prod"}`, leftFrom: String(start), leftUntil: String(now), rightQuery: `${CPU}{env="stage"}`, rightFrom: String(start), rightUntil: String(now) })}`,
  )
  assert.equal(d.status, 200, d.text)
  assert.equal(d.json.metadata.format, 'double')
  assert.deepEqual([d.json.leftTicks, d.json.rightTicks], [87 * 1e7, 45 * 1e7])
  const lv = await call(`${kiln.url}/pyroscope/label-values?label=__name__`)
  assert.deepEqual(lv.json, [CPU])
})

test('GetProfileStats tells the Drilldown app that data was ingested, and when', async () => {
  const r = await call(`${kiln.url}/querier.v1.QuerierService/GetProfileStats`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  })
  assert.equal(r.status, 200, r.text)
  assert.equal(r.json.dataIngested, true)
  assert.equal(Number(r.json.oldestProfileTime), now - 300_000)
  assert.equal(Number(r.json.newestProfileTime), now - 100_000)
})

test('Connect errors are JSON {code, message} with Connect codes', async () => {
  const r = await call(`${kiln.url}/querier.v1.QuerierService/SelectMergeStacktraces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ profileTypeID: CPU, labelSelector: '{a=', start: String(start), end: String(now) }),
  })
  assert.equal(r.status, 400)
  assert.equal(r.json.code, 'invalid_argument')
  assert.match(r.json.message, /selector/)
  const bad = await call(`${kiln.url}/querier.v1.QuerierService/ProfileTypes`, {
    method: 'POST',
    headers: { 'content-type': 'application/proto' },
    body: new Uint8Array([0x0a, 0xff]),
  })
  assert.equal(bad.status, 400)
  assert.equal(bad.json.code, 'invalid_argument')
})
