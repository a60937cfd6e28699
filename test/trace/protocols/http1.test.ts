import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { connect } from 'node:net'
import { startNginx, which } from '../services.ts'
import { tcpProxy, type Recorder } from './proxy.ts'
import { cut, fuzz, junk, mutate, parse, rng, run, script, split } from './support.ts'
import type { DataEvent } from '../../../src/trace/types.ts'

const SEED = 9001
const rows = (events: DataEvent[], opts = {}) => parse('http', events, opts).records.map((r) => r.row)

/** Sends raw bytes through the proxy on one connection and waits until the server closes or `ms` pass. */
async function raw(port: number, chunks: string[], ms = 400): Promise<void> {
  const s = connect(port, '127.0.0.1')
  await new Promise((r) => s.once('connect', r))
  for (const c of chunks) {
    s.write(c)
    await new Promise((r) => setTimeout(r, 30))
  }
  s.resume()
  await new Promise<void>((r) => {
    const t = setTimeout(() => {
      s.destroy()
      r()
    }, ms)
    s.once('close', () => {
      clearTimeout(t)
      r()
    })
  })
}

let nginxEvents: DataEvent[] = []

test('nginx and curl: keep-alive requests on one connection, HEAD, POST, and the same under capture gaps', async (t) => {
  if (!which('curl')) return t.skip('curl is not installed')
  const svc = await startNginx()
  if ('skip' in svc) return t.skip(svc.skip)
  const proxy = await tcpProxy(svc.port)
  try {
    const base = `http://127.0.0.1:${proxy.port}`
    const r = await run('curl', ['-s', '-o', '/dev/null', `${base}/`, `${base}/json`, `${base}/big`, `${base}/status/404`])
    assert.equal(r.code, 0, r.stderr)
    await run('curl', ['-s', '-I', `${base}/`])
    await run('curl', ['-s', '-o', '/dev/null', '-H', 'Content-Type: application/json', '-d', '{"a":1}', `${base}/json`])
    await proxy.close()
    const [keep, head, post] = proxy.conns().map((c) => proxy.events(c))
    nginxEvents = keep!
    const k = rows(keep!)
    assert.deepEqual(
      k.map((x) => [x.req_method, x.req_path, x.resp_status, x.resp_body_size]),
      [
        ['GET', '/', 200, 6],
        ['GET', '/json', 200, 11],
        ['GET', '/big', 200, 20000],
        ['GET', '/status/404', 404, (k[3]?.resp_body_size as number) || -1],
      ],
    )
    assert.ok((k[3]!.resp_body_size as number) > 100, 'nginx 404 page')
    assert.equal(k[0]!.resp_body, 'hello\n')
    assert.equal(k[0]!.resp_message, 'OK')
    assert.equal(k[1]!.content_type, 1)
    assert.equal(k[1]!.resp_body, '{"ok":true}')
    assert.equal((k[2]!.resp_body as string).length, 512, 'body prefix cut at 512 bytes')
    assert.equal(k[0]!.major_version, 1)
    assert.equal(k[0]!.minor_version, 1)
    const hdrs = JSON.parse(k[0]!.req_headers as string)
    assert.equal(hdrs.Host, `127.0.0.1:${proxy.port}`)
    assert.match(JSON.parse(k[0]!.resp_headers as string).Server, /^nginx/)
    for (const x of k) assert.ok((x.latency as number) > 0 && (x.latency as number) < 5e9, `latency ${x.latency}`)
    const h = rows(head!)
    assert.deepEqual(
      h.map((x) => [x.req_method, x.resp_status, x.resp_body_size]),
      [['HEAD', 200, 0]],
    )
    const p = rows(post!)
    assert.deepEqual(
      p.map((x) => [x.req_method, x.req_body, x.req_body_size, x.content_type]),
      [['POST', '{"a":1}', 7, 1]],
    )
    // nginx answers a POST to a `return` location with 405? No: `return` answers any method.
    assert.equal(p[0]!.resp_status, 200)

    // Capture that copies only the first N bytes of each transfer: headers cut, bodies counted.
    for (const n of [4096, 512, 200]) {
      const g = rows(cut(keep!, n))
      assert.deepEqual(
        g.map((x) => [x.req_path, x.resp_status]),
        k.map((x) => [x.req_path, x.resp_status]),
        `cut at ${n}`,
      )
      // Every response head here fits in 512 bytes, so Content-Length still counts the body.
      if (n >= 512)
        assert.deepEqual(
          g.map((x) => x.resp_body_size),
          k.map((x) => x.resp_body_size),
          `cut at ${n}`,
        )
    }
    // And in pieces of 1–7 bytes, as tiny reads would deliver them.
    assert.deepEqual(rows(split(keep!, 7)), k)
  } finally {
    await proxy.close()
    await svc.stop()
  }
})

test('nginx: pipelined requests in one write (GET, HEAD, GET) pair in order', async (t) => {
  const svc = await startNginx()
  if ('skip' in svc) return t.skip(svc.skip)
  const proxy = await tcpProxy(svc.port)
  try {
    await raw(proxy.port, [
      'GET /json HTTP/1.1\r\nHost: x\r\n\r\nHEAD /big HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ])
    await proxy.close()
    const r = rows(proxy.events())
    assert.deepEqual(
      r.map((x) => [x.req_method, x.req_path, x.resp_status, x.resp_body_size]),
      [
        ['GET', '/json', 200, 11],
        ['HEAD', '/big', 200, 0],
        ['GET', '/', 200, 6],
      ],
    )
  } finally {
    await proxy.close()
    await svc.stop()
  }
})

/** A Node server with chunked, empty, not-modified and close-delimited answers. */
async function nodeServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      if (req.url === '/chunked') {
        res.setHeader('Content-Type', 'text/plain')
        res.write('first;')
        setTimeout(() => res.end('second:' + body), 5)
      } else if (req.url === '/empty') {
        res.statusCode = 204
        res.end()
      } else if (req.url === '/cached') {
        res.statusCode = 304
        res.end()
      } else {
        res.end(`got ${body.length}`)
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const a = server.address()
  return { port: typeof a === 'object' && a ? a.port : 0, close: () => new Promise((r) => server.close(() => r())) }
}

test('Node http: chunked request and response bodies, 204, 304, a close-delimited HTTP/1.0 response', async () => {
  const srv = await nodeServer()
  const proxy: Recorder = await tcpProxy(srv.port)
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    const call = (path: string, method = 'GET', chunks: string[] = []) =>
      new Promise<string>((resolve, reject) => {
        const req = http.request({ port: proxy.port, host: '127.0.0.1', path, method, agent }, (res) => {
          let b = ''
          res.on('data', (d) => (b += d))
          res.on('end', () => resolve(b))
        })
        req.on('error', reject)
        for (const c of chunks) req.write(c)
        req.end()
      })
    assert.equal(await call('/chunked', 'POST', ['abc', 'defg']), 'first;second:abcdefg')
    await call('/empty')
    await call('/cached')
    await call('/other', 'PUT', ['x'.repeat(3000)])
    agent.destroy()
    await raw(proxy.port, ['GET /chunked HTTP/1.0\r\n\r\n'])
    await proxy.close()
    const [ka, old] = proxy.conns().map((c) => proxy.events(c))
    const r = rows(ka!)
    assert.deepEqual(
      r.map((x) => [x.req_method, x.req_path, x.req_body, x.req_body_size, x.resp_status, x.resp_body, x.resp_body_size]),
      [
        ['POST', '/chunked', 'abcdefg', 7, 200, 'first;second:abcdefg', 20],
        ['GET', '/empty', '', 0, 204, '', 0],
        ['GET', '/cached', '', 0, 304, '', 0],
        ['PUT', '/other', 'x'.repeat(512), 3000, 200, 'got 3000', 8],
      ],
    )
    const o = rows(old!)
    // Node answers an HTTP/1.0 request in HTTP/1.1 without a length, so the body ends at the close.
    assert.deepEqual(
      o.map((x) => [x.req_path, x.resp_body, x.resp_body_size]),
      [['/chunked', 'first;second:', 13]],
    )
  } finally {
    await proxy.close()
    await srv.close()
  }
})

test('hand-built: pipelined chunked responses with trailers, fed whole and byte by byte', () => {
  const ev = script(
    [true, 'GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n'],
    [
      false,
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n1;ext=1\r\nz\r\n0\r\n\r\n',
    ],
  )
  const want = [
    ['/a', 200, 'abc', 3],
    ['/b', 201, 'z', 1],
  ]
  const pick = (r: ReturnType<typeof rows>) => r.map((x) => [x.req_path, x.resp_status, x.resp_body, x.resp_body_size])
  assert.deepEqual(pick(rows(ev)), want)
  assert.deepEqual(pick(rows(split(ev, 1))), want)
})

test('hand-built: CR CR after a chunk is an error, then the next response parses (it looped forever)', () => {
  const ev = script(
    [true, 'GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n'],
    [false, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\r\r\n0\r\n\r\n'],
    [false, 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb'],
  )
  const { records, parser } = parse('http', ev)
  assert.deepEqual(
    records.map((r) => [r.row.req_path, r.row.resp_body]),
    [
      ['/a', 'hello'],
      ['/b', 'b'],
    ],
  )
  assert.equal(parser.stats.errors, 1)
})

test('hand-built: header JSON as JSON.stringify of the fields in order — escapes, repeats joined, index-like names first', () => {
  const ev = script(
    [true, 'GET /h HTTP/1.1\r\nHost: h\r\nX-Q: say "hi" \\ \tbye\r\nCaf\xe9: ol\xe9\r\n\r\n'],
    [false, 'HTTP/1.1 200 OK\r\nServer: s\r\nAccept: a\r\naccept: b\r\nAccept: c\r\nContent-Length: 0\r\n\r\n'],
    [true, 'GET /i HTTP/1.1\r\nHost: h\r\n123: n\r\n\r\n'],
    [false, 'HTTP/1.1 204 No Content\r\n\r\n'],
  )
  const [r, i] = rows(ev)
  // Written field by field: quotes, backslash and the tab escaped, Latin-1 kept.
  assert.equal(r!.req_headers, JSON.stringify({ Host: 'h', 'X-Q': 'say "hi" \\ \tbye', Café: 'olé' }))
  // A repeated name joined in its first place; an index-like name first, as in an object.
  assert.equal(r!.resp_headers, JSON.stringify({ Server: 's', Accept: 'a, c', accept: 'b', 'Content-Length': '0' }))
  assert.equal(i!.req_headers, '{"123":"n","Host":"h"}')
  assert.equal(i!.resp_headers, '{}')
})

test('hand-built: 100-continue, a response with no request, an unanswered request, the body limit option', () => {
  const ev = script(
    [false, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi'],
    [true, 'POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n'],
    [false, 'HTTP/1.1 100 Continue\r\n\r\n'],
    [true, '0123456789'],
    [false, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'],
    [true, 'GET /never HTTP/1.1\r\n\r\n'],
  )
  const { records, parser } = parse('http', ev, { maxBodyBytes: 4 })
  assert.deepEqual(
    records.map((r) => [r.row.req_path, r.row.resp_status, r.row.req_body, r.row.req_body_size]),
    [['/up', 200, '0123', 10]],
  )
  assert.equal(parser.stats.unmatched, 2, 'the response before any request and /never')
  assert.equal(parser.stats.records, 1)
})

test('hand-built gaps: inside a body, past a chunk, inside the headers; the next message resynchronises', () => {
  const t0 = 1_000_000_000n
  const ev: DataEvent[] = [
    { timeNs: t0, fromClient: true, data: Buffer.from('GET /1 HTTP/1.1\r\n\r\n'), size: 19 },
    { timeNs: t0 + 1n, fromClient: false, data: Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nab'), size: 43 + 100000 },
    { timeNs: t0 + 2n, fromClient: true, data: Buffer.from('GET /2 HTTP/1.1\r\n\r\n'), size: 19 },
    { timeNs: t0 + 3n, fromClient: false, data: Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab'), size: 10_000 },
    { timeNs: t0 + 4n, fromClient: false, data: Buffer.from('more of the same body that no longer frames'), size: 43 },
    { timeNs: t0 + 5n, fromClient: true, data: Buffer.from('GET /3 HTTP/1.1\r\nHost: example\r\nUser-Ag'), size: 400 },
    { timeNs: t0 + 6n, fromClient: false, data: Buffer.from('HTTP/1.1 404 Not Found\r\nContent-Le'), size: 300 },
    { timeNs: t0 + 7n, fromClient: true, data: Buffer.from('GET /4 HTTP/1.1\r\n\r\n'), size: 19 },
    { timeNs: t0 + 8n, fromClient: false, data: Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n!'), size: 39 },
  ]
  const { records } = parse('http', ev)
  assert.deepEqual(
    records.map((r) => [r.row.req_path, r.row.resp_status, r.row.resp_body_size]),
    [
      ['/1', 200, 100000],
      ['/2', 200, 5],
      ['/3', 404, 0],
      ['/4', 200, 1],
    ],
  )
  assert.equal(JSON.parse(records[2]!.row.req_headers as string).Host, 'example')
})

test('hand-built: 101 Switching Protocols ends HTTP/1 parsing; binary junk never throws', () => {
  const ev = script(
    [true, 'GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'],
    [false, 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n'],
    [true, Buffer.from([0x81, 0x85, 1, 2, 3, 4, 5, 6, 7, 8, 9])],
    [true, 'GET /not-http-any-more HTTP/1.1\r\n\r\n'],
    [false, 'HTTP/1.1 200 OK\r\n\r\n'],
  )
  const { records } = parse('http', ev)
  assert.deepEqual(
    records.map((r) => r.row.resp_status),
    [101],
  )
})

test('fuzz: mutated nginx recordings, split recordings and random bytes never throw and stay bounded', () => {
  const r = rng(SEED)
  const base = nginxEvents.length
    ? nginxEvents
    : script([true, 'GET / HTTP/1.1\r\n\r\n'], [false, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'])
  const inputs: DataEvent[][] = []
  for (let i = 0; i < 300; i++) inputs.push(mutate(base, r))
  for (let i = 0; i < 100; i++) inputs.push(junk(r))
  for (let i = 0; i < 20; i++) inputs.push(split(mutate(base, r), 5, i))
  // A head that never ends and a chunk size line that never ends.
  inputs.push(script([true, 'GET / HTTP/1.1\r\n' + 'X: y\r\n'.repeat(20000)]))
  inputs.push(script([true, 'GET / HTTP/1.1\r\n\r\n'], [false, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' + 'f'.repeat(5000)]))
  const { errors } = fuzz('http', inputs)
  assert.ok(errors > 0, 'malformed input is counted')
})
