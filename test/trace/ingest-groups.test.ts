/**
 * The agent's grouped upload body (model/trace-groups.ts, trace/batch.ts) end to end: the agent's
 * runner to a real server, its refusals of bad and fuzzed bodies, and the fallback to plain JSON
 * for a server that reads only that.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { gunzipSync, gzipSync } from 'node:zlib'
import { call, startKiln } from '../server/helpers.ts'
import { openClient } from '../../src/store/client.ts'
import { TraceRunner } from '../../src/agent/trace.ts'
import { TRACE_GROUPS_TYPE } from '../../src/model/trace-groups.ts'
import { checkTraceBatch } from '../../src/model/trace-rows.ts'
import type { KilnError } from '../../src/model/errors.ts'
import type { Emit, TraceSource } from '../../src/trace/types.ts'

// Ten minutes ago (rows older than the retention are refused).
const NS = (BigInt(Date.now()) - 600_000n) * 1_000_000n

const COMPACT = ['time_', 'req_path', 'resp_status', 'latency']

/** A source emitting `n` http_events rows as the socket capture does: JSON text or the loader's unclosed UTF-8, with a connection's shared columns. */
function source(n: number, tag: string): TraceSource {
  return {
    name: 'test',
    async start(emit: Emit) {
      for (let i = 0; i < n; i++) {
        const c = i % 3
        const shared = `"remote_addr":"10.0.0.${c}","remote_port":${5000 + c},"trace_role":2,"pid":${100 + c},"cmdline":"srv \\"${c}\\" ü"`
        const own = JSON.stringify({ time_: String(NS + BigInt(i)), req_path: `/${tag}/${i}`, resp_status: 200, latency: i })
        // Every fourth as the loader's compact rows are: an array of values, the names apart.
        if (i % 4 === 0)
          emit('http_events', [Buffer.from(JSON.stringify([String(NS + BigInt(i)), `/${tag}/${i}`, 200, i]).slice(0, -1))], shared, COMPACT)
        else emit('http_events', [i % 2 ? own : Buffer.from(own.slice(0, -1))], shared)
      }
    },
    async stop() {},
    stats: () => ({}),
  }
}

test('the agent uploads grouped batches, gzipped or not, and the server stores every row with its shared columns', async () => {
  const s = await startKiln()
  try {
    for (const [tag, gzip] of [
      ['gz', true],
      ['plain', false],
    ] as const) {
      const log: string[] = []
      const runner = new TraceRunner({ server: s.url, maxQueueBytes: 1 << 26, log: (l) => log.push(l), sources: [source(7000, tag)], gzip })
      await runner.start()
      const u = await runner.stop()
      assert.deepEqual([u.sentUnits, u.rejected, u.droppedUnits], [7000, 0, 0], log.join('\n'))
      // 7,000 rows: a batch past 5,000 went at once, the rest at stop.
      assert.equal(u.sent, 2)
    }
    await s.stop()
    // The stopped server's data, read with the same embedded engine.
    const { client } = await openClient({ dataDir: s.dataDir })
    const q = await client.query({
      format: 'JSONEachRow',
      query:
        "SELECT splitByChar('/', req_path)[2] AS tag, count() AS n, uniqExact(req_path) AS paths, groupUniqArray(remote_addr) AS addrs, groupUniqArray(cmdline) AS cmds, sum(pid = 100 + toInt64(substring(remote_addr, 8))) AS matched FROM kiln.http_events GROUP BY tag ORDER BY tag",
    })
    const rows = (await q.json()) as unknown[]
    await client.close()
    for (const r of rows as { addrs: string[]; cmds: string[] }[]) {
      r.addrs.sort()
      r.cmds.sort()
    }
    const want = (tag: string) => ({
      tag,
      n: '7000',
      paths: '7000',
      addrs: ['10.0.0.0', '10.0.0.1', '10.0.0.2'],
      cmds: ['srv "0" ü', 'srv "1" ü', 'srv "2" ü'],
      matched: '7000',
    })
    assert.deepEqual(rows, [want('gz'), want('plain')])
  } finally {
    await s.dispose()
  }
})

async function post(url: string, body: string | Buffer, type = TRACE_GROUPS_TYPE) {
  return call(`${url}/api/v1/trace/events`, {
    method: 'POST',
    headers: { 'content-type': type },
    body: new Blob([typeof body === 'string' ? Buffer.from(body) : new Uint8Array(body)]),
  })
}

test('bad and fuzzed grouped bodies get a 4xx with {code, message}; the server keeps answering', async () => {
  const s = await startKiln()
  try {
    const t = String(NS)
    const good = `{"tables":{"http_events":[[0,{"time_":"${t}","req_path":"/a"}],[1,{"time_":"${t}","req_path":"/b"}]]},"groups":[{"pid":1},{"pid":2,"remote_addr":"::1"}]}`
    const ok = await post(s.url, gzipSync(good))
    assert.deepEqual([ok.status, ok.json], [200, { rows: 2 }], ok.text)
    // The content type decides: parameters and case are ignored; the same body as plain JSON is a table named "tables".
    assert.equal((await post(s.url, good, `${TRACE_GROUPS_TYPE.toUpperCase()}; charset=utf-8`)).status, 200)
    const plain = await post(s.url, good, 'application/json')
    assert.equal(plain.status, 400)
    assert.match((plain.json as { message: string }).message, /unknown table "tables"/)
    for (const [body, re] of [
      ['{"http_events":[]}', /expected \{"tables"/],
      [`{"tables":{"http_events":[[2,{"time_":"${t}"}]]},"groups":[{}]}`, /http_events row 0: group 2 is not an index of the 1 groups/],
      [`{"tables":{"http_events":[[0,{"time_":"${t}","pid":3}]]},"groups":[{"pid":1}]}`, /column "pid" is in the row and in its group 0/],
      [`{"tables":{"http_events":[[0,{"time_":"${t}"}]]},"groups":[{"pid":"x"}]}`, /http_events row 0 column pid: expected an integer/],
      [`{"tables":{"http_events":[[0,{"time_":"${t}"}]]},"groups":[{"bogus":1}]}`, /unknown column "bogus"/],
      ['{"tables":', /not JSON/],
    ] as const) {
      const r = await post(s.url, body)
      assert.equal(r.status, 400, `${body}: ${r.text}`)
      const j = r.json as { code: string; message: string }
      assert.equal(j.code, 'KILN_BAD_REQUEST')
      assert.match(j.message, re)
    }
    // Fuzzed bytes of a good body, gzipped or not: 200 or a 4xx (422: a time out of range), never a 5xx or a dropped connection.
    let seed = 7
    const r = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000
    const statuses = new Map<number, number>()
    for (let i = 0; i < 150; i++) {
      const b = Buffer.from(good)
      for (let k = 0; k < 1 + r() * 3; k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256)
      const res = await post(s.url, r() < 0.3 ? gzipSync(b).subarray(0, Math.floor(r() * 60) + 10) : b)
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
      if (res.status !== 200) assert.equal(typeof (res.json as { message?: string }).message, 'string', res.text)
    }
    assert.deepEqual(
      [...statuses.keys()].filter((k) => k !== 200 && k !== 400 && k !== 422),
      [],
      JSON.stringify([...statuses]),
    )
    assert.ok((statuses.get(400) ?? 0) > 50, JSON.stringify([...statuses]))
    assert.equal((await post(s.url, good)).status, 200)
  } finally {
    await s.dispose()
  }
})

test('to a server that reads only plain JSON, the refused grouped batch goes again as plain JSON, and later ones are built so', async () => {
  // A server before the grouped body: the body is JSON of table → rows whatever its content type,
  // checked by the same checkTraceBatch (a grouped body is "unknown table \"tables\"").
  const types: string[] = []
  let stored = 0
  const old = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      types.push(String(req.headers['content-type']))
      let body = Buffer.concat(chunks)
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body)
      try {
        stored += checkTraceBatch(JSON.parse(body.toString('utf8'))).rows
        res.end('{}')
      } catch (e) {
        res.writeHead(400, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ code: (e as KilnError).code, message: (e as Error).message }))
      }
    })
  })
  await new Promise<void>((r) => old.listen(0, '127.0.0.1', () => r()))
  try {
    const log: string[] = []
    const url = `http://127.0.0.1:${(old.address() as { port: number }).port}`
    const runner = new TraceRunner({
      server: url,
      maxQueueBytes: 1 << 26,
      log: (l) => log.push(l),
      sources: [source(12000, 'old')],
      gzip: true,
    })
    await runner.start()
    const u = await runner.stop()
    assert.deepEqual([u.sentUnits, u.rejected, stored], [12000, 0, 12000], log.join('\n'))
    // Batches of 5,000, 5,000 and 2,000: the first refused as grouped and sent again plain (the
    // second too when it was built and sent before the first came back); the last is plain.
    assert.equal(types[0], TRACE_GROUPS_TYPE)
    assert.equal(types.at(-1), 'application/json')
    assert.ok(types.filter((t) => t === 'application/json').length >= 3, types.join(', '))
    assert.equal(log.filter((l) => /reads only plain JSON batches/.test(l)).length, 1, log.join('\n'))
  } finally {
    old.close()
  }
})
