/** Every host source at once, as `kiln agent --trace` starts them, with their rows posted to a real `kiln server` and read back from its tables. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { call, startKiln } from '../../server/helpers.ts'
import { openClient } from '../../../src/store/client.ts'
import { hostSourceNames, hostSources } from '../../../src/trace/sources/index.ts'
import { isRoot, rowOf, type Row, work } from './helpers.ts'
import type { EmittedRow } from '../../../src/trace/types.ts'

/** One embedded-engine client on a stopped server's data directory (opening chDB takes seconds on a loaded host: once). */
async function reader(dataDir: string) {
  const { client } = await openClient({ dataDir })
  return {
    sql: async (query: string) => (await (await client.query({ query, format: 'JSONEachRow' })).json()) as Record<string, unknown>[],
    close: () => client.close(),
  }
}

function dd(args: string[]): Promise<number> {
  const c = spawn('dd', args, { stdio: 'ignore' })
  return new Promise((resolve, reject) =>
    c.on('close', (code) => (code === 0 ? resolve(c.pid!) : reject(new Error(`dd ${args.join(' ')}: ${code}`)))),
  )
}

test('hostSources: all four sources, their rows through POST /api/v1/trace/events, found in process_stats, network_stats, block_io_events and fs_slow_events', {
  skip: isRoot ? false : 'needs root',
}, async () => {
  const batches = new Map<string, Row[]>()
  const log: string[] = []
  const sources = hostSources({ node: 'e2e-node', asid: 9, intervalMs: 1000, fsSlowerThanMs: 2, log: (l) => log.push(l) })
  assert.deepEqual(
    sources.map((s) => s.name),
    hostSourceNames,
  )
  assert.deepEqual(hostSourceNames, ['process_stats', 'network_stats', 'block_io_events', 'fs_slow_events'])
  const emit = (table: string, rows: EmittedRow[], shared?: string) =>
    batches.set(table, [...(batches.get(table) ?? []), ...rows.map((r) => rowOf(r, shared))])
  // Side by side, as the agent may start them: the server and bpftrace's compiles take seconds each on a loaded host.
  const started = await Promise.allSettled([startKiln(), ...sources.map((s) => s.start(emit))])
  const kiln = started[0].status === 'fulfilled' ? started[0].value : undefined
  try {
    for (const r of started) if (r.status === 'rejected') throw r.reason
    if (!kiln) throw new Error('unreachable')
    const file = join(work, 'e2e.bin')
    const writer = await dd(['if=/dev/zero', `of=${file}`, 'bs=32M', 'count=1', 'oflag=direct', 'conv=fsync'])
    for (const s of sources) await s.stop()
    // As the agent uploads: one gzip'd JSON object of table → rows.
    const r = await call(`${kiln.url}/api/v1/trace/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new Blob([gzipSync(JSON.stringify(Object.fromEntries(batches)))]),
    })
    assert.equal(r.status, 200, r.text)
    const sent = [...batches.values()].reduce((n, rows) => n + rows.length, 0)
    assert.deepEqual(r.json, { rows: sent })
    await kiln.stop()
    const db = await reader(kiln.dataDir)
    const sql = (_dir: string, q: string) => db.sql(q)

    const counts = await sql(
      kiln.dataDir,
      `SELECT 'p' AS t, count() AS n FROM kiln.process_stats UNION ALL SELECT 'n', count() FROM kiln.network_stats UNION ALL SELECT 'b', count() FROM kiln.block_io_events UNION ALL SELECT 'f', count() FROM kiln.fs_slow_events`,
    )
    const n = Object.fromEntries(counts.map((c) => [c.t, Number(c.n)]))
    assert.equal(n.p, batches.get('process_stats')!.length)
    assert.equal(n.n, batches.get('network_stats')!.length)
    assert.equal(n.b, batches.get('block_io_events')!.length)
    assert.equal(n.f, batches.get('fs_slow_events')!.length)

    // The test process itself in process_stats, once a second from start to stop, with its upid and node.
    const me = await sql(
      kiln.dataDir,
      `SELECT toString(upid) AS upid, rss_bytes, node, service FROM kiln.process_stats WHERE pid = ${process.pid}`,
    )
    assert.ok(me.length >= 2, JSON.stringify(me))
    assert.equal(new Set(me.map((r) => r.upid)).size, 1)
    assert.equal(me[0]!.node, 'e2e-node')
    assert.equal(BigInt(me[0]!.upid as string) >> 96n, 9n)
    assert.ok(Number(me[0]!.rss_bytes) > 10 << 20)
    // The host's loopback among network_stats' interfaces.
    assert.ok((await sql(kiln.dataDir, `SELECT rx_bytes FROM kiln.network_stats WHERE pod_id = 'lo'`)).length >= 2)
    // dd's 32 MiB O_DIRECT write as block requests, and as one slow write.
    const blocks = await sql(
      kiln.dataDir,
      `SELECT sum(bytes) AS bytes, any(service) AS service FROM kiln.block_io_events WHERE pid = ${writer} AND op = 'W'`,
    )
    const byWho = async () =>
      JSON.stringify(
        await sql(
          kiln.dataDir,
          `SELECT pid, service, op, sum(bytes) AS bytes, count() AS n FROM kiln.block_io_events GROUP BY pid, service, op`,
        ),
      )
    // ≥ 90 %: about 0.15 % of requests get no row (src/trace/sources/README.md, known gap), and one of dd's ~1 MiB requests is 3 %.
    assert.ok(
      Number(blocks[0]!.bytes) >= 0.9 * (32 << 20),
      `dd ${writer}: ${JSON.stringify(blocks)}; all: ${await byWho()}; ${JSON.stringify(sources[2]!.stats())}`,
    )
    assert.equal(blocks[0]!.service, 'dd')
    const slow = await sql(
      kiln.dataDir,
      `SELECT op, bytes, file, latency >= 2000000 AS slow FROM kiln.fs_slow_events WHERE pid = ${writer} AND op = 'W'`,
    )
    assert.deepEqual(slow, [{ op: 'W', bytes: String(32 << 20), file: 'e2e.bin', slow: 1 }])
    await db.close()
  } finally {
    // A failed start must not leave bpftrace running (it would keep the test process alive).
    for (const s of sources) await s.stop()
    await kiln?.dispose()
  }
})
