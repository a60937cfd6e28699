/** Cookie jars in `kiln run` (http.cookieJar(), new http.CookieJar(), params.jar/cookies) against a loopback server. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { WebSocketServer } from 'ws'
import { kilnRun, runBody, workdir } from './helpers.ts'
import { CookieJar, parseSetCookie } from '../../src/loadtest/modules/http/cookies.ts'

let server: http.Server
let base = ''
const wsCookies: string[] = []
before(async () => {
  server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x')
    if (u.pathname.startsWith('/set')) {
      res.setHeader('set-cookie', [
        'a=1; Path=/; HttpOnly',
        'b=2; Path=/sub',
        'gone=3; Max-Age=0',
        'sec=4; Secure',
        'old=5; Expires=Thu, 01 Jan 1970 00:00:00 GMT',
        'other=6; Domain=example.invalid',
        'dir=7',
      ])
    }
    // Every answer shows the Cookie header it got.
    res.end(req.headers.cookie ?? '')
  })
  // WebSocket handshakes on /ws: the Cookie header they carry is kept, and each sets a cookie.
  const wss = new WebSocketServer({ server, path: '/ws' })
  wss.on('headers', (headers) => headers.push('Set-Cookie: fromws=1; Path=/'))
  wss.on('connection', (ws, req) => {
    wsCookies.push(req.headers.cookie ?? '')
    ws.close()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
})
after(() => new Promise<void>((r) => server.close(() => r())))

test('the VU jar follows RFC 6265 as k6 does: paths, expiry, Secure, foreign domains; set/delete/clear; params.jar and params.cookies', async () => {
  const r = await runBody(
    `
    const B = __ENV.BASE
    const jar = http.cookieJar()
    const set = http.get(B + '/set/x')
    const out = { resCookie: set.cookies.a[0], resB: set.cookies.b[0].path, resOther: set.cookies.other[0].domain }
    out.root = jar.cookiesForURL(B + '/')
    out.sub = jar.cookiesForURL(B + '/sub/page')
    out.dir = jar.cookiesForURL(B + '/set/y')
    out.sentRoot = http.get(B + '/').body
    out.sentSub = http.get(B + '/sub/page').body
    jar.set(B, 'x', 'y', { path: '/' })
    out.afterSet = http.get(B + '/').body
    jar.delete(B, 'x')
    out.afterDelete = http.get(B + '/').body
    out.replaced = http.get(B + '/', { cookies: { a: { value: 'z', replace: true }, extra: 'e' } }).body
    out.added = http.get(B + '/', { cookies: { a: 'z' } }).body
    const own = new http.CookieJar()
    own.set(B, 'mine', '1')
    out.ownJar = http.get(B + '/', { jar: own }).body
    http.get(B + '/set/x', { jar: own })
    out.ownAfter = Object.keys(own.cookiesForURL(B + '/')).sort()
    out.noJar = http.get(B + '/', { jar: null }).body
    jar.set(B, 'x', 'y', { expires: 'Thu, 01 Jan 1970 00:00:00 GMT' })
    jar.clear(B)
    out.cleared = http.get(B + '/').body
    let bad = ''
    try { jar.set(B, 'n', 'v', { domain: 'example.invalid' }) } catch (e) { bad = e.message }
    out.bad = bad
    return out`,
    { BASE: base },
  )
  assert.equal(r.code, 0, r.stderr)
  assert.ok(r.out, r.stderr)
  const o = r.out
  assert.deepEqual(o.resCookie, { name: 'a', value: '1', domain: '', path: '/', httpOnly: true, secure: false, maxAge: 0, expires: 0 })
  assert.equal(o.resB, '/sub')
  assert.equal(o.resOther, 'example.invalid', 'Response.cookies shows a cookie the jar refuses')
  assert.deepEqual(o.root, { a: ['1'] }, 'no /sub cookie at /, no expired, no Secure over http, no foreign domain')
  assert.deepEqual(o.sub, { b: ['2'], a: ['1'] }, 'the longer path first')
  assert.deepEqual(o.dir, { a: ['1'], dir: ['7'] }, 'a cookie without Path is scoped to the directory of the URL that set it')
  assert.equal(o.sentRoot, 'a=1')
  assert.equal(o.sentSub, 'b=2; a=1')
  assert.equal(o.afterSet, 'a=1; x=y')
  assert.equal(o.afterDelete, 'a=1')
  assert.equal(o.replaced, 'a=z; extra=e')
  assert.equal(o.added, 'a=1; a=z')
  assert.equal(o.ownJar, 'mine=1', "a request with its own jar sends that jar's cookies only")
  assert.deepEqual(o.ownAfter, ['a', 'mine'], "the response's cookies go to the request's jar")
  assert.equal(o.noJar, '', 'jar: null sends no jar cookies')
  assert.equal(o.cleared, '')
  assert.match(o.bad, /domain does not match/)
})

test('the VU jar is emptied between iterations (a jar from init lives on); noCookiesReset keeps it', async () => {
  const script = (reset: string) => `import http from 'k6/http'
const kept = new http.CookieJar()
export const options = { vus: 1, iterations: 2${reset} }
export default function () {
  console.log('SEEN ' + JSON.stringify([Object.keys(http.cookieJar().cookiesForURL(__ENV.BASE + '/')), Object.keys(kept.cookiesForURL(__ENV.BASE + '/'))]))
  http.get(__ENV.BASE + '/set/x')
  http.get(__ENV.BASE + '/set/x', { jar: kept })
}`
  const seen = async (reset: string) => {
    const r = await kilnRun(['run', '-q', '--no-summary', '-e', `BASE=${base}`, 'script.js'], {
      cwd: workdir({ 'script.js': script(reset) }),
    })
    assert.equal(r.code, 0, r.stderr)
    return r.stderr
      .split('\n')
      .filter((l) => l.includes('SEEN '))
      .map((l) => JSON.parse(l.slice(l.indexOf('SEEN ') + 5).replace(/\s+source=console$/, '')))
  }
  assert.deepEqual(await seen(''), [
    [[], []],
    [[], ['a']],
  ])
  assert.deepEqual(await seen(', noCookiesReset: true'), [
    [[], []],
    [['a'], ['a']],
  ])
})

test('fuzz: Set-Cookie parsing of random headers never throws and never stores a cookie for another domain', () => {
  let a = 7
  const next = () => (a = (Math.imul(a, 1103515245) + 12345) >>> 0) / 4294967296
  const parts = [
    'a=1',
    'b',
    '=',
    ';',
    ' ',
    'Path=/x',
    'Path=',
    'Domain=.127.0.0.1',
    'Domain=evil.invalid',
    'Max-Age=-1',
    'Max-Age=abc',
    'Expires=garbage',
    'Secure',
    'HttpOnly',
    '"q"',
    '\u0000',
    'é',
  ]
  const url = new URL('http://127.0.0.1:1/p/q')
  const jar = new CookieJar()
  for (let i = 0; i < 3000; i++) {
    const h = Array.from({ length: Math.floor(next() * 8) }, () => parts[Math.floor(next() * parts.length)]).join('')
    const c = parseSetCookie(h, url)
    if (c) {
      assert.ok(c.name.length > 0)
      assert.equal(c.domain, '127.0.0.1', h)
      jar.store(url, h)
    }
  }
  for (const c of jar.matching(url)) assert.ok(c.expires === null || c.expires > Date.now())
})

test("WebSocket handshakes (k6/ws) send the jar's cookies and store the ones they get; params.jar picks the jar", async () => {
  wsCookies.length = 0
  const r = await runBody(
    `
    const B = __ENV.BASE, W = B.replace('http', 'ws') + '/ws'
    http.cookieJar().set(B, 'vu', '1')
    ws.connect(W, {}, (s) => s.on('open', () => s.close()))
    const own = new http.CookieJar()
    own.set(B, 'own', '2')
    ws.connect(W, { jar: own, cookies: { extra: 'x' } }, (s) => s.on('open', () => s.close()))
    ws.connect(W, { jar: null }, (s) => s.on('open', () => s.close()))
    return { vu: http.cookieJar().cookiesForURL(B + '/'), own: own.cookiesForURL(B + '/') }`,
    { BASE: base },
    "import ws from 'k6/ws'",
  )
  assert.equal(r.code, 0, r.stderr)
  assert.ok(r.out, r.stderr)
  assert.deepEqual(wsCookies, ['vu=1', 'own=2; extra=x', ''])
  assert.deepEqual(r.out, { vu: { vu: ['1'], fromws: ['1'] }, own: { own: ['2'], fromws: ['1'] } })
})
