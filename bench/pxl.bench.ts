/**
 * PxL: a script in the style of Pixie's px/http_request_stats compiled by Kiln against the same query hand-written in
 * ClickHouse SQL, over generated http_events rows in the embedded engine (interleaved runs, so
 * both see the same machine); then the compile time of each script the tests run.
 * `BENCH_ROWS` sets the row count (default 2,000,000; the figure is BENCH_ROWS=10000000).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore } from '../src/store/index.ts'
import { PxlRunner, compilePxl } from '../src/pxl/index.ts'
import { bundledScripts, visCalls } from '../src/pxl/library.ts'
import { httpRequestStats, httpSummary, slowQueries, serviceGraph, podTraffic, dashboard } from '../test/pxl/scripts.ts'
import { fmt } from './support.ts'

const ROWS = Number(process.env.BENCH_ROWS ?? 2_000_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)
const TENANT = 'bench'

const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-pxl-'))
const store = await openStore({ dataDir: dir, retentionDays: 0, traceRetentionHours: 0 })
const nowNs = BigInt(Date.now()) * 1_000_000n
const nowS = Number(nowNs / 1_000_000_000n)

// Generated in the engine (INSERT … SELECT over numbers()): 40 services in 4 namespaces, 8 pods
// each, 20 endpoints, 3% errors, latencies 1–400 ms, spread over the last 20 minutes.
const genStart = performance.now()
await store.client.command({
  query: `INSERT INTO ${store.db}.http_events (tenant, time_, upid, remote_addr, remote_port, trace_role, req_method, req_path, resp_status, latency, namespace, service, pod, container, node, pid, cmdline)
    SELECT '${TENANT}', fromUnixTimestamp64Nano(toInt64(${nowS - 1200}) * 1000000000 + toInt64(number * 1200000000000 / ${ROWS})),
      bitShiftLeft(toUInt128(number % 320), 64) + 1000, concat('10.0.', toString(number % 7), '.', toString(number % 251)), 40000 + number % 1000, 2,
      ['GET', 'POST'][1 + number % 2], concat('/api/v1/item', toString(number % 20), '?id=', toString(number % 1000)),
      if(cityHash64(number) % 100 < 3, 500, 200), toInt64(1000000 * (1 + cityHash64(number, 1) % 400)),
      concat('ns', toString(number % 4)), concat('svc', toString(number % 40)), concat('svc', toString(number % 40), '-', toString(number % 320)),
      concat('svc', toString(number % 40)), 'node-1', toInt64(number % 320), 'app'
    FROM numbers(${ROWS})`,
})
await store.client.command({ query: `OPTIMIZE TABLE ${store.db}.http_events FINAL` })
const genS = (performance.now() - genStart) / 1000

const runner = new PxlRunner(store.client, store.db)
const kiln = async () => (await runner.run(TENANT, { script: httpRequestStats }, nowNs)).tables[0]!.rows.length

// The same question as a person would write it for ClickHouse: the quantiles, error rate and count per
// service joined with the mean requests per 5 s window per service.
const svc = "if(namespace = '', service, concat(namespace, '/', service))"
const where = `tenant = {tenant:String} AND time_ >= fromUnixTimestamp64Nano({from:Int64})`
const handSql = `SELECT q.service, toInt64(floor(q.lat[3])), toInt64(floor(q.lat[4])), toInt64(floor(q.lat[5])), q.errors, r.rate / 5e9, q.total
FROM (SELECT ${svc} AS service, quantilesTDigest(0.01, 0.1, 0.5, 0.9, 0.99)(latency) AS lat, avg(resp_status >= 400) AS errors, count() AS total
      FROM ${store.db}.http_events WHERE ${where} GROUP BY service) AS q
INNER JOIN (SELECT service, avg(c) AS rate FROM (SELECT ${svc} AS service, intDiv(toUnixTimestamp64Nano(time_), 5000000000) AS w, count() AS c
      FROM ${store.db}.http_events WHERE ${where} GROUP BY service, w) GROUP BY service) AS r ON q.service = r.service
WHERE q.service != ''`
const hand = async () => {
  const rs = await store.client.query({
    query: handSql,
    query_params: { tenant: TENANT, from: (nowNs - 1_800_000_000_000n).toString() },
    format: 'JSONCompactEachRow',
  })
  return ((await rs.json()) as unknown[]).length
}

const [a, b] = [await kiln(), await hand()]
if (a !== b) throw new Error(`the two queries disagree: ${a} rows from Kiln, ${b} hand-written`)
const times: { kiln: number[]; hand: number[] } = { kiln: [], hand: [] }
for (let i = 0; i < ROUNDS; i++) {
  for (const [name, f] of i % 2
    ? ([
        ['hand', hand],
        ['kiln', kiln],
      ] as const)
    : ([
        ['kiln', kiln],
        ['hand', hand],
      ] as const)) {
    const s = performance.now()
    await f()
    times[name].push(performance.now() - s)
  }
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!
const mk = median(times.kiln)
const mh = median(times.hand)
console.log(`data: ${fmt(ROWS, 0)} http_events rows (40 services, 20 endpoints, 20 minutes), generated in ${fmt(genS)} s`)
console.log(`px/http_request_stats through Kiln (compiled once, cached): median ${fmt(mk)} ms of ${ROUNDS}`)
console.log(`the same query hand-written in ClickHouse SQL:            median ${fmt(mh)} ms of ${ROUNDS}`)
console.log(`ratio kiln / hand-written: ${fmt(mk / mh, 2)} (goal ≤ 1.2)`)

// Compile time: parse, evaluate and generate SQL, without the cache; median of 50 runs each.
const scripts = {
  'http_request_stats (style)': httpRequestStats,
  'seed http_summary': httpSummary,
  'seed slow_queries': slowQueries,
  'seed service_graph': serviceGraph,
  'seed network_traffic': podTraffic,
  'seed dashboard one-liner': dashboard,
}
for (const [name, src] of Object.entries(scripts)) {
  const ts: number[] = []
  for (let i = 0; i < 50; i++) {
    const s = performance.now()
    compilePxl(src)
    ts.push(performance.now() - s)
  }
  console.log(`compile ${name.padEnd(26)} ${fmt(median(ts) * 1000, 0)} µs`)
}
// Each bundled script as the Live view runs it: every call its vis.json makes, with the defaults.
for (const lib of bundledScripts()) {
  const calls = visCalls(lib.vis!)
  const ts: number[] = []
  for (let i = 0; i < 50; i++) {
    const s = performance.now()
    for (const c of calls) compilePxl(lib.script, { func: c.func, args: c.args })
    ts.push(performance.now() - s)
  }
  console.log(`compile ${lib.name.padEnd(26)} ${fmt(median(ts) * 1000, 0)} µs (${calls.length} call${calls.length > 1 ? 's' : ''})`)
}
await store.close()
rmSync(dir, { recursive: true, force: true })
