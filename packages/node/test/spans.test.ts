/**
 * Span profiles end to end (issue 11 §5): an app traced with the OpenTelemetry Node SDK and
 * profiled by @kiln/node (`spanProfiles: true`) pushes to a real `kiln server`; SelectMergeSpanProfile
 * with a request's span id answers a flame graph holding the function that request burned, and
 * not the functions burned under the other spans or outside any span; `span_name`, the request's
 * root span's name, selects the request's work with its child spans'.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { createClient } from '@connectrpc/connect'
import { createConnectTransport } from '@connectrpc/connect-node'
import { startKiln } from '../../../test/server/helpers.ts'
import { QuerierService } from '../../../src/server/rpc/gen/querier/v1/querier_pb.ts'
import { root, runApp } from './support.ts'

// The app lives in a temporary directory: it imports the OpenTelemetry packages by path, the very
// files the SDK's own import('@opentelemetry/api') resolves to.
const req = createRequire(`${root}/package.json`)
const otelApi = req.resolve('@opentelemetry/api')
const otelNode = req.resolve('@opentelemetry/sdk-trace-node')

// Each request awaits before and between its chunks of work, so the span must follow it across
// continuations, not only through startActiveSpan's synchronous call. Work is measured in CPU
// time (process.cpuUsage), not wall time: a loaded machine takes longer, never gets fewer samples.
// Every change of span is behind 20 ms of idle: on a machine at load 20 the V8 sample times drift a
// few ms from the label timeline (push.test.ts' asyncLabels case mislabels ~5 ms per switch there),
// and idle time holds no burn* sample to mislabel.
const app = `
import { init, start, stop, stats } from SDK
import { trace } from ${JSON.stringify(otelApi)}
import { NodeTracerProvider } from ${JSON.stringify(otelNode)}
import { createServer } from 'node:http'

function burn(ms) { const end = process.cpuUsage().user / 1000 + ms; let x = 0; while (process.cpuUsage().user / 1000 < end) for (let i = 0; i < 1e5; i++) x += Math.sqrt(i + x); return x }
function burnCheckout(ms) { return burn(ms) }
function burnQuery(ms) { return burn(ms) }
function burnSearch(ms) { return burn(ms) }
function burnUntraced(ms) { return burn(ms) }
const tick = () => new Promise((r) => setTimeout(r, 20))

new NodeTracerProvider().register()
const tracer = trace.getTracer('kiln-span-test')
init({ appName: 'span-app', flushIntervalMs: 60000, heap: false, spanProfiles: true })
await start()

const ids = {}
const attrs = {}
const server = createServer((rq, res) =>
  tracer.startActiveSpan('GET ' + rq.url, async (span) => {
    const route = rq.url.slice(1)
    ids[route] = span.spanContext().spanId
    for (let i = 0; i < 10; i++) {
      await tick()
      if (route === 'checkout') burnCheckout(25)
      else burnSearch(25)
    }
    if (route === 'checkout')
      await tracer.startActiveSpan('db query', async (child) => {
        ids.query = child.spanContext().spanId
        for (let i = 0; i < 10; i++) { await tick(); burnQuery(25) }
        child.end()
      })
    span.end()
    attrs[route] = span.attributes['pyroscope.profile.id']
    res.end('ok')
  }),
)
await new Promise((r) => server.listen(0, '127.0.0.1', r))
const base = 'http://127.0.0.1:' + server.address().port
await (await fetch(base + '/checkout')).text()
for (let i = 0; i < 10; i++) { await tick(); burnUntraced(25) }
await (await fetch(base + '/search')).text()
server.close()
await stop()
console.log(JSON.stringify({ ids, attrs, ...stats() }))
`

const CPU = 'process_cpu:cpu:nanoseconds:wall:nanoseconds'

test('a traced request gets its own flame graph through SelectMergeSpanProfile', async () => {
  const kiln = await startKiln()
  try {
    const from = Date.now() - 60_000
    const r = await runApp(app, { PYROSCOPE_SERVER_ADDRESS: kiln.url }, 120_000)
    assert.equal(r.code, 0, r.err)
    const { ids, attrs, sent, dropped } = JSON.parse(r.out) as {
      ids: Record<string, string>
      attrs: Record<string, string>
      sent: number
      dropped: number
    }
    assert.ok(sent >= 1 && dropped === 0, r.out)
    assert.deepEqual(Object.keys(ids).sort(), ['checkout', 'query', 'search'])
    // Grafana offers a span's profile when the span carries pyroscope.profile.id: its own id.
    assert.deepEqual(attrs, { checkout: ids.checkout, search: ids.search })

    const querier = createClient(QuerierService, createConnectTransport({ baseUrl: kiln.url, httpVersion: '1.1' }))
    const range = { start: BigInt(from), end: BigInt(Date.now() + 60_000) }
    const functions = async (spans: string[], profileTypeID = CPU) => {
      const res = await querier.selectMergeSpanProfile({
        profileTypeID,
        labelSelector: '{service_name="span-app"}',
        spanSelector: spans,
        ...range,
      })
      // Frames are "function file:line"; the burn* functions are what the test looks for.
      return new Set(res.flamegraph!.names.map((n) => n.split(' ')[0]!).filter((n) => n.startsWith('burn') && n !== 'burn'))
    }
    assert.deepEqual([...(await functions([ids.checkout!]))], ['burnCheckout'])
    assert.deepEqual([...(await functions([ids.search!]))], ['burnSearch'])
    // A child span is its own: the parent's graph holds only the parent's own work.
    assert.deepEqual([...(await functions([ids.query!]))], ['burnQuery'])
    assert.deepEqual([...(await functions([ids.checkout!, ids.query!]))].sort(), ['burnCheckout', 'burnQuery'])
    // Wall samples carry the span too.
    assert.deepEqual([...(await functions([ids.search!], 'wall:wall:nanoseconds:wall:nanoseconds'))], ['burnSearch'])
    // The merge of everything has the untraced work as well: spans select, they do not split.
    const merged = async (labelSelector: string) => {
      const res = await querier.selectMergeStacktraces({ profileTypeID: CPU, labelSelector, ...range })
      return [...new Set(res.flamegraph!.names.map((n) => n.split(' ')[0]!).filter((n) => n.startsWith('burn') && n !== 'burn'))]
    }
    assert.ok((await merged('{service_name="span-app"}')).includes('burnUntraced'))
    // span_name is the request's root span's name, on its child spans' samples too (as
    // Pyroscope's OpenTelemetry integrations label them): a series per root span name.
    assert.deepEqual((await merged('{service_name="span-app", span_name="GET /checkout"}')).sort(), ['burnCheckout', 'burnQuery'])
    assert.deepEqual(await merged('{service_name="span-app", span_name="GET /search"}'), ['burnSearch'])
    assert.deepEqual(await merged('{service_name="span-app", span_name=""}'), ['burnUntraced'])
    const names = await querier.labelValues({ name: 'span_name', matchers: ['{service_name="span-app"}'], ...range })
    assert.deepEqual(names.names, ['GET /checkout', 'GET /search'])
  } finally {
    await kiln.dispose()
  }
})

test('without @opentelemetry/api, spanProfiles logs why and profiling goes on', async () => {
  const kiln = await startKiln()
  try {
    // A loader hook that makes the optional peer unresolvable, as in an app that lacks it.
    const r = await runApp(
      `
import { register } from 'node:module'
register('data:text/javascript,' + encodeURIComponent(\`export async function resolve(s, c, next) { if (s === '@opentelemetry/api') throw new Error("Cannot find package '@opentelemetry/api'"); return next(s, c) }\`))
const { init, start, stop, stats } = await import(SDK)
init({ appName: 'span-none', flushIntervalMs: 60000, heap: false, spanProfiles: true })
await start()
let x = 0
const end = Date.now() + 300
while (Date.now() < end) x += Math.sqrt(x + 1)
await stop()
console.log(JSON.stringify(stats()))
`,
      { PYROSCOPE_SERVER_ADDRESS: kiln.url },
    )
    assert.equal(r.code, 0, r.err)
    assert.match(r.err, /spanProfiles needs @opentelemetry\/api \(npm install @opentelemetry\/api\).*profiling without span ids/)
    assert.equal(JSON.parse(r.out).sent, 1, r.out)
  } finally {
    await kiln.dispose()
  }
})
