/** PxL features beyond the seed: Pixie's own scripts, joins, functions with arguments, metadata, time windows. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { openFixture, objects, T0, frontend, checkout, type Fixture } from './helpers.ts'
import { httpRequestStats, serviceGraph } from './scripts.ts'
import { checkTraceBatch } from '../../src/model/trace-rows.ts'

let f: Fixture
before(async () => (f = await openFixture()))
after(async () => f?.close())

test("a script in the style of Pixie's px/http_request_stats: quantiles plucked, a windowed rate, a merge with suffixes", async () => {
  const t = (await f.run(httpRequestStats)).tables[0]!
  assert.deepEqual(
    t.columns.map((c) => `${c.name}:${c.type}:${c.semanticType}`),
    [
      'service:STRING:ST_SERVICE_NAME',
      'latency(p50):INT64:ST_DURATION_NS',
      'latency(p90):INT64:ST_DURATION_NS',
      'latency(p99):INT64:ST_DURATION_NS',
      'errors:FLOAT64:ST_PERCENT',
      'throughput:FLOAT64:ST_NONE',
      'throughput total:INT64:ST_NONE',
    ],
  )
  const rows = objects(t)
  assert.deepEqual(
    rows.map((r) => [r.service, r.errors, r['throughput total']]),
    [
      ['production/checkout', 1 / 4, 4],
      ['production/frontend', 2 / 5, 5],
      ['staging/frontend', 1 / 2, 2],
    ],
  )
  const fe = rows.find((r) => r.service === 'production/frontend')!
  assert.equal(fe['latency(p99)'], 100_000_000, 'p99 of 10, 20, 30, 40, 100 ms')
  assert.ok((fe['latency(p50)'] as number) >= 20_000_000 && (fe['latency(p50)'] as number) <= 30_000_000)
  // frontend: 4 requests in the 5 s window at 0–5 s and 1 at 10–15 s → 2.5 per window, per ns of the window.
  assert.equal(fe.throughput, 2.5 / 5e9)
})

test('px.quantiles shows as Pixie JSON with p01…p99 keys', async () => {
  const t = (
    await f.run(`import px
df = px.DataFrame('http_events', start_time='-30m')
df = df[df.ctx['service'] == 'production/frontend']
px.display(df.agg(q=('latency_ms', px.quantiles)), 'q')`)
  ).tables[0]!
  assert.equal(t.columns[0]!.type, 'STRING')
  const q = JSON.parse(t.rows[0]![0] as string)
  assert.deepEqual(Object.keys(q), ['p01', 'p10', 'p50', 'p90', 'p99'])
  assert.equal(q.p99, 100)
  assert.equal(q.p01, 10)
})

test('functions with typed parameters are called with arguments (func + args)', async () => {
  const script = `import px

def http_data(start_time: str, svc: px.Service, num_head: int = 100):
    df = px.DataFrame(table='http_events', start_time=start_time)
    df.svc = df.ctx['service']
    df = df[px.contains(df.svc, svc)]
    df.pod = df.ctx['pod']
    df = df.drop(['upid', 'trace_role', 'content_type', 'minor_version'])
    df = df[['time_', 'pod', 'req_method', 'req_path', 'resp_status', 'latency']]
    return df.head(num_head)
`
  const r = await f.run({ script, func: 'http_data', args: { start_time: '-15m', svc: 'production/checkout', num_head: '2' } })
  const t = r.tables[0]!
  assert.equal(t.name, 'http_data')
  assert.deepEqual(
    t.columns.map((c) => c.name),
    ['time_', 'pod', 'req_method', 'req_path', 'resp_status', 'latency'],
  )
  assert.equal(t.rows.length, 2)
  assert.ok(t.rows.every((row) => row[1] === 'production/checkout-5c4'))
  const all = await f.run({ script, args: { start_time: '-15m', svc: 'frontend' } })
  assert.equal(all.tables[0]!.rows.length, 7, 'the only function runs without naming it; -15m leaves out the hour-old row')
  await assert.rejects(
    f.run({ script, func: 'http_data', args: { start_time: '-5m', svc: 'x', num_head: 'ten' } }),
    /num_head\) is an integer, got 'ten'/,
  )
  await assert.rejects(
    f.run({ script, func: 'http_data', args: { start: '-5m' } }),
    /unknown argument of http_data\(\) 'start' \(did you mean 'start_time'\?\)/,
  )
  await assert.rejects(f.run({ script, func: 'http_data', args: {} }), /missing the argument 'start_time'/)
})

test('time windows: relative start_time, end_time, px.now() arithmetic, px.bin over time_', async () => {
  const count = async (args: string) =>
    (await f.run(`import px\ndf = px.DataFrame('http_events', ${args})\npx.display(df.agg(n=('time_', px.count)))`)).tables[0]!.rows[0]![0]
  assert.equal(await count("start_time='-1h30m'"), 12)
  assert.equal(await count("start_time='-10m'"), 11)
  assert.equal(await count('start_time=px.now() - px.minutes(10), end_time=px.now() - px.seconds(590)'), 6, 'rows in the first 10 s')
  assert.equal(await count(`start_time='2026-03-02T10:00:05Z', end_time='2026-03-02T10:00:12Z'`), 3, 'end_time is exclusive')
  assert.equal(await count(`start_time='${T0 + 5_000_000_000n}'`), 7)
  const t = (
    await f.run(`import px
df = px.DataFrame('http_events', start_time='-10m')
df.window = px.bin(df.time_, px.seconds(10))
df = df.groupby('window').agg(n=('time_', px.count))
px.display(df.sort_values('window'))`)
  ).tables[0]!
  assert.deepEqual(t.rows, [
    [String(T0), 6],
    [String(T0 + 10_000_000_000n), 3],
    [String(T0 + 20_000_000_000n), 2],
  ])
})

test('merge how= left/outer, append, head, sort_values on several columns, drop, df[[...]]', async () => {
  const r = await f.run(`import px
http = px.DataFrame('http_events', start_time='-10m')
http = http.groupby('service').agg(reqs=('time_', px.count))
sql = px.DataFrame('mysql_events', start_time='-10m')
sql = sql.groupby('service').agg(queries=('time_', px.count))
left = http.merge(sql, how='left', left_on='service', right_on='service', suffixes=('', '_db'))
px.display(left.drop('service_db').sort_values(['reqs', 'service'], ascending=[False, True]), 'left')
outer = http.merge(sql, how='outer', left_on='service', right_on='service')
px.display(outer[['service_x', 'service_y']], 'outer')
both = http.append(http)
px.display(both.groupby('service').agg(n=('reqs', px.sum)).sort_values('service').head(2), 'appended')
`)
  const [left, outer, appended] = r.tables
  assert.deepEqual(left!.rows, [
    ['production/frontend', 5, 0],
    ['production/checkout', 4, 4],
    ['staging/frontend', 2, 1],
  ])
  assert.equal(outer!.rows.length, 3)
  assert.deepEqual(appended!.rows, [
    ['production/checkout', 8],
    ['production/frontend', 10],
  ])
})

test('strings and regular expressions: px.regex_match, px.replace, px.pluck, px.select, px.length, and/or/not on columns', async () => {
  const t = (
    await f.run(`import px
df = px.DataFrame('http_events', start_time='-10m')
df = df[px.regex_match('/api/.*', df.req_path) and not (df.resp_status == 404)]
df.path = px.replace('[0-9]+', df.req_path, 'N')
df.kind = px.select(df.resp_status >= 500, 'error', 'ok')
df.doc = '{"a": "x", "n": 2.5}'
df.a = px.pluck(df.doc, 'a')
df.n = px.pluck_float64(df.doc, 'n')
df.len = px.length(df.req_path)
df = df[df.ctx['namespace'] == 'production' or df.ctx['pod'] == 'nothing']
px.display(df[['path', 'kind', 'a', 'n', 'len']].sort_values(['path', 'kind']))`)
  ).tables[0]!
  assert.deepEqual(t.rows, [
    ['/api/cart', 'error', 'x', 2.5, 9],
    ['/api/cart', 'ok', 'x', 2.5, 9],
    ['/api/cart?id=N', 'ok', 'x', 2.5, 14],
    ['/api/cart?id=N', 'ok', 'x', 2.5, 14],
    ['/api/pay', 'ok', 'x', 2.5, 8],
  ])
})

test('metadata: ctx keys, upid helpers, and metadata that follows upid through a groupby', async () => {
  const t = (
    await f.run(`import px
df = px.DataFrame('http_events', start_time='-10m')
df.pid = px.upid_to_pid(df.upid)
df.ns = px.upid_to_namespace(df.upid)
df = df.groupby(['upid', 'pid', 'ns']).agg(n=('time_', px.count))
df.pod = df.ctx['pod']
df.node = df.ctx['node']
df.cmd = df.ctx['cmdline']
px.display(df.drop('upid').sort_values('pid'))`)
  ).tables[0]!
  assert.deepEqual(t.rows, [
    [101, 'production', 5, 'production/frontend-7d9', 'node-1', '/bin/frontend'],
    [202, 'production', 4, 'production/checkout-5c4', 'node-1', '/bin/checkout'],
    [303, 'staging', 2, 'staging/frontend-1aa', 'node-1', '/bin/frontend'],
  ])
})

test('tenants see only their own rows', async () => {
  const r = await f.run("import px\npx.display(px.DataFrame('http_events').agg(n=('time_', px.count)))", 'other')
  assert.deepEqual(r.tables[0]!.rows, [[1]])
})

test('a compiled script is cached: the second run compiles in no time and gives the same rows', async () => {
  const script = "import px\npx.display(px.DataFrame('mysql_events').groupby('service').agg(n=('time_', px.count)))"
  const a = await f.run(script)
  const b = await f.run(script)
  assert.ok(b.compileMs < 1, `cached compile took ${b.compileMs} ms`)
  assert.deepEqual(objects(a.tables[0]!), objects(b.tables[0]!))
})

test('maxRows truncates and says so; px.debug tables are marked', async () => {
  const r = await f.run({
    script: "import px\ndf = px.DataFrame('http_events')\npx.display(df, 'all')\npx.debug(df.head(1), 'peek')",
    maxRows: 3,
  })
  assert.equal(r.tables[0]!.rows.length, 3)
  assert.equal(r.tables[0]!.truncated, true)
  assert.equal(r.tables[1]!.debug, true)
  assert.equal(r.tables[1]!.truncated, false)
})

test("cumulative counters: Pixie's max − min per series reads raw values; px.sum sums increases, also after a filter", async () => {
  const t = (
    await f.run(`import px
df = px.DataFrame('conn_stats', start_time='-10m')
df.pod = df.ctx['pod']
df = df.groupby(['pod', 'upid', 'remote_addr']).agg(lo=('bytes_sent', px.min), hi=('bytes_sent', px.max), n=('bytes_sent', px.sum))
df.sent = df.hi - df.lo
px.display(df[['pod', 'sent', 'n']].sort_values('pod'))
late = px.DataFrame('conn_stats', start_time='-10m')
late = late[late.time_ >= px.now() - px.seconds(595)]
px.display(late.groupby('pod').agg(sent=('bytes_sent', px.sum), raw=('bytes_sent', px.max)).sort_values('pod'), 'late')`)
  ).tables
  assert.deepEqual(t[0]!.rows, [
    ['production/checkout-5c4', 100, 100],
    ['production/frontend-7d9', 2000, 2000],
    ['staging/frontend-1aa', 0, 0],
  ])
  // Only the readings at 10 s and 20 s: frontend grew from 2000 to 3000; checkout has one reading.
  assert.deepEqual(t[1]!.rows, [
    ['production/checkout-5c4', 0, 400],
    ['production/frontend-7d9', 1000, 3000],
  ])
})

test("source_service and dest_service name a peer address by the service seen serving on it (server-side rows' local_addr)", async () => {
  const row = (at: number, p: typeof frontend, role: number, local: string, remote: string) => ({
    time_: String(T0 + BigInt(at) * 1_000_000_000n),
    ...p,
    trace_role: role,
    local_addr: local,
    remote_addr: remote,
    req_path: '/x',
    resp_status: 200,
    latency: 1_000_000,
  })
  const { batch } = checkTraceBatch({
    http_events: [
      row(1, frontend, 2, '10.0.0.7', '10.0.0.5'), // frontend serving a request from checkout's address
      row(2, checkout, 1, '10.0.0.5', '10.0.0.7'), // checkout calling frontend's address
      row(3, checkout, 2, '10.0.0.5', '10.0.0.99'), // an unknown client calling checkout
    ],
  })
  await f.store.trace.insert('mesh', batch)
  const t = (await f.run(serviceGraph, 'mesh')).tables[0]!
  assert.deepEqual(
    objects(t).map((r) => [r.source_service, r.dest_service, r.request_count]),
    [
      ['10.0.0.99', 'production/checkout', 1],
      ['production/checkout', 'production/frontend', 2],
    ],
  )
})
