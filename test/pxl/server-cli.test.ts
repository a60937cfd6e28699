/** POST /api/v1/pxl/run on a real `kiln server` process, and `kiln px run` as a process against it. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startKiln, call, root, type TestServer } from '../server/helpers.ts'
import { httpRows, mysqlRows } from './helpers.ts'
import { slowQueries } from './scripts.ts'

let kiln: TestServer
let dir: string
const post = (body: unknown, headers: Record<string, string> = {}) =>
  call(`${kiln.url}/api/v1/pxl/run`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
const kilnCli = (args: string[]) => {
  const r = spawnSync(process.execPath, [join(root, 'bin/kiln.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, KILN_SERVER: kiln.url },
    timeout: 60_000,
  })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

before(async () => {
  kiln = await startKiln(['--trace-retention', '0'])
  dir = mkdtempSync(join(tmpdir(), 'kiln-px-'))
  const r = await call(`${kiln.url}/api/v1/trace/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ http_events: httpRows, mysql_events: mysqlRows }),
  })
  assert.equal(r.status, 200, r.text)
})
after(async () => {
  await kiln?.dispose()
  rmSync(dir, { recursive: true, force: true })
})

const byService = `import px

def by_service(start_time: str, ns: px.Namespace = 'production'):
    df = px.DataFrame('http_events', start_time=start_time)
    df = df[df.ctx['namespace'] == ns]
    df = df.groupby('service').agg(requests=('time_', px.count), errors=('resp_status', lambda x: (x >= 400).sum()))
    return df.sort_values('service')
`

test('POST /api/v1/pxl/run: tables with typed columns and rows, compile and run times', async () => {
  const r = await post({ script: slowQueries })
  assert.equal(r.status, 200, r.text)
  assert.deepEqual(Object.keys(r.json).sort(), ['compileMs', 'runMs', 'tables'])
  assert.deepEqual(r.json.tables, [
    {
      name: 'slow_queries',
      columns: [
        { name: 'query_text', type: 'STRING', semanticType: 'ST_NONE' },
        { name: 'count', type: 'INT64', semanticType: 'ST_NONE' },
        { name: 'avg_latency', type: 'FLOAT64', semanticType: 'ST_NONE' },
        { name: 'max_latency', type: 'FLOAT64', semanticType: 'ST_NONE' },
      ],
      rows: [
        ['SELECT * FROM orders WHERE id = 1', 2, 200, 250],
        ['UPDATE carts SET n = 2', 1, 120, 120],
      ],
      truncated: false,
    },
  ])
  const f = await post({ script: byService, func: 'by_service', args: { start_time: '2026-03-01T00:00:00Z', ns: 'staging' } })
  assert.deepEqual(f.json.tables[0].rows, [['staging/frontend', 2, 1]])
})

test('script errors are 400 with code, message, line and column; bad bodies are 400; never a 500', async () => {
  const e = await post({ script: "import px\ndf = px.DataFrame('http_event')\npx.display(df)" })
  assert.equal(e.status, 400)
  assert.deepEqual(e.json, {
    code: 'KILN_PXL',
    message: e.json.message,
    line: 2,
    column: 19,
    name: 'http_event',
    suggestions: ['http_events'],
  })
  assert.match(e.json.message, /^2:19: unknown table 'http_event' \(did you mean 'http_events'\?\)/)
  for (const [body, re] of [
    ['{', /body is not JSON/],
    [[1], /expected a JSON object/],
    [{}, /"script" is required/],
    [{ script: 'import px', args: { a: [1] } }, /argument "a" is a string, number or boolean/],
    [{ script: 'import px', func: 'a b' }, /"func" is the name of a function/],
    [{ script: 'import px', maxRows: 0 }, /"maxRows" is an integer/],
    [{ script: 'import px', scrpt: 1 }, /unknown field "scrpt"/],
  ] as const) {
    const r = await post(body)
    assert.equal(r.status, 400, JSON.stringify(body))
    assert.match(r.json.message, re)
  }
  const syntax = await post({ script: 'import px\ndf = px.DataFrame(\n' })
  assert.equal(syntax.status, 400)
  assert.equal(syntax.json.code, 'KILN_PXL')
  assert.equal(syntax.json.line, 2)
})

test('GET /api/v1/pxl/catalog lists tables with stored and derived columns, px functions and ctx keys', async () => {
  const r = await call(`${kiln.url}/api/v1/pxl/catalog`)
  assert.equal(r.status, 200)
  const http = r.json.tables.find((t: { name: string }) => t.name === 'http_events')
  assert.ok(http.columns.some((c: { name: string; derived: boolean }) => c.name === 'latency_ms' && c.derived))
  assert.ok(http.columns.some((c: { name: string; derived: boolean }) => c.name === 'resp_status' && !c.derived))
  assert.ok(r.json.functions.some((f: { name: string; kind: string }) => f.name === 'px.quantiles' && f.kind === 'aggregate'))
  assert.ok(r.json.functions.some((f: { name: string }) => f.name === 'px.DataFrame'))
  assert.ok(r.json.ctxKeys.includes('pod'))
})

test('kiln px run FILE prints each displayed table; -o json and -o csv; arguments after --', () => {
  const file = join(dir, 'slow.pxl')
  writeFileSync(file, slowQueries)
  let r = kilnCli(['px', 'run', file])
  assert.equal(r.code, 0, r.err)
  assert.equal(
    r.out,
    [
      'slow_queries (2 rows)',
      'query_text                         count  avg_latency  max_latency',
      'SELECT * FROM orders WHERE id = 1  2      200          250',
      'UPDATE carts SET n = 2             1      120          120',
      '',
    ].join('\n'),
  )
  r = kilnCli(['px', 'run', file, '-o', 'json'])
  assert.equal(JSON.parse(r.out).tables[0].rows.length, 2)
  const fn = join(dir, 'svc.pxl')
  writeFileSync(fn, byService)
  r = kilnCli(['px', 'run', fn, '-o', 'csv', '--', '--start_time=2026-03-01T00:00:00Z', '--ns', 'production'])
  assert.equal(r.code, 0, r.err)
  assert.equal(r.out, 'service,requests,errors\nproduction/checkout,4,1\nproduction/frontend,6,2\n')
  const times = join(dir, 'times.pxl')
  writeFileSync(
    times,
    "import px\ndf = px.DataFrame('http_events')\ndf = df[df.req_path == '/api/pay']\npx.display(df[['time_', 'latency']], 'pay')\npx.display(df[['req_method']], 'method')",
  )
  r = kilnCli(['px', 'run', times, '-o', 'csv'])
  assert.equal(r.out, '# pay\ntime_,latency\n2026-03-02T10:00:11.000000000Z,100000000\n\n# method\nreq_method\nPOST\n')
})

test('kiln px run: script errors and usage mistakes exit non-zero with the message', () => {
  const bad = join(dir, 'bad.pxl')
  writeFileSync(bad, "import px\ndf = px.DataFrame('http_events')\ndf = df[df.latncy > 5]\npx.display(df)\n")
  let r = kilnCli(['px', 'run', bad])
  assert.equal(r.code, 1)
  assert.match(r.err, /kiln: server answered 400: 3:12: unknown column 'latncy' \(did you mean 'latency'\?\)/)
  assert.doesNotMatch(r.err, /\n\s+at /)
  r = kilnCli(['px', 'run', join(dir, 'missing.pxl')])
  assert.equal(r.code, 2)
  assert.match(r.err, /no such script file/)
  r = kilnCli(['px', 'run', bad, '-o', 'xml'])
  assert.equal(r.code, 2)
  assert.match(r.err, /unknown -o xml/)
  r = kilnCli(['px', 'walk'])
  assert.equal(r.code, 2)
  assert.match(r.err, /unknown subcommand 'walk'/)
})
