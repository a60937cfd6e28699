/**
 * Recorded request-tracing rows for the PxL tests, written into a real embedded store through the
 * same checks the ingest API applies, and a runner over them with a fixed `now`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore, type Store } from '../../src/store/index.ts'
import { checkTraceBatch } from '../../src/model/trace-rows.ts'
import { PxlRunner, type PxlRequest, type PxlResult } from '../../src/pxl/index.ts'

/** 2026-03-02T10:00:00Z in nanoseconds: the recording starts here; `NOW` is ten minutes later. */
export const T0 = 1772445600_000_000_000n
export const NOW = T0 + 600_000_000_000n
export const TENANT = 'acme'
const ms = 1_000_000n
const sec = 1_000_000_000n

const proc = (ns: string, service: string, pod: string, pid: number) => ({
  namespace: ns,
  service,
  pod,
  container: service,
  node: 'node-1',
  pid,
  cmdline: `/bin/${service}`,
  upid: String((BigInt(pid) << 64n) | 1000n),
})
export const frontend = proc('production', 'frontend', 'frontend-7d9', 101)
export const checkout = proc('production', 'checkout', 'checkout-5c4', 202)
export const stagingWeb = proc('staging', 'frontend', 'frontend-1aa', 303)

const http = (
  at: bigint,
  p: typeof frontend,
  method: string,
  path: string,
  status: number,
  latencyMs: number,
  role = 2,
  remote = '10.0.0.9',
) => ({
  time_: String(T0 + at),
  ...p,
  trace_role: role,
  remote_addr: remote,
  remote_port: 40000,
  req_method: method,
  req_path: path,
  resp_status: status,
  latency: Number(BigInt(latencyMs) * ms),
  resp_body: 'x'.repeat(status === 200 ? 100 : 10),
})

/** Twelve HTTP requests: nine in production (frontend and checkout), two in staging, one client-side call. */
export const httpRows = [
  http(1n * sec, frontend, 'GET', '/api/cart?id=1', 200, 10),
  http(2n * sec, frontend, 'GET', '/api/cart?id=2', 200, 20),
  http(3n * sec, frontend, 'GET', '/api/cart', 500, 30),
  http(4n * sec, frontend, 'GET', '/api/cart', 404, 40),
  http(11n * sec, frontend, 'POST', '/api/pay', 200, 100),
  http(12n * sec, checkout, 'GET', '/checkout', 200, 5),
  http(13n * sec, checkout, 'GET', '/checkout', 200, 15),
  http(21n * sec, checkout, 'POST', '/checkout', 503, 250),
  // checkout calling frontend, seen on the client side (trace_role 1): the remote is frontend's address.
  http(22n * sec, checkout, 'GET', '/api/cart', 200, 12, 1, '10.0.0.7'),
  http(5n * sec, stagingWeb, 'GET', '/api/cart', 200, 1),
  http(6n * sec, stagingWeb, 'GET', '/api/cart', 500, 2),
  // Older than the ten-minute window the relative-time tests use.
  http(-3600n * sec, frontend, 'GET', '/old', 200, 1),
]

export const mysqlRows = [
  {
    time_: String(T0 + 1n * sec),
    ...checkout,
    req_cmd: 3,
    req_body: 'SELECT * FROM orders WHERE id = 1',
    resp_status: 1,
    latency: Number(150n * ms),
  },
  {
    time_: String(T0 + 2n * sec),
    ...checkout,
    req_cmd: 3,
    req_body: 'SELECT * FROM orders WHERE id = 1',
    resp_status: 1,
    latency: Number(250n * ms),
  },
  { time_: String(T0 + 3n * sec), ...checkout, req_cmd: 3, req_body: 'UPDATE carts SET n = 2', resp_status: 1, latency: Number(120n * ms) },
  { time_: String(T0 + 4n * sec), ...checkout, req_cmd: 3, req_body: 'SELECT 1', resp_status: 1, latency: Number(2n * ms) },
  { time_: String(T0 + 5n * sec), ...stagingWeb, req_cmd: 3, req_body: 'SELECT * FROM slow', resp_status: 1, latency: Number(900n * ms) },
]

/** Cumulative counters as the agent reports them: readings every 10 s per (process, remote). */
export const connRows = [
  ...[0n, 10n, 20n].map((t, i) => ({
    time_: String(T0 + t * sec),
    ...frontend,
    remote_addr: '10.0.0.20',
    remote_port: 5432,
    trace_role: 1,
    conn_open: 1 + i,
    conn_close: i,
    conn_active: 1,
    bytes_sent: 1000 * (i + 1),
    bytes_recv: 5000 * (i + 1),
  })),
  ...[0n, 10n].map((t, i) => ({
    time_: String(T0 + t * sec),
    ...checkout,
    remote_addr: '10.0.0.30',
    remote_port: 6379,
    trace_role: 1,
    conn_open: 1,
    conn_close: 0,
    conn_active: 1,
    bytes_sent: 300 + 100 * i,
    bytes_recv: 700 + 100 * i,
  })),
  {
    time_: String(T0),
    ...stagingWeb,
    remote_addr: '10.0.0.40',
    remote_port: 80,
    trace_role: 1,
    conn_open: 9,
    conn_close: 0,
    conn_active: 1,
    bytes_sent: 9,
    bytes_recv: 9,
  },
]

export interface Fixture {
  store: Store
  runner: PxlRunner
  run(req: PxlRequest | string, tenant?: string): Promise<PxlResult>
  close(): Promise<void>
}

/** Opens an embedded store in a temporary directory with the recorded rows (and one other tenant's row). */
export async function openFixture(): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-pxl-'))
  const store = await openStore({ dataDir: dir, retentionDays: 0, traceRetentionHours: 0 })
  await store.trace.insert(TENANT, checkTraceBatch({ http_events: httpRows, mysql_events: mysqlRows, conn_stats: connRows }).batch)
  await store.trace.insert('other', checkTraceBatch({ http_events: [http(1n * sec, frontend, 'GET', '/other-tenant', 200, 1)] }).batch)
  const runner = new PxlRunner(store.client, store.db)
  return {
    store,
    runner,
    run: (req, tenant = TENANT) => runner.run(tenant, typeof req === 'string' ? { script: req } : req, NOW),
    async close() {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Rows as objects keyed by column name, sorted by their JSON for order-free comparison. */
export function objects(t: PxlResult['tables'][number]): Record<string, unknown>[] {
  return t.rows
    .map((r) => Object.fromEntries(t.columns.map((c, i) => [c.name, r[i]])))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))
}
