/** params.auth in `kiln run`: basic and digest (RFC 7616) against a loopback server that checks the answer. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { kilnRun, workdir } from './helpers.ts'
import { parseDigestChallenge } from '../../src/loadtest/auth.ts'

const USER = 'ada'
const PASS = 's3cret:pw'
let server: http.Server
let base = ''
const log: string[] = []

/** The server's own check of a Digest answer (RFC 7616 §3.4.1, qop=auth). */
function digestOk(h: string, method: string, nonces: Set<string>, alg: string): boolean {
  const p: Record<string, string> = {}
  for (const m of h.slice(7).matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)) p[m[1]!] = m[2] ?? m[3]!
  const H = (s: string) => createHash(alg === 'SHA-256' ? 'sha256' : 'md5').update(s).digest('hex')
  const ha1 = H(`${USER}:kiln:${PASS}`)
  const ha2 = H(`${method}:${p.uri}`)
  return nonces.has(p.nonce!) && p.opaque === 'op4que' && p.qop === 'auth' && p.response === H(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:auth:${ha2}`)
}

before(async () => {
  const nonces = new Set<string>()
  server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x')
    const auth = req.headers.authorization ?? ''
    log.push(`${u.pathname} ${auth.split(' ')[0] || '-'}`)
    if (u.pathname.startsWith('/digest')) {
      const alg = u.searchParams.get('alg') ?? 'MD5'
      if (auth.startsWith('Digest ') && digestOk(auth, req.method ?? '', nonces, alg)) return res.end(`ok ${req.method} ${u.pathname}${u.search}`)
      const nonce = randomBytes(8).toString('hex')
      nonces.add(nonce)
      res.statusCode = 401
      res.setHeader('www-authenticate', `Digest realm="kiln", qop="auth,auth-int", algorithm=${alg}, nonce="${nonce}", opaque="op4que"`)
      return res.end('who?')
    }
    const ok = auth === 'Basic ' + Buffer.from(`${USER}:${PASS}`).toString('base64')
    res.statusCode = ok ? 200 : 401
    res.end(ok ? 'basic ok' : 'no')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `127.0.0.1:${(server.address() as { port: number }).port}`
})
after(() => new Promise<void>((r) => server.close(() => r())))

test('digest auth: a 401 challenge then the authorized request (MD5 and SHA-256, GET and POST); basic from the URL; ntlm named as missing', async () => {
  log.length = 0
  const dir = workdir({
    'script.js': `import http from 'k6/http'
export const options = { iterations: 1 }
export default function () {
  const cred = 'http://ada:' + encodeURIComponent('s3cret:pw') + '@' + __ENV.HOST
  const out = {
    md5: http.get(cred + '/digest/a?x=1', { auth: 'digest' }).body,
    sha: http.get(cred + '/digest/b?alg=SHA-256', { auth: 'digest' }).body,
    post: http.post(cred + '/digest/c', 'payload', { auth: 'digest' }).body,
    wrong: http.get('http://ada:nope@' + __ENV.HOST + '/digest/d', { auth: 'digest' }).status,
    basic: http.get(cred + '/basic').body,
  }
  try { http.get(cred + '/basic', { auth: 'ntlm' }) } catch (e) { out.ntlm = e.message }
  console.log('RESULT ' + JSON.stringify(out))
}`,
  })
  const r = await kilnRun(['run', '-q', '--no-summary', '--summary-export', 'sum.json', '-e', `HOST=${base}`, 'script.js'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  const line = r.stderr.split('\n').find((l) => l.includes(' RESULT ')) ?? ''
  const o = JSON.parse(line.slice(line.indexOf(' RESULT ') + 8).replace(/\s+source=console$/, ''))
  assert.equal(o.md5, 'ok GET /digest/a?x=1')
  assert.equal(o.sha, 'ok GET /digest/b?alg=SHA-256')
  assert.equal(o.post, 'ok POST /digest/c')
  assert.equal(o.wrong, 401)
  assert.equal(o.basic, 'basic ok')
  assert.match(o.ntlm, /ntlm.*not supported/)
  assert.deepEqual(log, ['/digest/a -', '/digest/a Digest', '/digest/b -', '/digest/b Digest', '/digest/c -', '/digest/c Digest', '/digest/d -', '/digest/d Digest', '/basic Basic'])
  const sum = JSON.parse(readFileSync(join(dir, 'sum.json'), 'utf8'))
  assert.equal(sum.metrics.http_reqs.count, 9, 'both requests of each digest exchange are counted')
  // Failed: only the final 401 of the wrong password; the challenges are expected responses.
  assert.equal(sum.metrics.http_req_failed.passes, 1)
})

test('fuzz: Digest challenge parsing never throws; a challenge without a nonce is none', () => {
  let a = 11
  const next = () => ((a = (Math.imul(a, 1103515245) + 12345) >>> 0) / 4294967296)
  const parts = ['Digest ', 'Basic ', 'realm="r"', 'nonce="n"', 'nonce=n', 'qop="auth"', ',', ' ', '"', '\\', '=', 'algorithm=SHA-256', 'opaque=', 'x']
  for (let i = 0; i < 5000; i++) {
    const h = Array.from({ length: Math.floor(next() * 10) }, () => parts[Math.floor(next() * parts.length)]).join('')
    const c = parseDigestChallenge(h)
    if (c) assert.equal(typeof c.nonce, 'string', h)
  }
  assert.equal(parseDigestChallenge('Digest realm="x"'), null)
  assert.deepEqual(parseDigestChallenge(['Basic realm="b"', 'Digest realm="a \\"q\\"", nonce="n1", qop=auth']), { realm: 'a "q"', nonce: 'n1', qop: 'auth' })
})
