/** A params-less object body is a form; an array value repeats its key, as k6's url.Values does (also in multipart). */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runBody, startServer } from './helpers.ts'

test('form bodies: array values are repeated keys (urlencoded and multipart)', async () => {
  const srv = await startServer()
  try {
    const r = await runBody(
      `const form = JSON.parse(http.post(__ENV.B + '/echo', { topping: ['onion', 'bacon'], size: 'L', empty: [] }).body)
       const multi = JSON.parse(http.post(__ENV.B + '/echo', { topping: ['onion', 'bacon'], f: http.file('xy', 'a.txt') }).body)
       return { form: form.body, type: form.headers['content-type'], multi: multi.body }`,
      { B: srv.url },
    )
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.out.form, 'topping=onion&topping=bacon&size=L')
    assert.equal(r.out.type, 'application/x-www-form-urlencoded')
    assert.equal((r.out.multi.match(/name="topping"\r\n\r\n(onion|bacon)\r\n/g) ?? []).length, 2, r.out.multi)
    assert.match(r.out.multi, /name="f"; filename="a.txt"/)
  } finally {
    await srv.close()
  }
})
