/**
 * A Response reaches the VU as one string (http.ts encodeResponse) and the VU keeps the scalar
 * fields of the last one it decoded to share with the next when their text is the same
 * (http.js decodeResponse). Responses in a row that differ, repeat, or were changed by the
 * script must each still read as their own.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { runBody } from './helpers.ts'

test('responses in a row read as their own: repeated, different, and after the script changed one', async () => {
  const server = http.createServer((req, res) => {
    res.statusCode = req.url === '/missing' ? 404 : 200
    res.setHeader('X-Path', req.url ?? '')
    res.end(req.url === '/missing' ? 'no' : 'yes')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  try {
    const r = await runBody(
      `const b = __ENV.BASE
      const out = []
      const read = (res) => [res.status, res.status_text, res.url, res.error_code, res.body, res.headers['X-Path']]
      const a = http.get(b + '/a')
      a.status = 999
      a.url = 'changed'
      out.push(read(a))
      out.push(read(http.get(b + '/a')))
      out.push(read(http.get(b + '/missing')))
      out.push(read(http.get(b + '/a')))
      out.push(read(http.get(b + '/missing')))
      out.push(read(http.get(b + '/missing')))
      return out`,
      { BASE: base },
    )
    assert.equal(r.code, 0, r.stderr)
    const ok = [200, '200 OK', `${base}/a`, 0, 'yes', '/a']
    const missing = [404, '404 Not Found', `${base}/missing`, 1404, 'no', '/missing']
    assert.deepEqual(r.out, [[999, '200 OK', 'changed', 0, 'yes', '/a'], ok, missing, ok, missing, missing])
  } finally {
    server.close()
  }
})
