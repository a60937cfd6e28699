/**
 * Span profiles (issue 11 §5): samples carrying the pprof label `span_id` keep it in the store, and
 * querier.v1's SelectMergeSpanProfile (and SelectMergeStacktraces' span_selector) answer exactly
 * those samples, through a connect-node client against a real `kiln server`.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Code, createClient } from '@connectrpc/connect'
import { createConnectTransport } from '@connectrpc/connect-node'
import { startKiln, call, q, CPU, type TestServer } from './helpers.ts'
import { ProfileBuilder } from '../../src/model/profile.ts'
import { encodePprof } from '../../src/formats/pprof.ts'
import { flameGraphToFolded } from '../../src/model/flamegraph.ts'
import { ProfileFormat, QuerierService } from '../../src/server/rpc/gen/querier/v1/querier_pb.ts'

const A = '9a517183f26a089d'
const B = '00f067aa0ba902b7'
let kiln: TestServer
const now = Date.now()
const range = { start: BigInt(now - 600_000), end: BigInt(now) }
const querier = () => createClient(QuerierService, createConnectTransport({ baseUrl: kiln.url, httpVersion: '1.1' }))

before(async () => {
  kiln = await startKiln()
  const meta = {
    sampleTypes: [{ type: 'cpu', unit: 'nanoseconds' }],
    periodType: { type: 'cpu', unit: 'nanoseconds' },
    period: 10_000_000,
    timeMs: now - 60_000,
    durationNanos: 10e9,
  }
  const b = new ProfileBuilder(meta)
  const add = (stack: string, v: number, span?: string) =>
    b.addNames(stack.split(';'), [v], span === undefined ? undefined : [['span_id', span]])
  add('main;handle;db', 50, A)
  add('main;handle;json', 20, B)
  // B's id in capitals: the same span (hex is case-blind).
  add('main;handle;db', 5, B.toUpperCase())
  add('main;gc', 10)
  // Not a span id: the sample is kept, with no span.
  add('main;tick', 3, 'not-a-span')
  const r = await call(`${kiln.url}/ingest?${q({ name: 'spans{env=prod}', format: 'pprof' })}`, {
    method: 'POST',
    body: Buffer.from(encodePprof(b.build(), { gzip: true })),
  })
  assert.equal(r.status, 200, r.text)
  // As Pyroscope's Go SDK sends them: span_id and span_name on each sample of a span.
  const named = new ProfileBuilder(meta)
  named.addNames(
    ['main', 'checkout'],
    [30],
    [
      ['span_id', A],
      ['span_name', 'GET /checkout'],
    ],
  )
  named.addNames(
    ['main', 'search'],
    [12],
    [
      ['span_id', B],
      ['span_name', 'GET /search'],
    ],
  )
  const r2 = await call(`${kiln.url}/ingest?${q({ name: 'named', format: 'pprof' })}`, {
    method: 'POST',
    body: Buffer.from(encodePprof(named.build(), { gzip: true })),
  })
  assert.equal(r2.status, 200, r2.text)
})
after(async () => kiln?.dispose())

type Fg = { names: string[]; levels: { values: (bigint | number)[] }[]; total: bigint | number; maxSelf: bigint | number }
const folded = (fg: Fg | undefined) =>
  flameGraphToFolded({
    names: fg!.names,
    levels: fg!.levels.map((l) => l.values.map(Number)),
    total: Number(fg!.total),
    maxSelf: Number(fg!.maxSelf),
  })

const req = (spanSelector: string[]) => ({ profileTypeID: CPU, labelSelector: '{service_name="spans"}', spanSelector, ...range })

test('SelectMergeSpanProfile answers exactly the samples of the spans asked for', async () => {
  const c = querier()
  assert.equal(folded((await c.selectMergeSpanProfile(req([A]))).flamegraph), 'main;handle;db 50\n')
  assert.equal(folded((await c.selectMergeSpanProfile(req([B]))).flamegraph), 'main;handle;db 5\nmain;handle;json 20\n')
  assert.equal(folded((await c.selectMergeSpanProfile(req([A, B.toUpperCase()]))).flamegraph), 'main;handle;db 55\nmain;handle;json 20\n')
  // A span with no samples, and no span at all, select nothing (as in Pyroscope).
  assert.equal(Number((await c.selectMergeSpanProfile(req(['0000000000000001']))).flamegraph!.total), 0)
  assert.equal(Number((await c.selectMergeSpanProfile(req([]))).flamegraph!.total), 0)
  // The label selector still applies.
  const other = await c.selectMergeSpanProfile({ ...req([A]), labelSelector: '{service_name="spans", env="dev"}' })
  assert.equal(Number(other.flamegraph!.total), 0)
  // TREE: Pyroscope's tree bytes, a flame graph's stacks in another form.
  const tree = await c.selectMergeSpanProfile({ ...req([A]), format: ProfileFormat.TREE })
  assert.ok(tree.tree.length > 0 && !tree.flamegraph)
  assert.ok(Buffer.from(tree.tree).includes('db'))
})

test('spans neither split series nor hide samples from the merge of everything', async () => {
  const c = querier()
  const all = await c.selectMergeStacktraces({ profileTypeID: CPU, labelSelector: '{service_name="spans"}', ...range })
  assert.equal(folded(all.flamegraph), 'main;gc 10\nmain;handle;db 55\nmain;handle;json 20\nmain;tick 3\n')
  const series = await c.series({ matchers: ['{service_name="spans"}'], ...range })
  assert.equal(series.labelsSet.length, 1, 'one series: span ids are not series labels')
  const names = await c.labelNames({ matchers: ['{service_name="spans"}'], ...range })
  assert.ok(!names.names.includes('span_id'), names.names.join(','))
  // SelectMergeStacktraces takes a span selector too (its field 11).
  const b = await c.selectMergeStacktraces({ ...req([B]), format: ProfileFormat.FLAMEGRAPH })
  assert.equal(folded(b.flamegraph), 'main;handle;db 5\nmain;handle;json 20\n')
})

test('span_name is a series label, as in Pyroscope; span ids select across its series', async () => {
  const c = querier()
  const names = await c.labelValues({ name: 'span_name', matchers: ['{service_name="named"}'], ...range })
  assert.deepEqual(names.names, ['GET /checkout', 'GET /search'])
  const one = await c.selectMergeSpanProfile({ ...req([B]), labelSelector: '{service_name="named"}' })
  assert.equal(folded(one.flamegraph), 'main;search 12\n')
  const byName = await c.selectMergeStacktraces({ profileTypeID: CPU, labelSelector: '{span_name="GET /checkout"}', ...range })
  assert.equal(folded(byName.flamegraph), 'main;checkout 30\n')
})

test('a malformed span id is invalid_argument naming it, over Connect JSON too', async () => {
  const e = await querier()
    .selectMergeSpanProfile(req([A, 'xyz']))
    .catch((x) => x)
  assert.equal(e.code, Code.InvalidArgument)
  assert.match(e.message, /span id "xyz" is not a span id: give 16 hex digits/)
  const r = await call(`${kiln.url}/querier.v1.QuerierService/SelectMergeSpanProfile`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      profile_typeID: CPU,
      label_selector: '{service_name="spans"}',
      span_selector: [A],
      start: String(now - 600_000),
      end: String(now),
    }),
  })
  assert.equal(r.status, 200, r.text)
  assert.equal(r.json.flamegraph.total, String(50))
  const bad = await call(`${kiln.url}/querier.v1.QuerierService/SelectMergeSpanProfile`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ profileTypeID: CPU, spanSelector: ['0000000000000000'] }),
  })
  assert.equal(bad.status, 400)
  assert.equal(bad.json.code, 'invalid_argument')
})
