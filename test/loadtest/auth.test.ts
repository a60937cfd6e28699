/** params.auth in `kiln run`: basic, digest (RFC 7616) and NTLM (v2) against a loopback server that checks the answers. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { createHash, createHmac, randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { kilnRun, workdir } from './helpers.ts'
import { parseDigestChallenge } from '../../src/loadtest/modules/http/auth.ts'
import { md4, ntowfv2, ntlmv2Response, parseChallengeMessage } from '../../src/loadtest/modules/http/ntlm.ts'

const USER = 'ada'
const PASS = 's3cret:pw'
let server: http.Server
let base = ''
const log: string[] = []

/** The server's own check of a Digest answer (RFC 7616 §3.4.1, qop=auth). */
function digestOk(h: string, method: string, nonces: Set<string>, alg: string): boolean {
  const p: Record<string, string> = {}
  for (const m of h.slice(7).matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)) p[m[1]!] = m[2] ?? m[3]!
  const H = (s: string) =>
    createHash(alg === 'SHA-256' ? 'sha256' : 'md5')
      .update(s)
      .digest('hex')
  const ha1 = H(`${USER}:kiln:${PASS}`)
  const ha2 = H(`${method}:${p.uri}`)
  return (
    nonces.has(p.nonce!) &&
    p.opaque === 'op4que' &&
    p.qop === 'auth' &&
    p.response === H(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:auth:${ha2}`)
  )
}

/** A CHALLENGE message (type 2) with a target info of NbDomainName "KILN" and the end marker. */
function challengeMessage(serverChallenge: Buffer): string {
  const name = Buffer.from('KILN', 'utf16le')
  const info = Buffer.concat([Buffer.from([2, 0, name.length, 0]), name, Buffer.alloc(4)])
  const m = Buffer.alloc(48)
  m.write('NTLMSSP\0', 'latin1')
  m.writeUInt32LE(2, 8)
  m.writeUInt32LE(0xa2898205, 20)
  serverChallenge.copy(m, 24)
  m.writeUInt16LE(info.length, 40)
  m.writeUInt16LE(info.length, 42)
  m.writeUInt32LE(48, 44)
  return Buffer.concat([m, info]).toString('base64')
}

/** The server's check of an AUTHENTICATE message (type 3): NTProofStr = HMAC-MD5(NTOWFv2, challenge ‖ blob). */
function ntlmOk(type3: Buffer, serverChallenge: Buffer): boolean {
  const field = (i: number) =>
    type3.subarray(type3.readUInt32LE(16 + i * 8), type3.readUInt32LE(16 + i * 8) + type3.readUInt16LE(12 + i * 8))
  const nt = field(1)
  const [domain, user] = [field(2).toString('utf16le'), field(3).toString('utf16le')]
  const proof = createHmac('md5', ntowfv2(user, domain, PASS))
    .update(Buffer.concat([serverChallenge, nt.subarray(16)]))
    .digest()
  return domain === 'CORP' && user === USER && proof.equals(nt.subarray(0, 16))
}

before(async () => {
  const nonces = new Set<string>()
  const ntlmChallenges = new WeakMap<Socket, Buffer>()
  server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x')
    const auth = req.headers.authorization ?? ''
    log.push(`${u.pathname} ${auth.split(' ')[0] || '-'}`)
    if (u.pathname === '/ntlm') {
      // NTLM authenticates the connection: the answer must come on the socket that got the challenge.
      const msg = Buffer.from(auth.slice(5), 'base64')
      const type = auth.startsWith('NTLM ') && msg.length >= 12 ? msg.readUInt32LE(8) : 0
      const challenge = ntlmChallenges.get(req.socket)
      if (type === 3 && challenge && ntlmOk(msg, challenge)) return res.end('ntlm ok')
      res.statusCode = 401
      if (type === 1) {
        const c = randomBytes(8)
        ntlmChallenges.set(req.socket, c)
        res.setHeader('www-authenticate', 'NTLM ' + challengeMessage(c))
      } else res.setHeader('www-authenticate', 'NTLM')
      return res.end('who?')
    }
    if (u.pathname.startsWith('/digest')) {
      const alg = u.searchParams.get('alg') ?? 'MD5'
      if (auth.startsWith('Digest ') && digestOk(auth, req.method ?? '', nonces, alg))
        return res.end(`ok ${req.method} ${u.pathname}${u.search}`)
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

test('digest and NTLM auth: a 401 challenge then the authorized request (digest MD5 and SHA-256, GET and POST; NTLMv2 on one connection); basic from the URL', async () => {
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
    ntlm: http.get('http://CORP%5Cada:' + encodeURIComponent('s3cret:pw') + '@' + __ENV.HOST + '/ntlm', { auth: 'ntlm' }).body,
    ntlmWrong: http.get('http://CORP%5Cada:nope@' + __ENV.HOST + '/ntlm', { auth: 'ntlm' }).status,
  }
  try { http.get(cred + '/basic', { auth: 'kerberos' }) } catch (e) { out.unknown = e.message }
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
  assert.equal(o.ntlm, 'ntlm ok')
  assert.equal(o.ntlmWrong, 401)
  assert.match(o.unknown, /unknown auth 'kerberos'/)
  const digest = ['a', 'b', 'c', 'd'].flatMap((p) => [`/digest/${p} -`, `/digest/${p} Digest`])
  assert.deepEqual(log, [...digest, '/basic Basic', '/ntlm NTLM', '/ntlm NTLM', '/ntlm NTLM', '/ntlm NTLM'])
  const sum = JSON.parse(readFileSync(join(dir, 'sum.json'), 'utf8'))
  assert.equal(sum.metrics.http_reqs.count, 13, 'both requests of each digest and NTLM exchange are counted')
  // Failed: only the final 401s of the wrong passwords; the challenges are expected responses.
  assert.equal(sum.metrics.http_req_failed.passes, 2)
})

test('fuzz: Digest challenge parsing never throws; a challenge without a nonce is none', () => {
  let a = 11
  const next = () => (a = (Math.imul(a, 1103515245) + 12345) >>> 0) / 4294967296
  const parts = [
    'Digest ',
    'Basic ',
    'realm="r"',
    'nonce="n"',
    'nonce=n',
    'qop="auth"',
    ',',
    ' ',
    '"',
    '\\',
    '=',
    'algorithm=SHA-256',
    'opaque=',
    'x',
  ]
  for (let i = 0; i < 5000; i++) {
    const h = Array.from({ length: Math.floor(next() * 10) }, () => parts[Math.floor(next() * parts.length)]).join('')
    const c = parseDigestChallenge(h)
    if (c) assert.equal(typeof c.nonce, 'string', h)
  }
  assert.equal(parseDigestChallenge('Digest realm="x"'), null)
  assert.deepEqual(parseDigestChallenge(['Basic realm="b"', 'Digest realm="a \\"q\\"", nonce="n1", qop=auth']), {
    realm: 'a "q"',
    nonce: 'n1',
    qop: 'auth',
  })
})

test('MD4 and NTLMv2 give the published test vectors (RFC 1320; MS-NLMP 4.2.4)', () => {
  const hex = (s: string, enc: BufferEncoding = 'latin1') => md4(Buffer.from(s, enc)).toString('hex')
  assert.equal(hex(''), '31d6cfe0d16ae931b73c59d7e0c089c0')
  assert.equal(hex('abc'), 'a448017aaf21d8525fc10ae87aa6729d')
  assert.equal(hex('message digest'), 'd9130a8164549fe818874806e1c7014b')
  assert.equal(hex('12345678901234567890123456789012345678901234567890123456789012345678901234567890'), 'e33b4ddc9c38f2199c3e7b164fcc0536')
  assert.equal(hex('Password', 'utf16le'), 'a4f49c406510bdcab6824ee7c30fd852')
  const key = ntowfv2('User', 'Domain', 'Password')
  assert.equal(key.toString('hex'), '0c868a403bfd7a93a3001ef22ef02e3f')
  const av = (id: number, s: string) => Buffer.concat([Buffer.from([id, 0, s.length * 2, 0]), Buffer.from(s, 'utf16le')])
  const info = Buffer.concat([av(2, 'Domain'), av(1, 'Server'), Buffer.alloc(4)])
  const r = ntlmv2Response(key, Buffer.from('0123456789abcdef', 'hex'), info, Buffer.alloc(8, 0xaa), 0n)
  assert.equal(r.subarray(0, 16).toString('hex'), '68cd0ab851e51c96aabc927bebef6a1c')
})

test('fuzz: NTLM challenge parsing of random and truncated messages never throws', () => {
  let a = 5
  const next = () => (a = (Math.imul(a, 1103515245) + 12345) >>> 0) / 4294967296
  const good = Buffer.from(challengeMessage(Buffer.alloc(8, 1)), 'base64')
  assert.ok(parseChallengeMessage('NTLM ' + good.toString('base64')))
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.from(good)
    for (let k = 0; k < 1 + next() * 6; k++) b[Math.floor(next() * b.length)] = Math.floor(next() * 256)
    const cut = b.subarray(0, Math.floor(next() * (b.length + 1)))
    const c = parseChallengeMessage(['Basic x', 'NTLM ' + cut.toString('base64')])
    if (c) assert.equal(c.serverChallenge.length, 8)
  }
})

test('NTLM inside http.batch: each request authenticates on a connection of its own exchange', async () => {
  const dir = workdir({
    'batch.js': `import http from 'k6/http'
export default function () {
  const u = 'http://CORP%5Cada:' + encodeURIComponent('s3cret:pw') + '@' + __ENV.HOST + '/ntlm'
  const rs = http.batch([1, 2, 3, 4].map(() => ['GET', u, null, { auth: 'ntlm' }]))
  console.log('BODIES ' + JSON.stringify(rs.map((r) => r.body)))
}`,
  })
  const r = await kilnRun(['run', '-q', '--no-summary', '-i', '1', '-e', `HOST=${base}`, 'batch.js'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  const bodies = JSON.parse(/BODIES (\[.*?\])/.exec(r.stderr)?.[1] ?? 'null')
  assert.deepEqual(bodies, ['ntlm ok', 'ntlm ok', 'ntlm ok', 'ntlm ok'], r.stderr)
})
