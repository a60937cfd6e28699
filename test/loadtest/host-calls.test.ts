/**
 * engine/host-calls.ts: the VM's calls of host functions skip quickjs-emscripten's own path. The
 * same script, run through each path (KILN_LEAN_CALLS=0 keeps the library's), must see the same
 * values: strings both ways with multi-byte UTF-8, numbers, booleans, errors thrown by synchronous
 * and asynchronous host functions, and functions taking booleans (left on the library's path).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { kilnRun, startServer, workdir, type TestServer } from './helpers.ts'

let srv: TestServer
before(async () => {
  srv = await startServer()
})
after(() => srv.close())

const script = `import http from 'k6/http'
import crypto from 'k6/crypto'
export const options = { iterations: 1 }
const text = 'héllo ✓ 𝄞 ' + 'ß'.repeat(300)
export default function () {
  const out = {}
  // request(spec JSON): a string in; the encoded Response, with the echoed body, a string out.
  out.echo = http.post(__ENV.URL + '/echo', text).json().body === text
  out.status = http.get(__ENV.URL + '/status/404').status
  // An asynchronous host function that rejects, and a synchronous one that throws.
  try { http.get('http://[bad') } catch (e) { out.asyncError = e.message }
  const jar = http.cookieJar()
  try { jar.set('not a url', 'a', 'b') } catch (e) { out.syncError = String(e.message).slice(0, 40) }
  jar.set(__ENV.URL, 'név', 'érték')
  out.cookies = jar.cookiesForURL(__ENV.URL)
  // hash() takes a boolean: the library's path, beside the others.
  out.md5 = crypto.md5(text, 'hex')
  out.numbers = typeof Date.now() === 'number' && Date.now() > 0
  console.log('RESULT ' + JSON.stringify(out))
}
`

async function run(lean: boolean): Promise<Record<string, unknown>> {
  const dir = workdir({ 'script.js': script })
  const r = await kilnRun(['run', '-q', '--no-summary', '-e', `URL=${srv.url}`, 'script.js'], {
    cwd: dir,
    env: { KILN_LEAN_CALLS: lean ? '1' : '0', KILN_RUN_THREADS: '0' },
  })
  assert.equal(r.code, 0, r.stderr)
  const line = r.stderr.split('\n').find((l) => l.includes(' RESULT '))
  assert.ok(line, r.stderr)
  return JSON.parse(line.slice(line.indexOf(' RESULT ') + 8).replace(/\s+source=console$/, '')) as Record<string, unknown>
}

test('host functions called the short way see and return what the library path does', async () => {
  const [lean, library] = [await run(true), await run(false)]
  assert.deepEqual(lean, library)
  assert.equal(lean.echo, true)
  assert.equal(lean.status, 404)
  assert.match(String(lean.asyncError), /invalid URL 'http:\/\/\[bad'/)
  assert.ok(lean.syncError, 'a synchronous host error reaches the script')
  assert.deepEqual(lean.cookies, { név: ['érték'] })
  assert.match(String(lean.md5), /^[0-9a-f]{32}$/)
  assert.equal(lean.numbers, true)
})
