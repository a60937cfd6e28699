import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer as createHttpServer } from 'node:http'
import { connect, createServer, type Server } from 'node:net'
import { captureUnavailable, traceSession } from './helpers.ts'

const unavailable = captureUnavailable()

/** Runs a command without blocking this process's servers; resolves with its exit status and stdout. */
function run(cmd: string, args: string[], input?: Buffer): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'ignore'] })
    let stdout = ''
    c.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t))
    c.stdin.on('error', () => undefined)
    c.stdin.end(input)
    const t = setTimeout(() => c.kill('SIGKILL'), 30_000)
    c.on('error', reject)
    c.on('close', (status) => {
      clearTimeout(t)
      resolve({ status, stdout })
    })
  })
}

const listen = (s: Server) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as { port: number }).port)))

/** Opens a connection, writes `chunks` one by one, reads until the peer closes (or 2 s pass). */
function talk(port: number, chunks: Buffer[]): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', async () => {
      for (const c of chunks) if (!s.write(c)) await new Promise((r) => s.once('drain', r))
      s.end()
    })
    s.on('data', () => undefined)
    s.on('error', () => resolve())
    s.on('close', () => resolve())
    setTimeout(() => s.destroy(), 2000).unref()
  })
}

test('faults: a server dying mid-response, fuzzed bytes, binary junk after an HTTP request line, 5 MB bodies — the agent survives and records the rest', {
  skip: unavailable ?? false,
  timeout: 180_000,
}, async () => {
  // Answers half a response, then resets the connection.
  const dying = createServer((c) => {
    c.once('data', () => {
      c.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial')
      setTimeout(() => c.resetAndDestroy(), 20)
    })
  })
  // Echoes whatever comes: fuzz in both directions.
  const echo = createServer((c) =>
    c
      .on('data', (d) => c.write(d))
      .on('end', () => c.end())
      .on('error', () => undefined),
  )
  const http = createHttpServer((req, res) => {
    let n = 0
    req.on('data', (d: Buffer) => (n += d.length))
    req.on('end', () => res.end(req.url === '/huge' ? Buffer.alloc(5 << 20, 'y') : `got ${n} bytes`))
  })
  http.on('clientError', (_e, sock) => sock.destroy())
  const [dyingPort, echoPort, httpPort] = [await listen(dying), await listen(echo), await listen(http)]
  try {
    const s = await traceSession(async () => {
      const dead = await run('curl', ['-sS', '-o', '/dev/null', `http://127.0.0.1:${dyingPort}/dies`])
      assert.notEqual(dead.status, 0, 'curl should see the reset')
      for (let i = 0; i < 20; i++) await talk(echoPort, [randomBytes(1 + Math.floor(Math.random() * 40_000))])
      // Looks like HTTP for a line, then is not.
      await talk(httpPort, [Buffer.from('GET /junk HTTP/1.1\r\n'), randomBytes(30_000)])
      await talk(echoPort, [Buffer.from('*3\r\n$3\r\nSET\r\n'), randomBytes(5000)])
      const huge = await run(
        'curl',
        ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', '--data-binary', '@-', `http://127.0.0.1:${httpPort}/huge`],
        Buffer.alloc(5 << 20, 'x'),
      )
      assert.equal(huge.stdout, `200 ${5 << 20}`)
      const after = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${httpPort}/after`])
      assert.equal(after.stdout, '200')
    })
    try {
      assert.doesNotMatch(s.log, /event skipped|stopping the capture|loader exited/, s.log)
      const rows = await s.query<{
        req_path: string
        resp_status: string
        req_body_size: string
        resp_body_size: string
        trace_role: string
      }>(
        `SELECT req_path, resp_status, req_body_size, resp_body_size, trace_role FROM kiln.http_events WHERE local_port = ${httpPort} AND trace_role = 2 ORDER BY time_`,
      )
      const huge = rows.find((r) => r.req_path === '/huge')
      assert.ok(huge, JSON.stringify(rows))
      assert.equal(huge.resp_status, '200')
      assert.equal(huge.req_body_size, String(5 << 20))
      assert.equal(huge.resp_body_size, String(5 << 20))
      assert.ok(
        rows.some((r) => r.req_path === '/after' && r.resp_status === '200'),
        JSON.stringify(rows),
      )
      // The fuzzed echo server's connections are counted in conn_stats though no parser took them.
      const echoed = await s.query<{ recv: string }>(`SELECT max(bytes_recv) AS recv FROM kiln.conn_stats WHERE remote_port = ${echoPort}`)
      assert.ok(Number(echoed[0]!.recv) > 0, JSON.stringify(echoed))
    } finally {
      await s.dispose()
    }
  } finally {
    for (const srv of [dying, echo, http]) srv.close()
  }
})
