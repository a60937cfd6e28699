/** POST /api/v1/trace/events: rows land in Pixie-shaped tables, survive kill -9, and bad rows get a 400 saying what is wrong. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { gzipSync } from 'node:zlib'
import { startKiln, call } from './helpers.ts'
import { openClient } from '../../src/store/client.ts'

// Ten minutes ago (rows older than the retention are refused), with nanosecond digits.
const NS = (BigInt(Date.now()) - 600_000n) * 1_000_000n + 456_789n
const T = NS.toString()

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  return call(`${url}/api/v1/trace/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : body instanceof Uint8Array ? new Blob([new Uint8Array(body)]) : JSON.stringify(body),
  })
}

/** Runs SQL on a stopped server's data directory with the same embedded engine. */
async function sql(dataDir: string, query: string): Promise<unknown[]> {
  const { client } = await openClient({ dataDir })
  try {
    return (await (await client.query({ query, format: 'JSONEachRow' })).json()) as unknown[]
  } finally {
    await client.close()
  }
}

test('rows are stored with their columns, tenant and nanosecond times, and survive kill -9', async () => {
  const s = await startKiln(['--multitenancy'])
  try {
    const r = await post(
      s.url,
      {
        http_events: [
          {
            time_: NS.toString(),
            upid: '18446744073709551621',
            remote_addr: '127.0.0.1',
            remote_port: 51234,
            trace_role: 2,
            req_method: 'GET',
            req_path: '/a?x=1',
            resp_status: 200,
            latency: 1_500_000,
            encrypted: false,
            pid: 42,
            service: 'nginx',
          },
          { time_: (NS + 1n).toString(), req_method: 'POST', req_path: '/b', resp_status: 503, latency: '9007199254740993' },
        ],
        conn_stats: [
          { time_: NS.toString(), remote_addr: '10.0.0.1', remote_port: 3306, bytes_sent: 100, bytes_recv: 2000, conn_open: 3, ssl: 1 },
        ],
      },
      { 'x-scope-orgid': 'team-a' },
    )
    assert.equal(r.status, 200, r.text)
    assert.deepEqual(r.json, { rows: 3 })
    // gzip bodies, as the agent sends them
    const g = await post(s.url, gzipSync(JSON.stringify({ dns_events: [{ time_: NS.toString(), req_body: '{"queries":[]}' }] })), {
      'x-scope-orgid': 'team-b',
    })
    assert.equal(g.status, 200, g.text)
    await s.stop({ kill9: true })
    const rows = await sql(
      s.dataDir,
      'SELECT tenant, toString(toUnixTimestamp64Nano(time_)) AS t, toString(upid) AS upid, req_method, req_path, resp_status, toString(latency) AS latency, pid, service, encrypted FROM kiln.http_events ORDER BY time_',
    )
    assert.deepEqual(rows, [
      {
        tenant: 'team-a',
        t: NS.toString(),
        upid: '18446744073709551621',
        req_method: 'GET',
        req_path: '/a?x=1',
        resp_status: '200',
        latency: '1500000',
        pid: '42',
        service: 'nginx',
        encrypted: false,
      },
      {
        tenant: 'team-a',
        t: (NS + 1n).toString(),
        upid: '0',
        req_method: 'POST',
        req_path: '/b',
        resp_status: '503',
        latency: '9007199254740993',
        pid: '0',
        service: '',
        encrypted: false,
      },
    ])
    assert.deepEqual(await sql(s.dataDir, 'SELECT tenant, bytes_recv, ssl FROM kiln.conn_stats'), [
      { tenant: 'team-a', bytes_recv: '2000', ssl: true },
    ])
    assert.deepEqual(await sql(s.dataDir, 'SELECT tenant FROM kiln.dns_events'), [{ tenant: 'team-b' }])
  } finally {
    await s.dispose()
  }
})

test('bad batches are refused with a 400 naming the table, row and column; nothing of them is stored', async () => {
  const s = await startKiln()
  try {
    const cases: [unknown, RegExp][] = [
      ['{"http_events": [', /not JSON/],
      [[], /expected a JSON object of table name/],
      [{ 'stack_traces.beta': [] }, /stack_traces.beta is read-only: Kiln fills it from the stored profiles/],
      [{ http_event: [] }, /unknown table "http_event" \(did you mean "http_events"\?\)/],
      [{ http_events: {} }, /http_events: expected an array of rows/],
      [{ http_events: [42] }, /http_events row 0: expected an object/],
      [{ http_events: [{ time_: T, req_methd: 'GET' }] }, /row 0: unknown column "req_methd" \(did you mean "req_method"/],
      [{ http_events: [{ time_: T }, { req_method: 'GET' }] }, /row 1: time_ is required/],
      [{ http_events: [{ time_: T, resp_status: '2OO' }] }, /column resp_status: expected an integer/],
      [
        // biome-ignore lint/correctness/noPrecisionLoss: a JSON number past Int64 is what this row tests
        { http_events: [{ time_: T, resp_status: 99999999999999999999 }] },
        /column resp_status: 100000000000000000000 does not fit in Int64/,
      ],
      [{ http_events: [{ time_: '1764676289123456789' }] }, /row 0: time_ 1764676289.123456789 is older than the tracing retention/],
      [{ http_events: [{ time_: T, latency: '99999999999999999999' }] }, /99999999999999999999 does not fit in Int64/],
      [{ http_events: [{ time_: T, upid: '-1' }] }, /-1 does not fit in UInt128/],
      [{ http_events: [{ time_: '99999999999999999999' }] }, /not a time in nanoseconds since the epoch/],
      [{ http_events: [{ time_: 1.5 }] }, /column time_: expected an integer/],
      [{ http_events: [{ time_: T, req_path: ['/'] }] }, /column req_path: expected a string, got an array/],
      [{ http_events: [{ time_: T, encrypted: 'yes' }] }, /column encrypted: expected true or false/],
    ]
    for (const [body, re] of cases) {
      const r = await post(s.url, typeof body === 'string' ? body : JSON.stringify(body))
      assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.text}`)
      assert.match(r.json.message, re, JSON.stringify(body))
      assert.ok(r.json.code === 'KILN_BAD_REQUEST' || r.json.code === 'KILN_BAD_TIME', r.text)
    }
    // A batch with one bad row stores none of its rows; the server goes on serving.
    const mixed = await post(s.url, { http_events: [{ time_: NS.toString(), req_path: '/ok' }, { time_: 'x' }] })
    assert.equal(mixed.status, 400)
    const ok = await post(s.url, { http_events: [{ time_: NS.toString(), req_path: '/later' }] })
    assert.equal(ok.status, 200)
    const tables = await call(`${s.url}/api/v1/trace/tables`)
    assert.equal(tables.status, 200)
    assert.ok(
      tables.json.some(
        (t: { name: string; columns: { name: string }[] }) => t.name === 'mysql_events' && t.columns.some((c) => c.name === 'req_cmd'),
      ),
    )
    await s.stop()
    assert.deepEqual(await sql(s.dataDir, 'SELECT req_path FROM kiln.http_events'), [{ req_path: '/later' }])
  } finally {
    await s.dispose()
  }
})

test('--trace-retention sets the tracing tables TTL (24 h by default) and a restart with another value changes it', async () => {
  const s = await startKiln()
  await s.stop()
  const ttl = async () =>
    (
      (await sql(s.dataDir, "SELECT create_table_query AS q FROM system.tables WHERE database = 'kiln' AND name = 'redis_events'")) as {
        q: string
      }[]
    )[0]!.q
  try {
    assert.match(await ttl(), /TTL toDateTime\(time_\) \+ toIntervalHour\(24\)/)
    const s2 = await startKiln(['--trace-retention', '2h'], { dataDir: s.dataDir })
    await s2.stop()
    assert.match(await ttl(), /TTL toDateTime\(time_\) \+ toIntervalHour\(2\)/)
    const s3 = await startKiln(['--trace-retention', '0'], { dataDir: s.dataDir })
    await s3.stop()
    assert.doesNotMatch(await ttl(), /TTL/)
  } finally {
    await s.dispose()
  }
})
