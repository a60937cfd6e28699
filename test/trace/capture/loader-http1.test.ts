/**
 * The loader's HTTP/1 path (bpf/http1.c) against the agent's own parser, on the same bytes: a
 * stream of capture events is run through the built loader in --replay mode (no kernel, no root),
 * and its output and the stream itself go through the agent's connection tracker. The rows, the
 * unmatched counts and the conn_stats bytes must be the same; the loader must have made the rows
 * where it can (keep-alive, pipelining, chunked bodies) and handed back the rest without losing one.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { buildLoader } from '../../../src/trace/capture/build.ts'
import { ConnTracker } from '../../../src/trace/capture/connections.ts'
import { EventDecoder, EventType } from '../../../src/trace/capture/wire.ts'
import { rng } from '../protocols/support.ts'

const tools = ['clang', 'bpftool', 'cc'].filter((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0)
const skip = tools.length
  ? `the loader is built on the host and needs ${tools.join(', ')}: apt-get install clang bpftool libbpf-dev gcc`
  : false
const loader = skip ? '' : buildLoader()

const OFFSET = 1_700_000_000_000_000_000n

/** A capture stream being written: events as bpf/events.h lays them out. */
class Stream {
  private parts: Buffer[] = []
  private ts = 1_000_000n
  constructor() {
    const h = this.header(EventType.hello, 0, 0, 0, 8, 8)
    const d = Buffer.alloc(8)
    d.writeBigInt64LE(OFFSET)
    this.parts.push(h, d)
  }

  private header(type: number, conn: number, dir: number, role: number, size: number, cap: number): Buffer {
    const h = Buffer.alloc(112)
    this.ts += 1000n + BigInt(conn % 7)
    h.writeBigUInt64LE(this.ts, 0)
    h.writeUInt32LE(0x1000 + conn * 64, 8)
    h.writeUInt32LE(0xffff8880, 12)
    h.writeUInt32LE(4242, 24)
    h.writeUInt32LE(3 + conn, 28)
    h.writeUInt32LE(size, 32)
    h.writeUInt32LE(cap, 36)
    h[40] = type
    h[41] = dir
    h[43] = role
    h.writeUInt16LE(2, 44)
    h.writeUInt16LE(6, 46)
    h.writeUInt16LE(40000 + conn, 48)
    h.writeUInt16LE(8080, 50)
    h.set([127, 0, 0, 1], 56)
    h.set([127, 0, 0, 2], 72)
    h.write('app', 96)
    return h
  }

  /** A transfer on connection `conn`: `dir` 0 sent, 1 received; `gap` bytes moved past those captured. */
  data(conn: number, dir: number, bytes: string | Buffer, gap = 0): this {
    const b = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes
    this.parts.push(this.header(EventType.data, conn, dir, 0, b.length + gap, b.length), b)
    return this
  }

  open(conn: number, role: 1 | 2): this {
    this.parts.push(this.header(EventType.open, conn, 0, role, 0, 0))
    return this
  }

  close(conn: number): this {
    this.parts.push(this.header(EventType.close, conn, 0, 0, 0, 0))
    return this
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts)
  }
}

interface Seen {
  rows: string[]
  unmatched: number
  loaderRecords: number
}

/** The rows the agent makes of a stream (http_events with their connection columns, and conn_stats). */
function track(stream: Buffer): Seen {
  const rows: string[] = []
  const tracker = new ConnTracker({
    emit: (table, row, _p, cols) => rows.push(canon(table, `${JSON.stringify(row).slice(0, -1)}${cols ? `,${cols}` : ''}}`)),
    emitText: (table, text, _p, cols) => rows.push(canon(table, `${text},${cols}}`)),
    alive: () => true,
  })
  for (const ev of new EventDecoder().push(stream)) {
    if (ev.type === EventType.hello) tracker.offsetNs = ev.data.readBigInt64LE(0)
    else if (ev.type <= EventType.close || ev.type === EventType.http) tracker.handle(ev)
  }
  tracker.endAll(0n)
  tracker.flushConnStats(0n)
  return { rows: rows.sort(), unmatched: tracker.stats.unmatched, loaderRecords: tracker.stats.loaderRecords }
}

/** A row as sorted JSON: the same row whatever order its members were written in. */
function canon(table: string, json: string): string {
  const o = JSON.parse(json) as Record<string, unknown>
  return `${table} ${JSON.stringify(Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1))))}`
}

function throughLoader(stream: Buffer, args: string[] = []): Buffer {
  const r = spawnSync(loader, ['--replay', ...args], { input: stream, maxBuffer: 1 << 30 })
  assert.equal(r.status, 0, `the loader exited with ${r.status ?? r.signal}: ${r.stderr}`)
  return r.stdout
}

/** Runs a stream both ways; the rows must agree. Returns the loader side's view. */
function same(stream: Stream, what: string): Seen {
  const bytes = stream.bytes()
  const direct = track(bytes)
  const loaded = track(throughLoader(bytes))
  assert.deepEqual(loaded.rows, direct.rows, `${what}: the loader's rows differ from the agent parser's`)
  assert.equal(loaded.unmatched, direct.unmatched, `${what}: unmatched`)
  return loaded
}

const req = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: example.test\r\nUser-Agent: t/1\r\n${extra}\r\n`
const resp = (body: string, extra = '') =>
  `HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}\r\n${extra}\r\n${body}`

test('keep-alive: every pair on one connection is a row the loader made', { skip }, () => {
  const s = new Stream().open(1, 1)
  for (let i = 0; i < 40; i++) s.data(1, 0, req(`/page/${i}`)).data(1, 1, resp(`<p>page ${i}</p>`))
  // A POST with a JSON body, a HEAD (its response has a length and no body), a 204 and a 304.
  s.data(1, 0, 'POST /api HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{"a":"\\"b"}\n')
  s.data(1, 1, 'HTTP/1.1 201 Created\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}')
  s.data(1, 0, 'HEAD / HTTP/1.1\r\nHost: h\r\n\r\n').data(1, 1, 'HTTP/1.1 200 OK\r\nContent-Length: 615\r\n\r\n')
  s.data(1, 0, req('/none')).data(1, 1, 'HTTP/1.1 204 No Content\r\n\r\n')
  s.data(1, 0, req('/cached')).data(1, 1, 'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n')
  s.data(1, 0, req('/after')).data(1, 1, resp('done'))
  // The server side of another connection (accept(): requests arrive, responses leave).
  s.open(2, 2).data(2, 1, req('/srv')).data(2, 0, resp('x')).close(2)
  s.close(1)
  const r = same(s, 'keep-alive')
  assert.equal(r.rows.filter((x) => x.startsWith('http_events')).length, 46)
  assert.equal(r.loaderRecords, 46, 'the loader made every row')
})

test('pipelining: requests sent together, responses in one transfer and cut across two', { skip }, () => {
  const s = new Stream()
  s.data(3, 0, req('/a') + req('/b') + req('/c'))
  const all = resp('A') + resp('BB') + resp('CCC')
  s.data(3, 1, all.slice(0, 150)).data(3, 1, all.slice(150))
  s.data(3, 0, req('/d') + req('/e'))
    .data(3, 1, resp('D') + resp('E'))
    .close(3)
  const r = same(s, 'pipelining')
  assert.equal(r.loaderRecords, 5)
})

test('heads split over writes: joined in the loader, or handed back with the requests before them', { skip }, () => {
  const s = new Stream()
  s.data(4, 0, req('/first')).data(4, 1, resp('1'))
  // The second request's head in two transfers, a response split too.
  const r2 = req('/second')
  s.data(4, 0, r2.slice(0, 20)).data(4, 0, r2.slice(20))
  const p = resp('22')
  s.data(4, 1, p.slice(0, 30)).data(4, 1, p.slice(30))
  s.data(4, 0, req('/third')).data(4, 1, resp('3')).close(4)
  // Pipelined, one head split while the request before it waits for its response.
  s.data(5, 0, req('/p1') + req('/p2').slice(0, 10))
    .data(5, 0, req('/p2').slice(10))
    .data(5, 1, resp('a') + resp('b'))
  // A head in three transfers, the blank line's CRLFs split; then one cut by a capture gap (the agent's).
  const r3 = req('/three')
  s.data(5, 0, r3.slice(0, 5)).data(5, 0, r3.slice(5, -3)).data(5, 0, r3.slice(-3)).data(5, 1, resp('3'))
  s.data(5, 0, req('/gap').slice(0, 12), 40).data(5, 1, resp('g')).data(5, 0, req('/last')).data(5, 1, resp('l')).close(5)
  const r = same(s, 'split head')
  assert.equal(r.rows.filter((x) => x.startsWith('http_events')).length, 8)
  assert.equal(r.loaderRecords, 6, 'the gap hands the connection back: its last two pairs are the agent’s')
})

test('chunked bodies: chunk sizes and data across transfers, extensions and trailers', { skip }, () => {
  const s = new Stream()
  const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n'
  s.data(6, 0, req('/c1')).data(6, 1, `${chunked}5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n`)
  s.data(6, 0, req('/c2'))
    .data(6, 1, `${chunked}1`)
    .data(6, 1, '0\r\n0123456789abcdef')
    .data(6, 1, '\r')
    .data(6, 1, '\n0\r\nX-T: 1\r\n\r\n')
  s.data(6, 0, 'POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n').data(6, 1, resp('ok'))
  // A body larger than the prefix and past what capture copied (16 KiB cut: the size says more).
  s.data(6, 0, req('/big')).data(6, 1, resp('z'.repeat(3000)).slice(0, 2000), resp('z'.repeat(3000)).length - 2000)
  s.data(6, 0, req('/after')).data(6, 1, resp('end')).close(6)
  const r = same(s, 'chunked')
  assert.equal(r.loaderRecords, 5)
})

test('a 1 MB upload and a 1 MB download in 64 KiB transfers cut at 16 KiB stay the loader’s', { skip }, () => {
  const s = new Stream()
  const big = 1 << 20
  const body = (c: number, dir: number, head: string) => {
    s.data(c, dir, head + 'b'.repeat(1000))
    for (let left = big - 1000; left > 0; left -= 65536)
      s.data(c, dir, 'b'.repeat(Math.min(left, 16384)), Math.max(0, Math.min(left, 65536) - 16384))
  }
  body(18, 0, `POST /upload HTTP/1.1\r\nContent-Length: ${big}\r\n\r\n`)
  s.data(18, 1, resp('stored'))
  s.data(18, 0, req('/download'))
  body(18, 1, `HTTP/1.1 200 OK\r\nContent-Length: ${big}\r\n\r\n`)
  // Handed back mid-upload (a head the loader leaves to the agent follows it on the response side).
  body(19, 0, `POST /cut HTTP/1.1\r\nContent-Length: ${big}\r\n\r\n`)
  s.data(19, 1, 'HTTP/1.1 101 Switching Protocols\r\n\r\n').close(19).close(18)
  const r = same(s, 'large bodies')
  assert.equal(r.loaderRecords, 2)
  assert.ok(r.rows.some((x) => x.includes(`"req_body_size":${big}`) && x.includes('/upload')))
})

test('a response without its request (attached mid-connection), then pairs', { skip }, () => {
  const s = new Stream()
  s.data(7, 1, resp('orphan')).data(7, 0, req('/x')).data(7, 1, resp('x')).close(7)
  // Mid-body: the first bytes seen are the end of a body; the agent's parser handles those.
  s.data(8, 1, 'tail of a body</html>').data(8, 0, req('/y')).data(8, 1, resp('y')).close(8)
  const r = same(s, 'mid-connection')
  // The orphan response, and the body's tail the agent's parser read as a broken response.
  assert.equal(r.unmatched, 2)
  assert.equal(r.loaderRecords, 1)
})

test('100 Continue and repeated fields (values joined) are the loader’s; the agent’s own cases go back', { skip }, () => {
  const s = new Stream()
  const post = 'POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n'
  s.data(17, 0, post).data(17, 1, 'HTTP/1.1 100 Continue\r\n\r\n').data(17, 0, 'hello').data(17, 1, resp('ok'))
  s.data(17, 0, req('/cookies')).data(17, 1, resp('c', 'Set-Cookie: a=1\r\nVary: x\r\nSet-Cookie: \r\nSet-Cookie: b=2\r\n')).close(17)
  const r = same(s, '100-continue, repeats')
  assert.equal(r.loaderRecords, 2)
  assert.ok(
    r.rows.some((x) => x.includes('"Set-Cookie\\":\\"a=1, , b=2\\"')),
    r.rows.join('\n'),
  )
})

test('huge and odd heads, binary and Latin-1 bodies, an upgrade, a close-delimited body: the same rows either way', { skip }, () => {
  const s = new Stream()
  const big = `X-Big: ${'v'.repeat(12_000)}\r\n`
  s.data(9, 0, req('/huge', big)).data(9, 1, resp('h')) // the loader's: one transfer
  s.data(10, 0, req('/cut', `X-Big: ${'v'.repeat(20_000)}\r\n`).slice(0, 16384), 4000)
    .data(10, 1, resp('c'))
    .close(10)
  s.data(11, 0, req('/dup')).data(11, 1, resp('d', 'Set-Cookie: a=1\r\nVary: x\r\nSet-Cookie: \r\nSet-Cookie: b=2\r\n')).close(11)
  s.data(12, 0, req('/latin', 'X-Name: caf\xe9\r\n 42: index\r\n')).data(12, 1, resp('\u00e9t\u00e9 in latin1 bytes')).close(12)
  s.data(13, 0, req('/utf8'))
    .data(13, 1, resp(Buffer.from('été ✓', 'utf8').toString('latin1')))
    .close(13)
  s.data(14, 0, req('/bin')).data(14, 1, resp('\x00\x01\\binary\xff')).close(14)
  s.data(15, 0, 'GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n')
    .data(15, 1, 'HTTP/1.1 101 Switching Protocols\r\n\r\n')
    .data(15, 0, '\x81\x05hello')
    .close(15)
  s.data(16, 0, req('/close')).data(16, 1, 'HTTP/1.0 200 OK\r\n\r\nread until close').close(16)
  s.close(9)
  same(s, 'unusual heads')
})

/** Random bytes, and good messages cut and mixed with them. */
function fuzzStream(seed: number): Stream {
  const rand = rng(seed)
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!
  const s = new Stream()
  const pieces = [
    () => req(`/r${Math.floor(rand() * 100)}`),
    () => resp('body'.repeat(Math.floor(rand() * 50))),
    () => 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwxyz\r\n0\r\n\r\n',
    () => 'POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello',
    () => 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n',
    () => String.fromCharCode(...Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256))),
    () => '\r\n',
    () => '0\r\n\r\n',
  ]
  for (let conn = 20; conn < 40; conn++) {
    if (rand() < 0.3) s.open(conn, rand() < 0.5 ? 1 : 2)
    const first = rand() < 0.8 ? req('/start') : resp('first')
    const dir0 = rand() < 0.5 ? 0 : 1
    s.data(conn, dir0, first)
    for (let i = 0; i < 30; i++) {
      let text = ''
      for (let k = 1 + Math.floor(rand() * 3); k > 0; k--) text += pick(pieces)()
      const dir = rand() < 0.5 ? dir0 : 1 - dir0
      // Cut anywhere, sometimes with a capture gap after the cut.
      for (let at = 0; at < text.length; ) {
        const n = 1 + Math.floor(rand() * (text.length - at))
        s.data(conn, dir, text.slice(at, at + n), rand() < 0.05 ? Math.floor(rand() * 100) : 0)
        at += n
      }
    }
    if (rand() < 0.7) s.close(conn)
  }
  return s
}

test('fuzz: random and cut traffic never crashes the loader and gives the agent parser’s rows', { skip }, () => {
  let records = 0
  for (let seed = 1; seed <= 60; seed++) records += same(fuzzStream(seed), `seed ${seed}`).loaderRecords
  assert.ok(records > 40, `the loader made ${records} rows of the fuzzed traffic`)
})

/** The http_events rows of a loader's output as written: [flags, row text] (after the 16 counter bytes). */
const loaderRows = (out: Buffer): [number, string][] =>
  [...new EventDecoder().push(out)]
    .filter((ev) => ev.type === EventType.http && ev.data.length > 16)
    .map((ev) => [ev.flags, ev.data.subarray(16).toString('utf8')])

test('--http1-rows compact: each row is the object form’s values in the documented order, flagged', { skip }, () => {
  const s = fuzzStream(7)
  s.data(40, 0, req('/a', 'X-Q: "quoted"\r\n')).data(40, 1, resp('{"json":true}')).data(40, 0, req('/b')).data(40, 1, resp('\x00bin'))
  const bytes = s.bytes()
  const objects = loaderRows(throughLoader(bytes))
  const arrays = loaderRows(throughLoader(bytes, ['--http1-rows', 'compact']))
  assert.ok(objects.length >= 2, `rows: ${objects.length}`)
  assert.equal(arrays.length, objects.length)
  // events.h, FL_COMPACT: the order the agent reads the values in.
  const order =
    'major_version minor_version content_type req_headers req_method req_path req_body req_body_size resp_headers resp_status resp_message resp_body resp_body_size latency time_'
  for (const [i, [flags, text]] of objects.entries()) {
    const [cflags, ctext] = arrays[i]!
    assert.equal(flags & 2, 0, 'object rows are not flagged compact')
    assert.equal(cflags & 2, 2, 'compact rows are flagged')
    const o = JSON.parse(`${text}}`) as Record<string, unknown>
    assert.equal(Object.keys(o).join(' '), order)
    assert.deepEqual(JSON.parse(`${ctext}]`), Object.values(o))
  }
})
