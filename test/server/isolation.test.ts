/**
 * One client cannot hurt another; every bad query is a 4xx; tenancy and auth hold on every route;
 * uploads made by hand get their answer (issue 12 §3–§6).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { gzipSync } from 'node:zlib'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'node:http'
import { startKiln, call, q, CPU } from './helpers.ts'
import { hostileUploads, HOSTILE_STACKS } from './hostile-bodies.ts'
import { encodePprof } from '../../src/formats/pprof.ts'
import { ProfileBuilder } from '../../src/model/profile.ts'
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf'
import { PushRequestSchema } from '../../src/server/rpc/gen/push/v1/push_pb.ts'
import { startServer } from '../../src/server/app.ts'
import { defaults } from '../../src/server/config.ts'

const pushRequest = (init: MessageInitShape<typeof PushRequestSchema>) => toBinary(PushRequestSchema, create(PushRequestSchema, init))

/** A small valid pprof, gzipped, optionally padded with an unknown field of `pad` zero bytes (decoders skip it). */
function pprof(opts: { timeMs?: number; pad?: number } = {}): Uint8Array {
  const b = new ProfileBuilder({
    sampleTypes: [{ type: 'cpu', unit: 'nanoseconds' }],
    periodType: { type: 'cpu', unit: 'nanoseconds' },
    period: 10_000_000,
    timeMs: opts.timeMs ?? Date.now(),
    durationNanos: 10e9,
  })
  b.add([b.fn('main'), b.fn('work')], [30_000_000])
  const raw = encodePprof(b.build(), { gzip: false })
  if (!opts.pad) return gzipSync(raw)
  // Field 15, length-delimited: tag 0x7a, varint length, zeros.
  const len: number[] = []
  for (let n = opts.pad; ; n >>>= 7) {
    if (n < 0x80) {
      len.push(n)
      break
    }
    len.push((n & 0x7f) | 0x80)
  }
  return gzipSync(Buffer.concat([raw, Buffer.from([0x7a, ...len]), Buffer.alloc(opts.pad)]))
}

test('a value or time the store cannot hold is refused alone; six other clients keep ingesting', async () => {
  const kiln = await startKiln(['--retention', '0'])
  try {
    let stop = false
    const statuses: number[] = []
    const clients = Array.from({ length: 6 }, async (_, i) => {
      while (!stop)
        statuses.push((await call(`${kiln.url}/ingest?${q({ name: `good${i}.cpu` })}`, { method: 'POST', body: 'main;work 10\n' })).status)
    })
    const hostile: [string, string, number, string][] = [
      ['count above Int64', 'a;b 99999999999999999999999\n', 422, 'KILN_LIMIT'],
      ['counts adding up past Int64', 'a;b 9000000000000000000\na;c 9000000000000000000\n', 422, 'KILN_LIMIT'],
    ]
    for (let round = 0; round < 3; round++) {
      for (const [what, body, status, code] of hostile) {
        const r = await call(`${kiln.url}/ingest?${q({ name: 'bad.cpu', sampleRate: '1000000000' })}`, { method: 'POST', body })
        assert.equal(r.status, status, `${what}: ${r.text}`)
        assert.equal(r.json.code, code, what)
      }
      // Year 5000, in unix seconds.
      const future = await call(`${kiln.url}/ingest?${q({ name: 'bad.cpu', from: '95617584000', until: '95617584010' })}`, {
        method: 'POST',
        body: 'a;b 1\n',
      })
      assert.equal(future.status, 400, future.text)
      assert.equal(future.json.code, 'KILN_BAD_TIME')
      assert.match(future.json.message, /1970–2099/)
    }
    stop = true
    await Promise.all(clients)
    assert.ok(statuses.length >= 6)
    assert.deepEqual([...new Set(statuses)], [200], 'every good client was answered 200')
    const top = await call(`${kiln.url}/api/v1/top?${q({ type: CPU, query: '{service_name="good0"}', from: 'now-1h' })}`)
    assert.ok(top.json.rows.some((r: { name: string }) => r.name === 'work'))
  } finally {
    await kiln.dispose()
  }
})

test('a Push whose samples inflate past the budget together is refused (413), not decoded sample by sample', async () => {
  const kiln = await startKiln(['--retention', '0'], { env: { KILN_MAX_DECOMPRESSED_BYTES: String(1 << 20) } })
  try {
    // 40 samples of 300 KiB each: every one alone is within the 1 MiB limit, together 12 MiB.
    const sample = pprof({ pad: 300 << 10 })
    const push = pushRequest({
      series: [
        {
          labels: [
            { name: 'service_name', value: 'bomb' },
            { name: '__name__', value: 'process_cpu' },
          ],
          samples: Array.from({ length: 40 }, () => ({ rawProfile: sample, ID: '' })),
        },
      ],
    })
    const r = await call(`${kiln.url}/push.v1.PusherService/Push`, {
      method: 'POST',
      headers: { 'content-type': 'application/proto' },
      body: Buffer.from(push),
    })
    assert.equal(r.status, 429, r.text) // Connect's resource_exhausted
    assert.equal(r.json.code, 'resource_exhausted')
    assert.match(r.json.message, /inflate to more than 1048576 bytes together/)
    const one = pushRequest({ series: [{ labels: [{ name: 'service_name', value: 'fine' }], samples: [{ rawProfile: sample, ID: '' }] }] })
    const ok = await call(`${kiln.url}/push.v1.PusherService/Push`, {
      method: 'POST',
      headers: { 'content-type': 'application/proto' },
      body: Buffer.from(one),
    })
    assert.equal(ok.status, 200, ok.text)
  } finally {
    await kiln.dispose()
  }
})

test('every bad query is a 4xx: RE2-incompatible regexes, huge selectors, infinite steps, broken percent-encoding', async () => {
  const kiln = await startKiln(['--retention', '0'])
  try {
    assert.equal(
      (await call(`${kiln.url}/ingest?${q({ name: 'app.cpu{env=a}' })}`, { method: 'POST', body: 'main;work 10\n' })).status,
      200,
    )
    const bad: [string, string, number, string][] = [
      ['lookahead', `/api/v1/flamegraph?${q({ type: CPU, query: '{env=~"(?=a)a"}' })}`, 400, 'KILN_SELECTOR_SYNTAX'],
      ['negative lookbehind', `/api/v1/flamegraph?${q({ type: CPU, query: '{env!~"(?<!b)a"}' })}`, 400, 'KILN_SELECTOR_SYNTAX'],
      ['backreference', `/api/v1/top?${q({ type: CPU, query: '{env=~"(a)\\\\1"}' })}`, 400, 'KILN_SELECTOR_SYNTAX'],
      [
        'selector of 200 KB',
        `/api/v1/label-values?${q({ name: 'env', query: `{env=~"${'a|'.repeat(100_000)}b"}` })}`,
        400,
        'KILN_SELECTOR_SYNTAX',
      ],
      ['step=Infinity', `/api/v1/timeline?${q({ type: CPU, step: 'Infinity' })}`, 400, 'KILN_BAD_REQUEST'],
      ['step=NaN', `/api/v1/timeline?${q({ type: CPU, step: 'abc' })}`, 400, 'KILN_BAD_REQUEST'],
      ['step too small', `/api/v1/timeline?${q({ type: CPU, step: '0.001' })}`, 422, 'KILN_LIMIT'],
      ['render lookahead', `/pyroscope/render?${q({ query: `${CPU}{env=~"(?!x).*"}` })}`, 400, 'KILN_SELECTOR_SYNTAX'],
      ['malformed percent-encoding', '/assets/%E0%A4%A', 400, 'KILN_BAD_REQUEST'],
      ['lone percent', '/%', 400, 'KILN_BAD_REQUEST'],
    ]
    for (const [what, path, status, code] of bad) {
      const r = await call(`${kiln.url}${path}`)
      assert.equal(r.status, status, `${what}: ${r.text.slice(0, 300)}`)
      assert.equal(r.json?.code, code, what)
    }
    // Connect: a regex RE2 cannot run is invalid_argument, not internal.
    const connect = await call(`${kiln.url}/querier.v1.QuerierService/LabelNames`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ matchers: ['{env=~"(?=a)"}'] }),
    })
    assert.equal(connect.status, 400, connect.text)
    assert.equal(connect.json.code, 'invalid_argument')
    // Edge values that are not errors: a huge finite step (one point), times far outside the store's range, quotes in values.
    const fine = [
      `/api/v1/timeline?${q({ type: CPU, step: '1e300' })}`,
      `/api/v1/flamegraph?${q({ type: CPU, from: 'now-100000y', until: 'now' })}`,
      `/api/v1/top?${q({ type: CPU, query: `{env="a'b\\\\\\"c"}` })}`,
      `/api/v1/label-values?${q({ name: "x'); DROP TABLE kiln.samples; --" })}`,
    ]
    for (const path of fine) {
      const r = await call(`${kiln.url}${path}`)
      assert.equal(r.status, 200, `${path}: ${r.text.slice(0, 300)}`)
    }
    const still = await call(`${kiln.url}/api/v1/top?${q({ type: CPU, query: '{env=~"a|b"}' })}`)
    assert.equal(still.json.rows.find((r: { name: string }) => r.name === 'work')?.self, 1e8)
  } finally {
    await kiln.dispose()
  }
})

/** A /metrics sample by its full name (with labels), or undefined. */
function metric(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.slice(name.length + 1))
}

// Decoding, conversion and rendering rows as bytes run in worker threads; the event loop only
// checks ids in a typed-array table and copies bytes, in slices, one slice a turn (each job's first
// slice too). Bounded without a wall clock: under the machine's load (other suites on the same two
// cores) how late a timer fires is mostly time the process waited for a core, so a bound on it would
// fail for reasons that are not Kiln's. The server counts instead the main thread's own CPU time
// between two firings of a 10 ms timer (Linux schedstat), which a loaded machine does not lengthen.
// What that counts: a turn of the loop (one iteration: its timers, every I/O callback of its poll
// phase, its immediates, with their microtasks) that ran past the timer's due time, plus the turns
// that ran since the last firing before it was due — at most one tick's worth (10 ms of wall clock,
// so at most 10 ms of CPU). So "no turn over 100 ms" here is a bound on the longest iteration with up
// to 10 ms to spare, never an undercount. Decoded on the main thread (before issue 12), one of these
// uploads held the loop for seconds; with the cache check of 500,000 string ids, ~0.5 s; with every
// sliced job's slice in one turn and bodies copied as fast as they came, 100–163 ms; with each job's
// first slice run at once (outside the one-a-turn queue), 101.9 ms once in CI. 8 uploads, not the
// 16 of issue 12 §3 (bench/ingest.bench.ts, BENCH_HOSTILE): what holds the loop is a piece of work
// per upload, not their number, and 16 take minutes at this machine's usual load.
const UPLOADS = 8

/**
 * A POST through node:http on a connection of its own, which waits for the answer as long as it
 * takes: fetch (undici) gives up after 300 s without response headers, and at load ~25 (other
 * work on the 2 cores) the one decoding thread took longer than that to reach the last upload.
 */
function post(url: string, body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent: false, headers: { 'content-length': body.length } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString() }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}
test('8 concurrent 15 MB uploads of 250,000 distinct stacks: no piece of work holds the event loop for 100 ms; /ready answers meanwhile', async (t) => {
  // The server stamps each turn over 20 ms on stderr (event-loop.ts): the longest of the uploads'
  // turns, for the test's output (the /metrics maximum includes the server's start).
  const kiln = await startKiln(['--retention', '0'], { env: { KILN_DEBUG_LOOP: '20' } })
  try {
    const before = (await call(`${kiln.url}/metrics`)).text
    if (metric(before, 'kiln_event_loop_busy_seconds_count') === undefined)
      return t.skip('the kernel gives no per-thread CPU time (/proc/thread-self/schedstat): Linux only')
    const bodies = hostileUploads(UPLOADS)
    assert.ok(
      bodies.every((b) => b.length > 15e6 && b.length < 16 << 20),
      `${bodies[0]!.length} bytes each`,
    )
    let finished = 0
    let answeredBefore = 0
    const uploads = bodies.map((body, i) => post(`${kiln.url}/ingest?${q({ name: `hostile${i}.cpu` })}`, body).finally(() => finished++))
    const poller = (async () => {
      while (finished < uploads.length) {
        const r = await fetch(`${kiln.url}/ready`)
        await r.text()
        if (r.status === 200 && finished === 0) answeredBefore++
      }
    })()
    const answers = await Promise.all(uploads)
    await poller
    for (const u of answers) assert.equal(u.status, 200, u.text.slice(0, 200))
    const after = (await call(`${kiln.url}/metrics`)).text
    const busy = (name: string) => metric(after, name)! - metric(before, name)!
    const ticks = busy('kiln_event_loop_busy_seconds_count')
    const over = (le: string) => ticks - busy(`kiln_event_loop_busy_seconds_bucket{le="${le}"}`)
    // Stamps of turns that began after the server's first firing (the start-up's turn begins at 0).
    const stamped = [...kiln.stderr().matchAll(/held for ([\d.]+) ms of CPU \(monotonic (\d+) to/g)]
      .filter((m) => m[2] !== '0')
      .map((m) => Number(m[1]))
    const longest = `longest ${stamped.length ? Math.max(...stamped) : '<= 20'} ms; ${over('0.05')} over 50 ms, ${stamped.length} over 20 ms`
    t.diagnostic(`${ticks} turns during the uploads: ${longest}`)
    assert.ok(ticks > 0, 'the monitor ran during the uploads')
    // Before this work a turn of several seconds (decoding) or ~0.5 s (the cache check) was usual.
    assert.equal(over('0.1'), 0, `${over('0.1')} of ${ticks} turns held the event loop for more than 100 ms of CPU (${longest})`)
    assert.ok(answeredBefore >= 3, `/ready answered ${answeredBefore} times before the first upload finished`)
    assert.ok(metric(after, 'kiln_store_samples_written_total')! >= UPLOADS * HOSTILE_STACKS, 'every sample was written')
  } finally {
    await kiln.dispose()
  }
})

test('/ready turns 503 while the store refuses writes, and 200 once it takes them again; what was acknowledged meanwhile is kept', async () => {
  // In this process, to reach the engine: a MergeTree that holds as many parts as it allows
  // refuses inserts with TOO_MANY_PARTS, as it does when merges cannot keep up (or the disk fills).
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-ready-'))
  const server = await startServer({ ...defaults, port: 0, host: '127.0.0.1', dataDir, retention: '0', selfProfile: false }, () => {})
  const url = server.url.replace('localhost', '127.0.0.1')
  const ingest = (body: string) => call(`${url}/ingest?${q({ name: 'ready.cpu' })}`, { method: 'POST', body })
  const ready = () => call(`${url}/ready`)
  const work = async () =>
    (await call(`${url}/api/v1/top?${q({ type: CPU, query: '{service_name="ready"}', from: 'now-1h' })}`)).json.rows.find(
      (r: { name: string }) => r.name === 'work',
    )?.self
  const limitParts = (n: number) =>
    server.ctx.store.client.command({ query: `ALTER TABLE ${server.ctx.store.db}.samples MODIFY SETTING parts_to_throw_insert = ${n}` })
  try {
    assert.equal((await ingest('main;work 1\n')).status, 200)
    assert.equal((await ready()).status, 200)
    // In the engine (a query waits for it) before the limit: else its insert and the next run
    // side by side, both see no part, and both pass.
    assert.equal(await work(), 1e7)
    await limitParts(1)
    // Acknowledged once in the write-ahead log; the engine refuses it for now.
    assert.equal((await ingest('main;work 2\n')).status, 200)
    // A query waits for the engine's answer to what was acknowledged before it.
    assert.equal(await work(), 1e7, 'not readable while the engine refuses it')
    const down = await ready()
    assert.equal(down.status, 503)
    assert.match(down.text, /the store refuses writes: .*parts/i)
    await limitParts(3000)
    assert.equal((await ingest('main;work 3\n')).status, 200)
    // The refused insert is tried again until the engine takes it: the client was told it is stored.
    assert.equal(await work(), 6e7, 'every acknowledged write is stored, once')
    assert.equal((await ready()).status, 200)
  } finally {
    await server.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
})
