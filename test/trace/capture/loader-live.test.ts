/**
 * The loader's HTTP/1 path (bpf/http1.c) under a real `kiln agent --trace-only`, on real sockets:
 * keep-alive, pipelining, a head written in two parts, chunked bodies, a connection opened before
 * the agent (its first transfer seen is a response), huge heads and fuzzed HTTP-like junk — every
 * request is found in http_events, most of them as the loader's rows, and the agent keeps going.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { connect, createServer, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { captureUnavailable, traceSession } from './helpers.ts'
import { rng } from '../protocols/support.ts'

const unavailable = captureUnavailable()

/**
 * An HTTP/1 server written by hand, so each response goes out in the writes the test chooses:
 * `/chunked` answers in chunks over several writes, `/split` writes its head in two parts, anything
 * else a Content-Length body naming the path. Requests are read as they come (pipelining included);
 * what is not a request is skipped up to the next blank line. A connection's responses go out one
 * after another: the client sends its next request once it sees "HTTP/1.1 ", which `/split`'s first
 * half already holds, and `/chunked`'s head written into `/split`'s gap made both responses junk
 * (the test failed on a loaded machine, whichever loader ran).
 */
function server() {
  // Half-open: a client's end() is answered by the server's, once every response is out, so the
  // client can wait for that instead of for a time.
  return createServer({ allowHalfOpen: true }, (c) => {
    let buf = ''
    let queue = Promise.resolve()
    c.setEncoding('latin1')
    c.on('error', () => undefined)
    c.on('data', (d: string) => {
      queue = queue.then(() => answer(d))
    })
    c.on('end', () => {
      const end = () => void c.end()
      queue = queue.then(end, end)
    })
    const answer = async (d: string) => {
      buf += d
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const path = /^[A-Z]+ (\S+) HTTP\/1\.1/.exec(buf)?.[1]
        buf = buf.slice(end + 4)
        if (!path) continue
        if (path === '/chunked') {
          c.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n')
          for (const part of ['{"a":', '1}']) {
            await sleep(5)
            c.write(`${part.length.toString(16)}\r\n${part}\r\n`)
          }
          c.write('0\r\n\r\n')
        } else if (path === '/split') {
          c.write('HTTP/1.1 200 OK\r\nX-Half: ')
          await sleep(20)
          c.write('1\r\nContent-Length: 5\r\n\r\nsplit')
        } else c.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\nContent-Type: text/plain\r\n\r\n${path}`)
      }
    }
  })
}

/** A client connection: write, and read until `n` responses ("HTTP/1.1 ") came or `waitMs` passed. */
async function open(
  port: number,
): Promise<{ s: Socket; send: (chunks: string[], n: number, gapMs?: number, waitMs?: number) => Promise<void> }> {
  const s = connect(port, '127.0.0.1')
  await new Promise((r) => s.once('connect', r))
  let got = ''
  s.setEncoding('latin1').on('data', (d: string) => (got += d))
  s.on('error', () => undefined)
  return {
    s,
    // 10 s: an answer is awaited before the next request (order matters to the test), and a loaded
    // machine answers late; fuzzed requests may never be answered and wait less.
    async send(chunks, n, gapMs = 20, waitMs = 10_000) {
      got = ''
      for (const c of chunks) {
        s.write(c, 'latin1')
        await sleep(gapMs)
      }
      const end = Date.now() + waitMs
      while ((got.match(/HTTP\/1\.1 /g) ?? []).length < n && Date.now() < end) await sleep(10)
    },
  }
}

const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`

test('the loader’s HTTP/1 under the agent: keep-alive, pipelining, split heads, chunked, mid-connection, huge heads, fuzz', {
  skip: unavailable ?? false,
  timeout: 240_000,
}, async () => {
  const srv = server()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as { port: number }).port
  // Opened and used before the agent starts: the agent's first sight of it is mid-connection.
  const early = await open(port)
  await early.send([get('/before')], 1)
  // An unsolicited response on it once the agent runs: a response without its request.
  const unsolicited = new Promise<Socket>((r) => srv.once('connection', r))
  const late = await open(port)
  const lateServerSide = await unsolicited
  try {
    const s = await traceSession(async () => {
      await early.send([get('/mid/1')], 1)
      await early.send([get('/mid/2')], 1)
      lateServerSide.write('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\norphan')
      await sleep(50)
      await late.send([get('/after-orphan')], 1)

      const ka = await open(port)
      for (let i = 0; i < 20; i++) await ka.send([get(`/ka/${i}`)], 1, 0)
      await ka.send([get('/p/1') + get('/p/2') + get('/p/3')], 3)
      const head = get('/split-req', 'X-Long: 1\r\n')
      await ka.send([head.slice(0, 17), head.slice(17)], 1)
      await ka.send([get('/split')], 1)
      await ka.send([get('/chunked')], 1)
      await ka.send([get('/huge', `X-Huge: ${'h'.repeat(12_000)}\r\n`)], 1)
      await ka.send([get('/ka/last')], 1)
      ka.s.end()

      // Fuzz: requests with random bytes changed, cut, or junk between them, on 30 connections;
      // the server answers what still parses as a request.
      const rand = rng(4242)
      for (let i = 0; i < 30; i++) {
        const f = await open(port)
        let text = ''
        for (let k = 0; k < 5; k++) {
          const r = get(`/fuzz/${i}/${k}`)
          const b = Buffer.from(r, 'latin1')
          if (rand() < 0.3) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256)
          text += b.toString('latin1') + (rand() < 0.2 ? randomBytes(Math.floor(rand() * 64)).toString('latin1') : '')
        }
        const cuts: string[] = []
        for (let at = 0; at < text.length; ) {
          const n = 1 + Math.floor(rand() * (text.length - at))
          cuts.push(text.slice(at, at + n))
          at += n
        }
        // What still parses is answered: all of it is in once the server ends its side.
        await f.send(cuts, 0, 2, 0)
        const closed = new Promise((r) => f.s.once('close', r))
        f.s.end()
        await closed
      }
      const last = await open(port)
      await last.send([get('/final')], 1)
      last.s.end()
      early.s.end()
      late.s.end()
      await sleep(300)
    })
    try {
      assert.doesNotMatch(s.log, /event skipped|stopping the capture|loader exited/, s.log)
      const rows = await s.query<{ req_path: string; resp_body: string; resp_body_size: string; content_type: string; latency: string }>(
        `SELECT req_path, resp_body, resp_body_size, content_type, latency FROM kiln.http_events WHERE local_port = ${port} AND trace_role = 2 ORDER BY time_`,
      )
      const paths = rows.map((r) => r.req_path)
      const want = [
        '/mid/1',
        '/mid/2',
        '/after-orphan',
        ...Array.from({ length: 20 }, (_, i) => `/ka/${i}`),
        '/p/1',
        '/p/2',
        '/p/3',
        '/split-req',
        '/split',
        '/chunked',
        '/huge',
        '/ka/last',
      ]
      // The fuzzed requests' paths may be changed too: the known ones are picked out.
      const known = new Set([...want, '/final'])
      assert.deepEqual(
        paths.filter((p) => known.has(p)),
        [...want, '/final'],
        s.log,
      )
      assert.ok(paths.length > known.size + 30, `the fuzzed connections' requests that parsed: ${paths.length - known.size}`)
      const by = (p: string) => rows.find((r) => r.req_path === p)!
      assert.equal(by('/chunked').resp_body, '{"a":1}')
      assert.equal(by('/chunked').content_type, '1')
      assert.equal(by('/split').resp_body, 'split')
      assert.equal(by('/p/2').resp_body, '/p/2')
      assert.ok(
        rows.every((r) => Number(r.latency) > 0),
        JSON.stringify(rows.filter((r) => !(Number(r.latency) > 0))),
      )
      // The client side too: every request the test made, as the client saw it.
      const client = await s.query<{ n: string }>(
        `SELECT count() AS n FROM kiln.http_events WHERE remote_port = ${port} AND trace_role = 1 AND req_path IN (${want.map((p) => `'${p}'`).join(',')})`,
      )
      assert.equal(client[0]!.n, String(want.length))
      // The loader made most rows; the fuzzed connections it could not read went back to the agent.
      const stat = (k: string) => Number(new RegExp(`trace source socket: .*\\b${k}=(\\d+)`).exec(s.log)?.[1] ?? Number.NaN)
      assert.ok(stat('loaderRecords') >= 2 * 25, s.log)
      assert.ok(stat('http1HandBacks') > 0, s.log)
    } finally {
      await s.dispose()
    }
  } finally {
    srv.close()
  }
})
