/** The bundled library and script folders through the server (`POST /api/v1/pxl/run` with name or vis, `GET /api/v1/pxl/scripts`) and `kiln px` as a process. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startKiln, call, root, type TestServer } from '../server/helpers.ts'

let kiln: TestServer
let dir: string
const post = (body: unknown) =>
  call(`${kiln.url}/api/v1/pxl/run`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
const kilnCli = (args: string[]) => {
  const r = spawnSync(process.execPath, [join(root, 'bin/kiln.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, KILN_SERVER: kiln.url },
    timeout: 60_000,
  })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

// A minute ago: inside the library's default window (-5m).
const base = (BigInt(Date.now()) - 60_000n) * 1_000_000n
const row = (i: number, path: string, status: number, latencyMs: number) => ({
  time_: String(base + BigInt(i) * 1_000_000n),
  trace_role: 2,
  service: 'api',
  req_method: 'GET',
  req_path: path,
  resp_status: status,
  latency: latencyMs * 1_000_000,
  remote_addr: '127.0.0.1',
})

before(async () => {
  kiln = await startKiln()
  dir = mkdtempSync(join(tmpdir(), 'kiln-pxlib-'))
  const rows = [row(1, '/search?q=a', 200, 5), row(2, '/search?q=b', 200, 7), row(3, '/search', 500, 9), row(4, '/login', 200, 300)]
  const r = await call(`${kiln.url}/api/v1/trace/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ http_events: rows }),
  })
  assert.equal(r.status, 200, r.text)
})
after(async () => {
  await kiln?.dispose()
  rmSync(dir, { recursive: true, force: true })
})

test('GET /api/v1/pxl/scripts lists the bundled library with each script, vis.json and description', async () => {
  const r = await call(`${kiln.url}/api/v1/pxl/scripts`)
  assert.equal(r.status, 200)
  const names = r.json.map((s: { name: string }) => s.name)
  for (const n of [
    'px/http_data',
    'px/http_request_stats',
    'px/service_stats',
    'px/net_flow_graph',
    'px/disk_io_stats',
    'px/perf_flamegraph',
  ])
    assert.ok(names.includes(n), n)
  const stats = r.json.find((s: { name: string }) => s.name === 'px/service_stats')
  assert.match(stats.script, /def service_timeseries/)
  assert.ok(stats.vis.widgets.length >= 2 && stats.short)
})

test('POST {name: "px/…", args} runs every function its vis.json calls; {script, vis} runs a folder sent whole', async () => {
  const r = await post({ name: 'px/http_request_stats', args: { svc: 'api' } })
  assert.equal(r.status, 200, r.text)
  const t = r.json.tables[0]
  assert.equal(t.name, 'http_request_stats')
  const col = (n: string) => t.columns.findIndex((c: { name: string }) => c.name === n)
  const byEndpoint = Object.fromEntries(t.rows.map((x: unknown[]) => [x[col('endpoint')], [x[col('requests')], x[col('errors')]]]))
  assert.deepEqual(byEndpoint, { '/search': [3, 1], '/login': [1, 0] })
  assert.ok(t.widgets?.length, 'tables carry the widgets that show them')
  const two = await post({ name: 'px/service_stats', args: { window: '1m' } })
  assert.deepEqual(
    two.json.tables.map((x: { name: string }) => x.name),
    ['service_timeseries', 'service_summary'],
  )
  const vis = {
    variables: [{ name: 'min_ms', type: 'PX_INT64', defaultValue: { value: '100' } }],
    globalFuncs: [{ outputName: 'slow', func: { name: 'slow', args: [{ name: 'min_ms', variable: 'min_ms' }] } }],
    widgets: [{ globalFuncOutputName: 'slow' }],
  }
  const script =
    "import px\ndef slow(min_ms: int):\n    df = px.DataFrame('http_events', start_time='-5m')\n    df = df[df.latency_ms >= min_ms]\n    return df[['req_path']]\n"
  const f = await post({ script, vis })
  assert.equal(f.status, 200, f.text)
  assert.deepEqual(f.json.tables[0].rows, [['/login']])
  const f2 = await post({ script, vis, args: { min_ms: 1 } })
  assert.equal(f2.json.tables[0].rows.length, 4)
})

test('bad library requests are 4xx that say what to send', async () => {
  const cases: [unknown, number, RegExp][] = [
    [{ name: 'px/nope' }, 404, /no bundled script px\/nope; `kiln px scripts` lists them/],
    [{ name: 'px/http_data', script: 'x' }, 400, /"name" is a bundled script .* given alone/],
    [{ name: 'px/http_data', func: 'f' }, 400, /"func" and "maxRows" go with "script" alone/],
    [{ name: 'px/http_data', args: { nope: '1' } }, 400, /unknown argument --nope; this script takes --start_time, --svc, --num_head/],
    [{ name: 'px/http_data', args: { num_head: 'ten' } }, 400, /--num_head: expected a whole number, got "ten"/],
    [{ vis: {} }, 400, /"vis" needs its "script"/],
    [{ script: 'import px', vis: { widgets: [{}] } }, 400, /vis: widgets\[0\] needs a func or a globalFuncOutputName/],
  ]
  for (const [body, status, re] of cases) {
    const r = await post(body)
    assert.equal(r.status, status, `${JSON.stringify(body)} → ${r.text}`)
    assert.match(r.json.message, re)
  }
})

test('kiln px scripts, kiln px run px/NAME and kiln px run DIR (Pixie layout) as a user runs them', () => {
  const list = kilnCli(['px', 'scripts'])
  assert.equal(list.code, 0, list.err)
  assert.match(list.out, /^px\/dns_data\s+DNS queries$/m)
  assert.match(list.out, /^px\/service_stats\s+Service statistics$/m)
  const one = kilnCli(['px', 'scripts', 'px/slow_http_requests'])
  assert.match(one.out, /--min_latency_ms {2}PX_FLOAT64 \(default "100"\)/)
  const run = kilnCli(['px', 'run', 'px/slow_http_requests', '-o', 'csv', '--', '--min_latency_ms=100'])
  assert.equal(run.code, 0, run.err)
  assert.match(
    run.out,
    /^time_,service,trace_role,remote_addr,req_method,req_path,resp_status,latency_ms\n.*,api,2,127\.0\.0\.1,GET,\/login,200,300\n$/,
  )
  const folder = join(dir, 'errors')
  mkdirSync(folder)
  writeFileSync(
    join(folder, 'errors.pxl'),
    "import px\n\ndef errors(start: str):\n    df = px.DataFrame('http_events', start_time=start)\n    df = df[df.resp_status >= 500]\n    return df.groupby('endpoint').agg(n=('latency', px.count))\n",
  )
  writeFileSync(
    join(folder, 'vis.json'),
    JSON.stringify({
      variables: [{ name: 'start', type: 'PX_STRING', defaultValue: { value: '-5m' } }],
      globalFuncs: [{ outputName: 'errors_by_endpoint', func: { name: 'errors', args: [{ name: 'start', variable: 'start' }] } }],
      widgets: [{ globalFuncOutputName: 'errors_by_endpoint' }],
    }),
  )
  const d = kilnCli(['px', 'run', folder])
  assert.equal(d.code, 0, d.err)
  assert.equal(d.out, 'errors_by_endpoint (1 row)\nendpoint  n\n/search   1\n')
  const bad = kilnCli(['px', 'run', 'px/no_such'])
  assert.equal(bad.code, 1)
  assert.match(bad.err, /no bundled script px\/no_such/)
  const badArg = kilnCli(['px', 'run', folder, '--', '--stat=-1m'])
  assert.equal(badArg.code, 1)
  assert.match(badArg.err, /unknown argument --stat; this script takes --start/)
  const withFunc = kilnCli(['px', 'run', folder, '--func', 'errors'])
  assert.equal(withFunc.code, 2)
  assert.match(withFunc.err, /--func goes with a .pxl file/)
})
