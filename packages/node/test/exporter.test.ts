/** The upload queue against real loopback servers: bounded, retried, refused, counted. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { Exporter } from '../src/exporter.ts'

async function server(handle: (req: IncomingMessage, res: ServerResponse, n: number) => void) {
  let n = 0
  const s = createServer((req, res) => handle(req, res, ++n))
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
  return {
    url: `http://127.0.0.1:${(s.address() as { port: number }).port}`,
    count: () => n,
    close: () =>
      new Promise<void>((r) => {
        s.closeAllConnections()
        s.close(() => r())
      }),
  }
}
const upload = (i: number) => ({ name: `app{i=${i}}`, pprof: new Uint8Array([i]), fromMs: 0, untilMs: 1000 })

test('a full queue drops the oldest waiting upload, not the one on the wire', async () => {
  const logs: string[] = []
  const s = await server((req, res) => req.resume().on('end', () => setTimeout(() => res.end(), 300)))
  try {
    const e = new Exporter({ serverAddress: s.url, maxQueue: 2, timeoutMs: 5000, attempts: 1, retryBaseMs: 10, log: (m) => logs.push(m) })
    for (let i = 0; i < 5; i++) e.push(upload(i))
    await e.flush(5000)
    assert.equal(e.sent, 2, 'the first (on the wire) and the newest')
    assert.equal(e.dropped, 3)
    assert.equal(s.count(), 2)
    assert.match(logs.join('\n'), /dropped \d+ profile\(s\) .*queue full \(2 profiles waiting/)
  } finally {
    await s.close()
  }
})

test('5xx is retried with back-off; 4xx is not; auth headers and the form are sent', async () => {
  const seen: string[] = []
  const s = await server((req, res, n) => {
    let body = ''
    req
      .on('data', (d) => (body += d))
      .on('end', () => {
        const u = new URL(req.url!, 'http://x')
        seen.push(
          `${u.searchParams.get('name')} ${req.headers.authorization} ${req.headers['x-scope-orgid']} ${/name="profile"/.test(body)}`,
        )
        res.statusCode = u.searchParams.get('name') === 'bad{}' ? 400 : n === 1 ? 503 : 200
        res.end('no')
      })
  })
  try {
    const e = new Exporter({
      serverAddress: s.url,
      authToken: 'tok',
      tenantID: 't1',
      maxQueue: 8,
      timeoutMs: 5000,
      attempts: 3,
      retryBaseMs: 10,
      log: () => {},
    })
    e.push({ ...upload(0), name: 'ok{}' })
    e.push({ ...upload(1), name: 'bad{}' })
    await e.flush(5000)
    assert.deepEqual(seen, ['ok{} Bearer tok t1 true', 'ok{} Bearer tok t1 true', 'bad{} Bearer tok t1 true'])
    assert.equal(e.sent, 1)
    assert.equal(e.dropped, 1)
  } finally {
    await s.close()
  }
})
