/**
 * kiln run's HTTP/1.1 transport: the response parser on byte-split and malformed input (fuzzed),
 * and real sockets — keep-alive reuse, a server closing an idle connection, bodies delimited
 * by length, chunks and close, timeouts, refused connections, TLS with and without verification.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import https from 'node:https'
import http2 from 'node:http2'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ResponseParser, newTransport, send, closeTransport } from '../../src/loadtest/modules/http/transport.ts'
import { kilnRun as runKiln, selfSignedCert } from './helpers.ts'

/** Parses `wire` fed in pieces of `step` bytes; returns what the parser saw, or the error text. */
function parse(
  wire: string,
  step: number,
  head = false,
): { status: number; text: string; headers: Record<string, unknown>; body: string; complete: boolean; keepAlive: boolean } | string {
  const p = new ResponseParser(head)
  const buf = Buffer.from(wire, 'latin1')
  let complete = false
  try {
    for (let i = 0; i < buf.length && !complete; i += step) complete = p.push(buf.subarray(i, i + step))
  } catch (e) {
    return (e as Error).message
  }
  if (!complete && p.headersDone) complete = p.endsAtClose()
  return {
    status: p.status,
    text: p.statusText,
    headers: { ...p.headers },
    body: p.body().toString('latin1'),
    complete,
    keepAlive: p.keepAlive,
  }
}

test('the response parser gives the same result however the bytes are split', () => {
  const cases: [string, string, Partial<{ status: number; text: string; body: string; keepAlive: boolean }>][] = [
    [
      'length',
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nX-A: 2\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nhello',
      { status: 200, text: '200 OK', body: 'hello', keepAlive: true },
    ],
    [
      'chunked with trailer',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n',
      { body: 'wikipedia' },
    ],
    [
      'chunked, no trailer',
      'HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n',
      { status: 201, body: '0123456789' },
    ],
    ['1xx skipped', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nX: y\r\n\r\n', { status: 204, body: '' }],
    ['close ends the body', 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end', { body: 'until the end', keepAlive: false }],
    ['HTTP/1.0 without keep-alive', 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok', { body: 'ok', keepAlive: false }],
    ['304 has no body', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n', { status: 304, body: '' }],
  ]
  for (const [name, wire, want] of cases) {
    const whole = parse(wire, wire.length)
    assert.equal(typeof whole, 'object', `${name}: ${String(whole)}`)
    for (const k of Object.keys(want) as (keyof typeof want)[])
      assert.equal((whole as Record<string, unknown>)[k], want[k], `${name}: ${k}`)
    assert.equal((whole as { complete: boolean }).complete, true, name)
    for (let step = 1; step < 8; step++) assert.deepEqual(parse(wire, step), whole, `${name}, pieces of ${step}`)
  }
  const h = parse(cases[0]![1], 3) as { headers: Record<string, unknown> }
  assert.deepEqual([h.headers['x-a'], h.headers['set-cookie']], ['1, 2', ['a=1', 'b=2']])
  const head = parse('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', 4, true) as { complete: boolean; body: string }
  assert.deepEqual([head.complete, head.body], [true, ''], 'a HEAD response has no body whatever its length says')
  for (const bad of [
    'HTTP/1.1 2OO OK\r\n\r\n',
    'FTP 200\r\n\r\n',
    'HTTP/1.1 200 OK\r\nno colon\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
  ]) {
    assert.equal(typeof parse(bad, 2), 'string', JSON.stringify(bad))
  }
})

test('a head seen before is not parsed again: its headers are shared and read-only, the framing still follows the request', () => {
  const wire = (date: string) => `HTTP/1.1 200 OK\r\nDate: ${date}\r\nContent-Length: 5\r\n\r\nhello`
  const a = new ResponseParser(false)
  const b = new ResponseParser(false)
  assert.equal(a.push(Buffer.from(wire('Thu, 03 Dec 2026 18:00:00 GMT'))), true)
  assert.equal(b.push(Buffer.from(wire('Thu, 03 Dec 2026 18:00:00 GMT'))), true)
  assert.equal(a.headers, b.headers, 'the same head gives the same headers object')
  assert.ok(Object.isFrozen(a.headers))
  assert.throws(() => {
    ;(a.headers as Record<string, string>)['x'] = 'y'
  }, TypeError)
  assert.equal(b.body().toString(), 'hello')
  // The same head answering HEAD: no body, whatever Content-Length says.
  const h = new ResponseParser(true)
  assert.equal(h.push(Buffer.from(wire('Thu, 03 Dec 2026 18:00:00 GMT'))), true)
  assert.equal(h.body().length, 0)
  // Another Date is another head.
  const c = new ResponseParser(false)
  c.push(Buffer.from(wire('Thu, 03 Dec 2026 18:00:01 GMT')))
  assert.notEqual(c.headers, a.headers)
  assert.equal(c.headers.date, 'Thu, 03 Dec 2026 18:00:01 GMT')
  // A bad Content-Length is an error only where the body needs it, first seen or remembered.
  const bad = 'HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n'
  assert.equal(new ResponseParser(true).push(Buffer.from(bad)), true)
  assert.throws(() => new ResponseParser(false).push(Buffer.from(bad)), /bad Content-Length 'x'/)
})

test('fuzz: the response parser never hangs or throws anything but an Error on mutated input', () => {
  const seeds = [
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n0\r\n\r\n',
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\nx',
  ]
  let seed = 42
  const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.from(seeds[i % seeds.length]!, 'latin1')
    for (let m = 0; m < 1 + rnd(4); m++) b[rnd(b.length)] = rnd(256)
    const cut = rnd(b.length + 1)
    const p = new ResponseParser(false)
    try {
      p.push(b.subarray(0, cut))
      p.push(b.subarray(cut))
      if (p.headersDone) p.endsAtClose()
      p.body()
    } catch (e) {
      assert.ok(e instanceof Error, String(e))
    }
  }
})

/** A raw TCP server: `answer(request, socket)` writes whatever bytes the case needs. */
async function rawServer(
  answer: (req: string, s: net.Socket) => void,
): Promise<{ url: string; connections: () => number; close: () => Promise<void> }> {
  let n = 0
  const socks = new Set<net.Socket>()
  const srv = net.createServer((s) => {
    n++
    socks.add(s)
    s.on('close', () => socks.delete(s))
    let buf = ''
    s.on('data', (d) => {
      buf += d.toString('latin1')
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const req = buf.slice(0, end)
        buf = buf.slice(end + 4)
        answer(req, s)
      }
    })
    s.on('error', () => {})
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as net.AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => n,
    close: () => {
      for (const s of socks) s.destroy()
      return new Promise((r) => srv.close(() => r()))
    },
  }
}

const GET = (path: string, host: string): string => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`

test('real sockets: keep-alive reuse, a closed idle connection is retried, close-delimited and chunked bodies, timeout, refused', async () => {
  let closeAfter = false
  const srv = await rawServer((req, s) => {
    const path = req.split(' ')[1]
    if (path === '/close') s.end('HTTP/1.1 200 OK\r\n\r\nall of it')
    else if (path === '/chunked') s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n')
    else if (path === '/never') return
    else {
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path!.length}\r\n\r\n${path}`)
      // The server drops the connection once the answer is out, as an idle timeout would.
      if (closeAfter) s.end()
    }
  })
  const tr = newTransport({ maxSockets: 4, insecure: false })
  try {
    const u = new URL(srv.url + '/a')
    for (const p of ['/a', '/bb', '/ccc']) {
      const r = await send(tr, u, 'GET', GET(p, u.host), undefined, 5000)
      assert.equal(r.error, undefined)
      assert.deepEqual([r.status, r.body.toString()], [200, p])
      assert.ok(r.sent > 0 && r.received > 0 && r.t.duration > 0)
    }
    assert.equal(srv.connections(), 1, 'sequential requests reuse one keep-alive connection')
    closeAfter = true
    await send(tr, u, 'GET', GET('/x', u.host), undefined, 5000)
    await new Promise((r) => setTimeout(r, 50)) // let the FIN arrive (or not: both paths must work)
    const again = await send(tr, u, 'GET', GET('/after-close', u.host), undefined, 5000)
    assert.equal(again.error, undefined, 'a request on a connection the server closed goes out on a new one')
    assert.equal(again.body.toString(), '/after-close')
    closeAfter = false
    const c = await send(tr, u, 'GET', GET('/close', u.host), undefined, 5000)
    assert.deepEqual([c.error, c.body.toString()], [undefined, 'all of it'])
    const ch = await send(tr, u, 'GET', GET('/chunked', u.host), undefined, 5000)
    assert.equal(ch.body.toString(), 'abc')
    const slow = await send(tr, u, 'GET', GET('/never', u.host), undefined, 200)
    assert.equal(slow.error?.code, 'KILN_TIMEOUT')
    const port = srv.url.split(':')[2]
    await srv.close()
    const refused = await send(
      newTransport({ maxSockets: 1, insecure: false }),
      new URL(`http://127.0.0.1:${port}/`),
      'GET',
      GET('/', `127.0.0.1:${port}`),
      undefined,
      2000,
    )
    assert.equal(refused.error?.code, 'ECONNREFUSED')
  } finally {
    closeTransport(tr)
    await srv.close().catch(() => {})
  }
})

test('HTTPS: a self-signed server fails with k6 error code 1310 unless --insecure-skip-tls-verify; tls_version is tagged', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-tls-'))
  const pem = selfSignedCert(dir)
  if ('skip' in pem) {
    t.skip(pem.skip)
    return
  }
  const srv = https.createServer(pem, (_req, res) => res.end('secure'))
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const url = `https://127.0.0.1:${(srv.address() as net.AddressInfo).port}/`
  try {
    writeFileSync(
      join(dir, 's.js'),
      `import http from 'k6/http'
export default function () {
  const r = http.get(__ENV.URL)
  console.log(JSON.stringify({ status: r.status, code: r.error_code, body: r.body, tls: r.tls_version }))
}`,
    )
    const strict = await runKiln(['run', '-q', '--no-summary', '-i', '1', '-e', `URL=${url}`, join(dir, 's.js')])
    const seen = JSON.parse(/\{"status".*\}/.exec(strict.stderr)?.[0] ?? 'null')
    assert.equal(seen?.code, 1310, strict.stderr)
    const loose = await runKiln([
      'run',
      '-q',
      '--no-summary',
      '-i',
      '2',
      '--insecure-skip-tls-verify',
      '-e',
      `URL=${url}`,
      join(dir, 's.js'),
    ])
    const ok = [...loose.stderr.matchAll(/\{"status".*\}/g)].map((m) => JSON.parse(m[0]))
    assert.deepEqual(
      ok,
      [
        { status: 200, code: 0, body: 'secure', tls: 'tls1.3' },
        { status: 200, code: 0, body: 'secure', tls: 'tls1.3' },
      ],
      loose.stderr,
    )
  } finally {
    srv.closeAllConnections()
    await new Promise((r) => srv.close(r))
  }
})

test('HTTP/2: a server that offers h2 in the TLS handshake is spoken to in HTTP/2 (proto HTTP/2.0), one session per VU reused, a batch’s requests multiplexed on it; an HTTP/1.1-only one stays on HTTP/1.1', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-h2-'))
  const creds = selfSignedCert(dir)
  if ('skip' in creds) {
    t.skip(creds.skip)
    return
  }
  let sessions = 0
  let goaway = false
  // /hold answers only once 4 requests wait: a batch's requests must be in flight together.
  let held: { res: http2.Http2ServerResponse; session: unknown }[] = []
  const sessionsPerBatch: number[] = []
  const h2srv = http2.createSecureServer({ ...creds, allowHTTP1: true }, (req, res) => {
    if (req.url === '/hold') {
      held.push({ res, session: req.stream.session })
      if (held.length < 4) return
      sessionsPerBatch.push(new Set(held.map((h) => h.session)).size)
      for (const h of held) h.res.end('held')
      held = []
      return
    }
    let body = ''
    req.on('data', (c: Buffer) => (body += c))
    req.on('end', () => {
      res.setHeader('set-cookie', ['sid=7; Path=/'])
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ v: req.httpVersion, method: req.method, path: req.url, body, cookie: req.headers.cookie ?? '' }))
      // Once: the server closes this session after answering; the next request needs a new one.
      if (req.url === '/bye' && !goaway) {
        goaway = true
        req.stream.session?.close()
      }
    })
  })
  h2srv.on('session', () => sessions++)
  const h1srv = https.createServer(creds, (_req, res) => res.end('one'))
  await Promise.all([new Promise<void>((r) => h2srv.listen(0, '127.0.0.1', r)), new Promise<void>((r) => h1srv.listen(0, '127.0.0.1', r))])
  const h2url = `https://127.0.0.1:${(h2srv.address() as net.AddressInfo).port}`
  const h1url = `https://127.0.0.1:${(h1srv.address() as net.AddressInfo).port}/`
  try {
    writeFileSync(
      join(dir, 's.js'),
      `import http from 'k6/http'
import { check } from 'k6'
export const options = { vus: 1, iterations: 3 }
export default function () {
  const g = http.get(__ENV.H2 + '/get?x=1')
  const p = http.post(__ENV.H2 + '/post', 'payload', { headers: { 'X-A': '1' } })
  const batch = http.batch([1, 2, 3, 4].map(() => ['GET', __ENV.H2 + '/hold']))
  const bye = http.get(__ENV.H2 + '/bye')
  const after = http.get(__ENV.H2 + '/after')
  const one = http.get(__ENV.H1)
  check(null, {
    'h2 GET': () => g.proto === 'HTTP/2.0' && g.status === 200 && g.status_text === '200 OK' && g.json().v === '2.0' && g.json().path === '/get?x=1',
    'h2 POST body': () => p.json().method === 'POST' && p.json().body === 'payload',
    'h2 cookies': () => g.cookies.sid[0].value === '7' && p.json().cookie === 'sid=7',
    'h2 headers': () => g.headers['Content-Type'] === 'application/json' && g.timings.duration > 0,
    'a new session after the server closed one': () => bye.status === 200 && after.status === 200 && after.proto === 'HTTP/2.0',
    'HTTP/1.1-only server': () => one.proto === 'HTTP/1.1' && one.body === 'one',
    'h2 batch': () => batch.every((r) => r.status === 200 && r.proto === 'HTTP/2.0' && r.body === 'held'),
  })
}`,
    )
    const r = await runKiln([
      'run',
      '-q',
      '--insecure-skip-tls-verify',
      '--summary-export',
      join(dir, 'sum.json'),
      '-o',
      `json=${join(dir, 'out.json')}`,
      '-e',
      `H2=${h2url}`,
      '-e',
      `H1=${h1url}`,
      join(dir, 's.js'),
    ])
    assert.equal(r.code, 0, r.stderr)
    const sum = JSON.parse(readFileSync(join(dir, 'sum.json'), 'utf8'))
    assert.equal(sum.metrics.checks.fails, 0, r.stderr)
    assert.equal(sum.metrics.checks.passes, 21)
    // One session for the VU, plus the one opened after the server closed it (cookies reset per iteration, connections do not).
    assert.equal(sessions, 2)
    // A batch's requests are streams of that one session, as with Go's transport (k6): not a connection each.
    assert.deepEqual(sessionsPerBatch, [1, 1, 1])
    const protos = new Set(
      readFileSync(join(dir, 'out.json'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('"metric":"http_reqs"') && l.includes('"type":"Point"'))
        .map((l) => JSON.parse(l).data.tags.proto),
    )
    assert.deepEqual([...protos].sort(), ['HTTP/1.1', 'HTTP/2.0'])
  } finally {
    h1srv.closeAllConnections()
    await Promise.all([new Promise((r) => h2srv.close(r)), new Promise((r) => h1srv.close(r))])
  }
})

test('a pinned request goes back to its own connection, not to the most recently freed one (NTLM exchanges)', async () => {
  const hold: { answer?: () => void } = {}
  const ids = new WeakMap<net.Socket, number>()
  let next = 0
  const srv = await rawServer((req, s) => {
    if (!ids.has(s)) ids.set(s, ++next)
    const id = String(ids.get(s))
    const answer = (): void => void s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${id.length}\r\n\r\n${id}`)
    if (req.split(' ')[1] === '/hold') hold.answer = answer
    else answer()
  })
  const tr = newTransport({ maxSockets: 4, insecure: false })
  try {
    const u = new URL(srv.url + '/')
    const pinA = {}
    const a1 = send(tr, u, 'GET', GET('/id', u.host), undefined, 5000, pinA)
    const b1 = send(tr, u, 'GET', GET('/hold', u.host), undefined, 5000)
    const connA = (await a1).body.toString()
    while (!hold.answer) await new Promise((r) => setImmediate(r))
    hold.answer()
    const connB = (await b1).body.toString()
    assert.notEqual(connA, connB, 'two requests at once take two connections')
    // Both idle now, B's freed last: an unpinned request would take B's.
    const a2 = await send(tr, u, 'GET', GET('/id', u.host), undefined, 5000, pinA)
    assert.equal(a2.body.toString(), connA)
    const other = await send(tr, u, 'GET', GET('/id', u.host), undefined, 5000)
    assert.equal(other.body.toString(), connA, 'unpinned: the most recently freed connection')
  } finally {
    closeTransport(tr)
    await srv.close()
  }
})
