/**
 * A VU thread parses each request URL once (http.ts parsedUrl) and reuses the URL object. Only
 * URLs without credentials may be shared: a request with credentials takes them out of its URL
 * (auth.ts takeCredentials), which must not leak into the next request of the same text.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parsedUrl } from '../../src/loadtest/modules/http/http.ts'
import { takeCredentials } from '../../src/loadtest/modules/http/auth.ts'

test('request URLs are parsed once per text; those with credentials each time; invalid ones are null', () => {
  const a = parsedUrl('http://127.0.0.1:1/x?y=1')
  assert.ok(a)
  assert.equal(parsedUrl('http://127.0.0.1:1/x?y=1'), a, 'the same text gives the same URL')
  assert.notEqual(parsedUrl('http://127.0.0.1:1/x?y=2'), a)
  const withUser = 'http://bob:secret@127.0.0.1:1/x'
  const first = parsedUrl(withUser)!
  assert.deepEqual(takeCredentials(first, undefined), { user: 'bob', pass: 'secret', kind: 'basic' })
  const second = parsedUrl(withUser)!
  assert.notEqual(second, first)
  assert.equal(second.username, 'bob', 'the next request still has its credentials')
  assert.equal(parsedUrl('not a url'), null)
  assert.equal(parsedUrl('http://[::1'), null)
})
