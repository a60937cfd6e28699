/**
 * A request's body crosses from the VU to the host inside the spec's JSON (http.js buildSpec).
 * Every kind of body must arrive byte for byte: text with quotes, newlines, a control character
 * and non-ASCII, an empty string, binary, a form, and the body of an async request; no body stays
 * no body (no Content-Length on a GET).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { runBody } from './helpers.ts'

test('request bodies arrive byte for byte: text, empty, binary, form, async; none stays none', async () => {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      res.end(JSON.stringify({ len: req.headers['content-length'] ?? null, b64: body.toString('base64') }))
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  try {
    const r = await runBody(
      `const u = __ENV.BASE + '/echo'
      const text = 'a "quoted" line\\nnext ✓ \\u0001 end'
      const bin = new Uint8Array([0, 1, 2, 255, 10, 13]).buffer
      const out = {}
      out.text = http.post(u, text, { headers: { 'Content-Type': 'text/plain' } }).json()
      out.empty = http.post(u, '').json()
      out.bin = http.put(u, bin).json()
      out.form = http.post(u, { a: '1', b: ['x', 'y'] }).json()
      out.get = http.get(u, { headers: { 'X-A': '1' } }).json()
      http.asyncRequest('PATCH', u, text).then((res) => console.log('ASYNC ' + res.json().b64))
      out.text2 = http.request('POST', u, text, { tags: { name: 'again' } }).json()
      return [out, text]`,
      { BASE: base },
    )
    assert.equal(r.code, 0, r.stderr)
    const [out, text] = r.out as [Record<string, { len: string | null; b64: string }>, string]
    const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64')
    assert.equal(out.text!.b64, b64(text))
    assert.equal(out.text!.len, String(Buffer.byteLength(text)))
    assert.deepEqual(out.empty, { len: '0', b64: '' })
    assert.equal(out.bin!.b64, Buffer.from([0, 1, 2, 255, 10, 13]).toString('base64'))
    assert.equal(Buffer.from(out.form!.b64, 'base64').toString(), 'a=1&b=x&b=y')
    assert.deepEqual(out.get, { len: null, b64: '' })
    assert.equal(out.text2!.b64, b64(text))
    assert.ok(r.stderr.includes(`ASYNC ${b64(text)}`), r.stderr)
  } finally {
    server.close()
  }
})
