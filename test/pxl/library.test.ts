/** The bundled script library (pxl/px/*) and Pixie's folder layout, run on recorded rows in a real store. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openFixture, objects, T0, NOW, TENANT, frontend, checkout, stagingWeb, type Fixture } from './helpers.ts'
import { checkTraceBatch } from '../../src/model/trace-rows.ts'
import { compilePxl } from '../../src/pxl/compile.ts'
import { bundledScript, bundledScripts, parseVis, readScriptFolder, runFolder, visCalls } from '../../src/pxl/library.ts'

const sec = 1_000_000_000n
const ms = 1_000_000
let fx: Fixture

before(async () => {
  fx = await openFixture()
  const at = (s: bigint) => String(T0 + s * sec)
  const { batch } = checkTraceBatch({
    dns_events: [
      {
        time_: at(7n),
        ...frontend,
        remote_addr: '127.0.0.53',
        remote_port: 53,
        trace_role: 1,
        req_header: '{"txid":7}',
        req_body: '{"queries":[{"name":"db.internal","type":"A"}]}',
        resp_header: '{"txid":7,"rcode":0}',
        resp_body: '{"answers":[{"name":"db.internal","type":"A","addr":"10.0.0.20"}]}',
        latency: 3 * ms,
      },
    ],
    redis_events: [
      {
        time_: at(8n),
        ...checkout,
        remote_addr: '10.0.0.30',
        remote_port: 6379,
        trace_role: 1,
        req_cmd: 'GET',
        req_args: '["cart:1"]',
        resp: '"3"',
        latency: ms,
      },
    ],
    pgsql_events: [
      {
        time_: at(9n),
        ...frontend,
        remote_addr: '10.0.0.20',
        remote_port: 5432,
        trace_role: 1,
        req_cmd: 'Query',
        req: 'SELECT 1',
        resp: 'SELECT 1',
        latency: 2 * ms,
      },
    ],
    // CPU counters grow by 2 s (frontend) and 0.5 s (checkout) between two readings 10 s apart.
    process_stats: [
      { time_: at(0n), ...frontend, cpu_utime_ns: 1e9, cpu_ktime_ns: 0, rss_bytes: 100e6, num_threads: 8, rchar_bytes: 0, wchar_bytes: 0 },
      {
        time_: at(10n),
        ...frontend,
        cpu_utime_ns: 2.5e9,
        cpu_ktime_ns: 0.5e9,
        rss_bytes: 120e6,
        num_threads: 9,
        rchar_bytes: 4096,
        wchar_bytes: 100,
      },
      { time_: at(0n), ...checkout, cpu_utime_ns: 0, cpu_ktime_ns: 0, rss_bytes: 50e6, num_threads: 2 },
      { time_: at(10n), ...checkout, cpu_utime_ns: 0.5e9, cpu_ktime_ns: 0, rss_bytes: 50e6, num_threads: 2 },
      { time_: at(10n), ...stagingWeb, cpu_utime_ns: 7e9, cpu_ktime_ns: 0, rss_bytes: 10e6, num_threads: 1 },
    ],
    block_io_events: [
      { time_: at(3n), ...checkout, major: 8, minor: 0, op: 'W', bytes: 4096, sector: 10, latency: 200_000 },
      { time_: at(4n), ...checkout, major: 8, minor: 0, op: 'W', bytes: 8192, sector: 20, latency: 400_000 },
      { time_: at(5n), ...checkout, major: 8, minor: 0, op: 'R', bytes: 512, sector: 30, latency: 100_000 },
    ],
    fs_slow_events: [
      { time_: at(6n), ...checkout, op: 'F', bytes: 0, offset: -1, file: 'wal.log', latency: 25 * ms },
      { time_: at(7n), ...checkout, op: 'W', bytes: 1 << 20, offset: 0, file: 'data.db', latency: 12 * ms },
    ],
  })
  await fx.store.trace.insert(TENANT, batch)
  // Two CPU profiles of checkout (pid 202) as the profiling agent stores them, and a heap profile
  // that stack_traces.beta must leave out.
  const cpu = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds'
  const labels = (type: string) =>
    [
      ['__name__', type.split(':')[0]!],
      ['namespace', 'production'],
      ['pid', '202'],
      ['pod', 'checkout-5c4'],
      ['service_name', 'checkout'],
    ] as const
  const profile = (type: string, at: bigint, values: number[]) => ({
    profileType: type,
    labels: labels(type),
    timeMs: Number((T0 + at * sec) / 1_000_000n),
    durationNs: 10e9,
    functions: ['', 'main', 'handle', 'json.encode', 'sleep'],
    stacks: [
      [1, 2, 3],
      [1, 2],
      [1, 4],
    ],
    values,
  })
  await fx.store.writer.write(TENANT, [
    profile(cpu, 1n, [30, 10, 0]),
    profile(cpu, 11n, [50, 0, 10]),
    profile('memory:inuse_space:bytes:space:bytes', 1n, [1000, 1000, 1000]),
  ])
})
after(() => fx.close())

const run = (name: string, given: Record<string, string> = {}) =>
  runFolder(fx.runner, TENANT, bundledScript(name), { start_time: '-10m', ...given }, NOW)
const table = async (name: string, output: string, given: Record<string, string> = {}) => {
  const r = await run(name, given)
  const t = r.tables.find((x) => x.name === output)
  assert.ok(t, `${name} has no output ${output}; outputs: ${r.tables.map((x) => x.name).join(', ')}`)
  return objects(t)
}
const pick = (rows: Record<string, unknown>[], keys: string[]) => rows.map((r) => Object.fromEntries(keys.map((k) => [k, r[k]])))

test('every bundled script has a manifest and a vis.json, and every call in it compiles with its defaults', () => {
  const all = bundledScripts()
  assert.ok(all.length >= 16, `only ${all.length} bundled scripts`)
  for (const s of all) {
    assert.ok(s.short, `${s.name}: manifest.yaml has no short description`)
    assert.ok(s.vis, `${s.name}: no vis.json`)
    const calls = visCalls(s.vis)
    assert.ok(calls.length > 0, `${s.name}: vis.json calls nothing`)
    for (const c of calls) {
      const compiled = compilePxl(s.script, { func: c.func, args: c.args })
      assert.equal(compiled.tables.length, 1, `${s.name} ${c.func}`)
      assert.ok(c.widgets.length > 0, `${s.name}: output ${c.output} is shown by no widget`)
    }
  }
})

test('px/http_request_stats: per service and endpoint (query strings cut), served requests only', async () => {
  const rows = await table('px/http_request_stats', 'http_request_stats')
  assert.deepEqual(pick(rows, ['service', 'req_method', 'endpoint', 'requests', 'errors', 'error_rate']), [
    { service: 'production/checkout', req_method: 'GET', endpoint: '/checkout', requests: 2, errors: 0, error_rate: 0 },
    { service: 'production/checkout', req_method: 'POST', endpoint: '/checkout', requests: 1, errors: 1, error_rate: 1 },
    { service: 'production/frontend', req_method: 'GET', endpoint: '/api/cart', requests: 4, errors: 2, error_rate: 0.5 },
    { service: 'production/frontend', req_method: 'POST', endpoint: '/api/pay', requests: 1, errors: 0, error_rate: 0 },
    { service: 'staging/frontend', req_method: 'GET', endpoint: '/api/cart', requests: 2, errors: 1, error_rate: 0.5 },
  ])
  const cart = rows.find((r) => r.endpoint === '/api/cart' && r.service === 'production/frontend')!
  assert.ok(
    (cart.p50_ms as number) >= 1 &&
      (cart.p50_ms as number) <= 40 &&
      (cart.p99_ms as number) <= 40 &&
      (cart.p99_ms as number) >= (cart.p50_ms as number),
    JSON.stringify(cart),
  )
  const onlyCheckout = await table('px/http_request_stats', 'http_request_stats', { svc: 'check' })
  assert.deepEqual([...new Set(onlyCheckout.map((r) => r.service))], ['production/checkout'])
})

test('px/service_edge_stats: requestor → responder from either side of the connection', async () => {
  const rows = await table('px/service_edge_stats', 'service_edges')
  assert.deepEqual(pick(rows, ['requestor', 'responder', 'requests']), [
    { requestor: '10.0.0.9', responder: 'production/checkout', requests: 3 },
    { requestor: '10.0.0.9', responder: 'production/frontend', requests: 5 },
    { requestor: '10.0.0.9', responder: 'staging/frontend', requests: 2 },
    { requestor: 'production/checkout', responder: '10.0.0.7', requests: 1 },
  ])
})

test('px/service_stats: a time series in windows and a summary per service', async () => {
  const r = await run('px/service_stats', { window: '10s' })
  const ts = objects(r.tables.find((t) => t.name === 'service_timeseries')!)
  const checkoutWindows = ts.filter((x) => x.service === 'production/checkout')
  // checkout served requests at +12 s, +13 s (one window) and +21 s (the next).
  assert.deepEqual(
    checkoutWindows.map((x) => x.rps),
    [0.2, 0.1],
  )
  assert.ok(
    r.tables.find((t) => t.name === 'service_timeseries')!.widgets!.some((w) => w.displaySpec?.['@type']?.endsWith('TimeseriesChart')),
  )
  const summary = objects(r.tables.find((t) => t.name === 'service_summary')!)
  assert.deepEqual(pick(summary, ['service', 'requests']), [
    { service: 'production/checkout', requests: 3 },
    { service: 'production/frontend', requests: 5 },
    { service: 'staging/frontend', requests: 2 },
  ])
})

test('px/http_data and px/slow_http_requests: newest first, slow ones above the threshold', async () => {
  const data = await run('px/http_data', { num_head: '3' })
  const t = data.tables[0]!
  assert.equal(t.rows.length, 3)
  const times = t.rows.map((r) => BigInt(r[t.columns.findIndex((c) => c.name === 'time_')] as string))
  assert.deepEqual(
    times,
    [...times].sort((a, b) => (a < b ? 1 : -1)),
  )
  const slow = await table('px/slow_http_requests', 'slow_http_requests', { min_latency_ms: '90' })
  assert.deepEqual(pick(slow, ['req_path', 'latency_ms']), [
    { req_path: '/api/pay', latency_ms: 100 },
    { req_path: '/checkout', latency_ms: 250 },
  ])
})

test('px/mysql_stats and px/mysql_data: statements counted and sorted', async () => {
  const rows = await table('px/mysql_stats', 'mysql_stats', { min_latency_ms: '100' })
  assert.deepEqual(pick(rows, ['req_body', 'count', 'errors', 'max_ms']), [
    { req_body: 'SELECT * FROM orders WHERE id = 1', count: 2, errors: 0, max_ms: 250 },
    { req_body: 'SELECT * FROM slow', count: 1, errors: 0, max_ms: 900 },
    { req_body: 'UPDATE carts SET n = 2', count: 1, errors: 0, max_ms: 120 },
  ])
  assert.equal((await table('px/mysql_data', 'mysql_data')).length, 5)
})

test('px/net_flow_graph: traffic in the window is the growth of the cumulative counters', async () => {
  const rows = await table('px/net_flow_graph', 'net_flow_graph')
  assert.deepEqual(pick(rows, ['from_entity', 'to_entity', 'bytes_sent', 'bytes_recv', 'connections']), [
    { from_entity: 'production/checkout', to_entity: '10.0.0.30', bytes_sent: 100, bytes_recv: 100, connections: 1 },
    { from_entity: 'production/frontend', to_entity: '10.0.0.20', bytes_sent: 2000, bytes_recv: 10000, connections: 3 },
    { from_entity: 'staging/frontend', to_entity: '10.0.0.40', bytes_sent: 0, bytes_recv: 0, connections: 9 },
  ])
  const r = await run('px/net_flow_graph', { ns: 'prod' })
  assert.equal(r.tables[0]!.rows.length, 2)
  assert.ok(r.tables[0]!.widgets!.some((w) => w.displaySpec?.['@type']?.endsWith('Graph')))
})

test('px/dns_data, px/redis_data, px/pgsql_data: one row each with its fields', async () => {
  assert.deepEqual(pick(await table('px/dns_data', 'dns_data'), ['service', 'latency_ms']), [
    { service: 'production/frontend', latency_ms: 3 },
  ])
  const dns = (await table('px/dns_data', 'dns_data'))[0]!
  assert.match(String(dns.query), /db\.internal/)
  assert.match(String(dns.answers), /10\.0\.0\.20/)
  assert.deepEqual(pick(await table('px/redis_data', 'redis_data'), ['service', 'req_cmd', 'req_args', 'resp']), [
    { service: 'production/checkout', req_cmd: 'GET', req_args: '["cart:1"]', resp: '"3"' },
  ])
  assert.deepEqual(pick(await table('px/pgsql_data', 'pgsql_data'), ['req_cmd', 'req', 'latency_ms']), [
    { req_cmd: 'Query', req: 'SELECT 1', latency_ms: 2 },
  ])
})

test('px/namespaces, px/pods, px/pod: CPU in the window from cumulative counters, memory, requests', async () => {
  assert.deepEqual(pick(await table('px/namespaces', 'namespaces'), ['namespace', 'processes', 'cpu_ns', 'rss_bytes']), [
    { namespace: 'production', processes: 2, cpu_ns: 2.5e9, rss_bytes: 170e6 },
    { namespace: 'staging', processes: 1, cpu_ns: 0, rss_bytes: 10e6 },
  ])
  const pods = await table('px/pods', 'pods', { ns: 'production' })
  assert.deepEqual(
    pick(pods, ['pid', 'pod', 'cpu_ms', 'rss_bytes', 'threads', 'read_bytes']),
    [
      { pid: 101, pod: 'production/frontend-7d9', cpu_ms: 2000, rss_bytes: 120e6, threads: 9, read_bytes: 4096 },
      { pid: 202, pod: 'production/checkout-5c4', cpu_ms: 500, rss_bytes: 50e6, threads: 2, read_bytes: 0 },
    ].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
  )
  const pod = await run('px/pod', { pod: 'production/checkout-5c4', window: '10s' })
  const req = objects(pod.tables.find((t) => t.name === 'inbound_requests')!)
  assert.deepEqual(pick(req, ['req_method', 'endpoint', 'requests']), [
    { req_method: 'GET', endpoint: '/checkout', requests: 2 },
    { req_method: 'POST', endpoint: '/checkout', requests: 1 },
  ])
  const res = objects(pod.tables.find((t) => t.name === 'resource_timeseries')!)
  assert.deepEqual(
    res.map((x) => x.rss_bytes),
    [50e6, 50e6],
  )
})

test('px/disk_io_stats: block I/O per process and the slow file-system operations', async () => {
  assert.deepEqual(pick(await table('px/disk_io_stats', 'block_io'), ['pid', 'ios', 'read_bytes', 'write_bytes']), [
    { pid: 202, ios: 3, read_bytes: 512, write_bytes: 12288 },
  ])
  const slow = await run('px/disk_io_stats')
  const fs = slow.tables.find((t) => t.name === 'slow_fs_ops')!
  assert.deepEqual(
    fs.rows.map((r) => r[fs.columns.findIndex((c) => c.name === 'file')]),
    ['wal.log', 'data.db'],
  )
})

test('vis.json variables: defaults, typed values, and errors that say what to pass', () => {
  const vis = parseVis(
    JSON.stringify({
      variables: [
        { name: 'start', type: 'PX_STRING', defaultValue: { value: '-5m' } },
        { name: 'n', type: 'PX_INT64', defaultValue: { value: '10' } },
        { name: 'ratio', type: 'PX_FLOAT64' },
        { name: 'mode', type: 'PX_STRING', defaultValue: { value: 'a' }, validValues: ['a', 'b'] },
        { name: 'on', type: 'PX_BOOLEAN', defaultValue: { value: 'false' } },
      ],
      globalFuncs: [
        {
          outputName: 'out',
          func: {
            name: 'f',
            args: [
              { name: 'start', variable: 'start' },
              { name: 'n', variable: 'n' },
              { name: 'ratio', variable: 'ratio' },
              { name: 'fixed', value: 'x' },
            ],
          },
        },
      ],
      widgets: [
        { name: 'T', globalFuncOutputName: 'out', displaySpec: { '@type': 'types.px.dev/px.vispb.Table' } },
        { name: 'Own', func: { name: 'g', args: [{ name: 'on', variable: 'on' }] } },
      ],
    }),
  )
  const calls = visCalls(vis, { ratio: '0.5', n: '3' })
  assert.deepEqual(
    calls.map((c) => [c.output, c.func, c.args]),
    [
      ['out', 'f', { start: '-5m', n: 3, ratio: 0.5, fixed: 'x' }],
      ['Own', 'g', { on: false }],
    ],
  )
  assert.throws(() => visCalls(vis, {}), /argument --ratio is required/)
  assert.throws(() => visCalls(vis, { ratio: '1', n: '2.5' }), /--n: expected a whole number, got "2.5"/)
  assert.throws(() => visCalls(vis, { ratio: '1', mode: 'c' }), /--mode: "c" is not one of a, b/)
  assert.throws(() => visCalls(vis, { ratio: '1', on: 'maybe' }), /--on: expected true or false/)
  assert.throws(
    () => visCalls(vis, { ratio: '1', nn: '1' }),
    /unknown argument --nn; this script takes --start, --n, --ratio, --mode, --on/,
  )
  assert.throws(() => parseVis('{'), /vis.json: not JSON/)
  assert.throws(() => parseVis('{"widgets":[{"name":"x"}]}'), /widgets\[0\] needs a func or a globalFuncOutputName/)
  assert.throws(
    () => parseVis('{"widgets":[{"globalFuncOutputName":"nope"}]}'),
    /globalFuncOutputName 'nope' is not an outputName of globalFuncs \(none\)/,
  )
  assert.throws(
    () => parseVis('{"globalFuncs":[{"outputName":"o","func":{"name":"f","args":[{"name":"a"}]}}]}'),
    /globalFuncs\[0\].func.args\[0\] needs a variable or a value/,
  )
  assert.throws(() => bundledScript('px/htp_data'), /no bundled script px\/htp_data; `kiln px scripts` lists them: .*px\/http_data/)
})

test('a script folder of the user (Pixie layout) runs like a bundled one; a lone .pxl runs its px.display calls', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-pxl-dir-'))
  try {
    const folder = join(dir, 'errors_by_path')
    mkdirSync(folder)
    writeFileSync(
      join(folder, 'errors.pxl'),
      "import px\n\ndef errors(start: str, min_status: int):\n    df = px.DataFrame('http_events', start_time=start)\n    df = df[df.resp_status >= min_status]\n    return df.groupby('req_path').agg(n=('latency', px.count))\n",
    )
    writeFileSync(
      join(folder, 'vis.json'),
      JSON.stringify({
        variables: [
          { name: 'start', type: 'PX_STRING', defaultValue: { value: '-10m' } },
          { name: 'min_status', type: 'PX_INT64', defaultValue: { value: '500' } },
        ],
        globalFuncs: [
          {
            outputName: 'errors',
            func: {
              name: 'errors',
              args: [
                { name: 'start', variable: 'start' },
                { name: 'min_status', variable: 'min_status' },
              ],
            },
          },
        ],
        widgets: [{ globalFuncOutputName: 'errors' }],
      }),
    )
    writeFileSync(join(folder, 'manifest.yaml'), 'short: Errors by path\n')
    const f = readScriptFolder(folder)
    assert.equal(f.short, 'Errors by path')
    const r = await runFolder(fx.runner, TENANT, f, { min_status: '500' }, NOW)
    assert.deepEqual(objects(r.tables[0]!), [
      { req_path: '/api/cart', n: 2 },
      { req_path: '/checkout', n: 1 },
    ])
    const lone = join(dir, 'one.pxl')
    writeFileSync(lone, "import px\ndf = px.DataFrame('redis_events', start_time='-10m')\npx.display(df[['req_cmd']], 'cmds')\n")
    const r2 = await runFolder(fx.runner, TENANT, readScriptFolder(lone), {}, NOW)
    assert.deepEqual(
      r2.tables.map((t) => [t.name, t.rows]),
      [['cmds', [['GET']]]],
    )
    mkdirSync(join(dir, 'two'))
    writeFileSync(join(dir, 'two', 'a.pxl'), '')
    writeFileSync(join(dir, 'two', 'b.pxl'), '')
    assert.throws(() => readScriptFolder(join(dir, 'two')), /holds exactly one .pxl file \(found a.pxl, b.pxl\)/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('px/perf_flamegraph: the stored CPU profiles as folded stacks with their share (stack_traces.beta)', async () => {
  const rows = await table('px/perf_flamegraph', 'stacks')
  const byStack = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.stack_trace).localeCompare(String(b.stack_trace))
  assert.deepEqual(pick(rows, ['service', 'stack_trace', 'count', 'percent']).sort(byStack), [
    { service: 'production/checkout', stack_trace: 'main;handle', count: 10, percent: 10 },
    { service: 'production/checkout', stack_trace: 'main;handle;json.encode', count: 80, percent: 80 },
    { service: 'production/checkout', stack_trace: 'main;sleep', count: 10, percent: 10 },
  ])
  // Four rows: two stacks per CPU profile (a zero value is not stored); the heap profile is left out.
  const r = await fx.run({
    script:
      "import px\ndf = px.DataFrame('stack_traces.beta', start_time='-10m')\ndf.pid = px.upid_to_pid(df.upid)\npx.display(df.groupby(['pid', 'profile_type']).agg(n=('count', px.count)))",
  })
  assert.deepEqual(objects(r.tables[0]!), [{ pid: 202, profile_type: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds', n: 4 }])
})
