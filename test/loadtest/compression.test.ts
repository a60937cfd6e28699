/** `params.compression`: request bodies compressed as k6 does, checked by a server that decodes them. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import zlib from 'node:zlib'
import type { AddressInfo } from 'node:net'
import { kilnRun, workdir } from './helpers.ts'

test('request bodies are compressed with gzip, deflate, br and stacks of them; unknown algorithms are script errors', async () => {
  const decoders: Record<string, (b: Buffer) => Buffer> = {
    gzip: zlib.gunzipSync,
    deflate: zlib.inflateSync,
    br: zlib.brotliDecompressSync,
  }
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const enc = String(req.headers['content-encoding'] ?? '')
      let body: Buffer = Buffer.concat(chunks)
      const wire = body.length
      try {
        // Undone in the reverse order of application, as the header lists them.
        for (const e of enc
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
          .reverse())
          body = decoders[e]!(body)
        res.end(JSON.stringify({ enc, body: body.toString(), wire, length: Number(req.headers['content-length']) }))
      } catch (e) {
        res.statusCode = 400
        res.end((e as Error).message)
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  try {
    const dir = workdir({
      'c.js': `
import http from 'k6/http'
const text = 'kiln '.repeat(200)
export default function () {
  for (const c of ['gzip', 'deflate', 'br', 'deflate, gzip']) {
    const r = http.post(__ENV.URL, text, { compression: c })
    console.log('RESULT ' + c + ' ' + r.status + ' ' + r.body)
  }
  for (const c of ['lzw', 'zstd']) {
    try { http.post(__ENV.URL, text, { compression: c }); console.log('SENT ' + c) } catch (e) { console.log('REFUSED ' + c + ': ' + e.message) }
  }
}`,
    })
    const r = await kilnRun(['run', '-q', '--no-summary', '-i', '1', '-e', `URL=${url}`, 'c.js'], { cwd: dir })
    assert.equal(r.code, 0, r.stderr)
    const results = [...r.stderr.matchAll(/RESULT ([\w, ]+?) (\d+) (\{.*?\})  source/g)].map((m) => ({
      c: m[1],
      status: Number(m[2]),
      ...JSON.parse(m[3]!),
    }))
    assert.equal(results.length, 4, r.stderr)
    for (const x of results) {
      assert.equal(x.status, 200, JSON.stringify(x))
      assert.equal(x.enc, x.c, 'Content-Encoding names the encodings in order')
      assert.equal(x.body, 'kiln '.repeat(200), 'the server decodes the original body')
      assert.equal(x.length, x.wire, 'Content-Length is the compressed size')
      assert.ok(x.wire < 1000 / 4, `compressed: ${x.wire} bytes`)
    }
    assert.match(r.stderr, /REFUSED lzw: unknown compression algorithm 'lzw'/)
    assert.match(r.stderr, /REFUSED zstd: compression 'zstd' is not available/)
    assert.doesNotMatch(r.stderr, /SENT/)
  } finally {
    await new Promise((r) => server.close(r))
  }
})
