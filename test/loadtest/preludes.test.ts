/**
 * The module JS a VU evaluates before the script (modules/index.ts, preludes): http.js only when
 * the script names k6/http, through the loading getter when only another module imports it; the
 * other lazy modules (and playwright-core under k6/browser) only when imported.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { kilnRun, startServer, workdir } from './helpers.ts'

/**
 * What a VU's script sees of k6/http in `__k6mods`: 'getter' until http.js has been evaluated
 * (the name is built, so that the probe itself does not name the module).
 */
const probe = `const d = Object.getOwnPropertyDescriptor(globalThis.__k6mods, 'k6' + '/http')
console.log('HTTP-MODULE ' + (d.get ? 'getter' : 'value'))`

test('http.js is evaluated before the script that names k6/http, not at all in one that does not, and on import from another module', async () => {
  const srv = await startServer()
  try {
    const dir = workdir({
      'plain.js': `import { sleep } from 'k6'
export const options = { vus: 2, iterations: 2 }
export default function () { ${probe}; sleep(0) }`,
      'named.js': `import http from 'k6/http'
export const options = { vus: 2, iterations: 2 }
export default function () { ${probe}; http.get(__ENV.URL) }`,
      'lib.js': `import http from "k6/http"
export const get = (u) => http.get(u).status
export function badJar(u) {
  try { http.get(u, { jar: {} }) } catch (e) { return e.stack }
}`,
      'indirect.js': `import { get, badJar } from './lib.js'
export const options = { vus: 2, iterations: 2 }
export default function () { console.log('STATUS ' + get(__ENV.URL)); console.log('STACK ' + JSON.stringify(badJar(__ENV.URL))) }`,
    })
    for (const threads of ['0', '1']) {
      const env = { KILN_RUN_THREADS: threads }
      const plain = await kilnRun(['run', '-q', '--no-summary', 'plain.js'], { cwd: dir, env })
      assert.equal(plain.code, 0, plain.stderr)
      assert.equal(plain.stderr.match(/HTTP-MODULE getter/g)?.length, 2, plain.stderr)
      const named = await kilnRun(['run', '-q', '--no-summary', '-e', `URL=${srv.url}/`, 'named.js'], { cwd: dir, env })
      assert.equal(named.code, 0, named.stderr)
      assert.equal(named.stderr.match(/HTTP-MODULE value/g)?.length, 2, named.stderr)
      const indirect = await kilnRun(['run', '-q', '--no-summary', '-e', `URL=${srv.url}/`, 'indirect.js'], { cwd: dir, env })
      assert.equal(indirect.code, 0, indirect.stderr)
      assert.equal(indirect.stderr.match(/STATUS 200/g)?.length, 2, indirect.stderr)
      // A lazy module's frames are named after it (evaluated by the host, not by the VM's eval).
      assert.match(indirect.stderr, /STACK "\s*at jarOf \(k6\/http:\d+/, indirect.stderr)
    }
    assert.equal(srv.hits.get('/'), 8)
  } finally {
    await srv.close()
  }
})

test('playwright-core is loaded by a run whose script imports k6/browser, by no other (NODE_DEBUG=module lists what each thread requires)', async () => {
  const dir = workdir({
    'plain.js': `import { sleep } from 'k6'
import { parseHTML } from 'k6/html'
export const options = { vus: 2, iterations: 2 }
export default function () { parseHTML('<p>x</p>'); sleep(0) }`,
    'browser.js': `import { browser } from 'k6/browser'
export const options = { vus: 2, iterations: 2 }
export default function () { console.log('NEWPAGE ' + typeof browser.newPage) }`,
  })
  const env = { KILN_RUN_THREADS: '1', NODE_DEBUG: 'module' }
  const plain = await kilnRun(['run', '-q', '--no-summary', 'plain.js'], { cwd: dir, env })
  assert.equal(plain.code, 0, plain.stderr.slice(-2000))
  assert.ok(plain.stderr.includes('MODULE'), 'NODE_DEBUG=module lists modules')
  assert.ok(!plain.stderr.includes('playwright-core'), 'playwright-core loaded without k6/browser')
  const browser = await kilnRun(['run', '-q', '--no-summary', 'browser.js'], { cwd: dir, env })
  assert.equal(browser.code, 0, browser.stderr.slice(-2000))
  assert.equal(browser.stderr.match(/NEWPAGE function/g)?.length, 2)
  assert.ok(browser.stderr.includes('playwright-core'), 'k6/browser loads playwright-core')
})

test("a lazily evaluated module's host functions are bound with its JS (on import, or k6/html through Response.html()), not before", async () => {
  const srv = await startServer()
  try {
    const names = ['grpcConnect', 'htmlParse', 'wsConnect', 'csv', 'redisCommand', 'browserCall', 'report']
    const probe = (tag: string) =>
      `console.log('${tag} ' + ${JSON.stringify(names)}.map((n) => n + '=' + typeof globalThis.__kh[n]).join(' '))`
    const dir = workdir({
      'plain.js': `import http from 'k6/http'
export const options = { vus: 1, iterations: 1 }
export default function () { ${probe('BEFORE')}; console.log('TEXT ' + http.get(__ENV.URL).html().find('body').text().length); ${probe('AFTER')} }`,
      'grpc.js': `import grpc from 'k6/net/grpc'
export const options = { vus: 1, iterations: 1 }
export default function () { ${probe('GRPC')} }`,
    })
    const none = names.map((n) => `${n}=undefined`).join(' ')
    const only = (n: string) => names.map((m) => `${m}=${m === n ? 'function' : 'undefined'}`).join(' ')
    const plain = await kilnRun(['run', '-q', '--no-summary', '-e', `URL=${srv.url}/`, 'plain.js'], { cwd: dir })
    assert.equal(plain.code, 0, plain.stderr)
    assert.ok(plain.stderr.includes(`BEFORE ${none}`), plain.stderr)
    assert.match(plain.stderr, /TEXT \d+/)
    assert.ok(plain.stderr.includes(`AFTER ${only('htmlParse')}`), plain.stderr)
    const grpc = await kilnRun(['run', '-q', '--no-summary', 'grpc.js'], { cwd: dir })
    assert.equal(grpc.code, 0, grpc.stderr)
    assert.ok(grpc.stderr.includes(`GRPC ${only('grpcConnect')}`), grpc.stderr)
  } finally {
    await srv.close()
  }
})
