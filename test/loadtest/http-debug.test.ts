/** --http-debug prints each request and response as k6 does; =full adds the bodies. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { kilnRun, startServer, workdir, type TestServer } from './helpers.ts'

let srv: TestServer
before(async () => {
  srv = await startServer()
})
after(() => srv.close())

test('--http-debug dumps requests and responses with headers; =full with their bodies', async () => {
  const dir = workdir({
    'script.js': `import http from 'k6/http'\nexport default function () { http.post(__ENV.BASE + '/echo?q=1', 'the-request-body', { headers: { 'X-Test': 'yes' } }) }`,
  })
  const run = (flag: string) => kilnRun(['run', '-q', '--no-summary', flag, '-e', `BASE=${srv.url}`, 'script.js'], { cwd: dir })
  const headers = await run('--http-debug')
  assert.equal(headers.code, 0, headers.stderr)
  const fields = ' {2}group= iter=0 request_id=[0-9a-f-]{36} scenario=default source=http-debug vu=1\n'
  assert.match(
    headers.stderr,
    new RegExp(`INFO\\[\\d+\\] Request:\nPOST /echo\\?q=1 HTTP/1\\.1\nHost: 127\\.0\\.0\\.1:\\d+\n(.+\n)*X-Test: yes\n(.+\n)*\n${fields}`),
  )
  assert.match(headers.stderr, new RegExp(`INFO\\[\\d+\\] Response:\nHTTP/1\\.1 200 OK\n(.+\n)*Content-Length: \\d+\n(.+\n)*\n${fields}`))
  assert.doesNotMatch(headers.stderr, /the-request-body/)
  const ids = [...headers.stderr.matchAll(/request_id=([0-9a-f-]+)/g)].map((m) => m[1])
  assert.equal(ids.length, 2)
  assert.equal(ids[0], ids[1], 'a request and its response share the request_id')
  const full = await run('--http-debug=full')
  assert.equal(full.code, 0, full.stderr)
  assert.match(full.stderr, new RegExp(`\n\nthe-request-body${fields}`))
  assert.match(full.stderr, /Response:\n(.+\n)+\n\{"method":"POST".*"body":"the-request-body"\} {2}group= iter=0/)
})
