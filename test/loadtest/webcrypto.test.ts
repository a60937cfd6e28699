/** WebCrypto `crypto.subtle` in `kiln run`: results computed in a VU, checked here against node:crypto. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  createCipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  verify,
} from 'node:crypto'
import { kilnRun, workdir } from './helpers.ts'

test('crypto.subtle: digest, HMAC, AES-CBC/CTR/GCM, generate/import/export (raw, jwk), ECDSA and ECDH agree with node:crypto', async () => {
  const key = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex')
  const iv = Buffer.from('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff', 'hex')
  const peer = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const peerJwk = peer.publicKey.export({ format: 'jwk' })
  const dir = workdir({
    'script.js': `
import { check } from 'k6'
import encoding from 'k6/encoding'
export const options = { vus: 2, iterations: 4 }
const te = new TextEncoder()
const b64 = (buf) => encoding.b64encode(buf)
const bytes = (s) => new Uint8Array(encoding.b64decode(s))
const S = crypto.subtle
export async function setup() {
  const out = {}
  out.sha256 = b64(await S.digest('SHA-256', te.encode('abc')))
  out.sha512 = b64(await S.digest({ name: 'SHA-512' }, te.encode('abc').buffer))
  const hk = await S.importKey('raw', te.encode('secret'), { name: 'HMAC', hash: { name: 'SHA-256' } }, false, ['sign', 'verify'])
  const sig = await S.sign('HMAC', hk, te.encode('data'))
  out.hmac = b64(sig)
  out.hmacOk = await S.verify('HMAC', hk, sig, te.encode('data'))
  out.hmacBad = await S.verify('HMAC', hk, sig, te.encode('other'))
  out.hmacKey = [hk.type, hk.extractable, hk.algorithm.name, hk.algorithm.hash.name, hk.usages.join(), hk instanceof CryptoKey].join()
  const key = bytes(__ENV.KEY)
  const iv = bytes(__ENV.IV)
  const msg = te.encode('attack at dawn, twice over the wall')
  for (const [name, alg] of [['cbc', { name: 'AES-CBC', iv }], ['ctr', { name: 'AES-CTR', counter: iv, length: 64 }], ['gcm', { name: 'AES-GCM', iv: iv.slice(0, 12), additionalData: te.encode('ad') }]]) {
    const k = await S.importKey('raw', key, { name: alg.name }, true, ['encrypt', 'decrypt'])
    const ct = await S.encrypt(alg, k, msg)
    out[name] = b64(ct)
    out[name + 'Back'] = new TextDecoder().decode(await S.decrypt(alg, k, ct))
    if (name === 'cbc') out.raw = b64(await S.exportKey('raw', k))
  }
  const gk = await S.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt'])
  const jwk = await S.exportKey('jwk', gk)
  out.genJwk = [jwk.kty, jwk.alg, bytes(jwk.k.replace(/-/g, '+').replace(/_/g, '/')).length].join()
  const again = await S.importKey('jwk', jwk, 'AES-GCM', true, ['decrypt'])
  out.reimported = b64(await S.exportKey('raw', again)) === b64(await S.exportKey('raw', gk))
  const ec = await S.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])
  out.ecdsaSig = b64(await S.sign({ name: 'ECDSA', hash: 'SHA-256' }, ec.privateKey, te.encode('signed')))
  out.ecdsaPub = await S.exportKey('jwk', ec.publicKey)
  const mine = await S.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits'])
  const theirs = await S.importKey('jwk', JSON.parse(__ENV.PEER), { name: 'ECDH', namedCurve: 'P-256' }, true, [])
  out.shared = b64(await S.deriveBits({ name: 'ECDH', public: theirs }, mine.privateKey, 256))
  out.ecdhPub = await S.exportKey('jwk', mine.publicKey)
  const big = crypto.getRandomValues(new Uint8Array(65536))
  out.randomFilled = big.slice(65536 - 64).some((b) => b !== 0)
  try {
    crypto.getRandomValues(new Uint8Array(65537))
    out.quota = 'filled'
  } catch (e) {
    out.quota = String(e.message)
  }
  try {
    await S.decrypt({ name: 'AES-GCM', iv: new Uint8Array(12) }, gk, new Uint8Array(32))
    out.tampered = 'decrypted'
  } catch (e) {
    out.tampered = e.name + ": " + e.message
  }
  return out
}
export default async function () {
  const d = await crypto.subtle.digest('SHA-1', te.encode('vu' + __VU))
  check(d, { 'digest in an iteration': (x) => x.byteLength === 20 })
}
export function handleSummary(data) {
  return { stdout: JSON.stringify({ setup: data.setup_data, checks: data.metrics.checks.values.passes }) }
}
`,
  })
  const r = await kilnRun(
    [
      'run',
      '-q',
      '-e',
      `KEY=${key.toString('base64')}`,
      '-e',
      `IV=${iv.toString('base64')}`,
      '-e',
      `PEER=${JSON.stringify(peerJwk)}`,
      'script.js',
    ],
    { cwd: dir },
  )
  assert.equal(r.code, 0, r.stderr)
  const { setup: o, checks } = JSON.parse(r.stdout) as { setup: Record<string, any>; checks: number }
  const b64 = (b: Buffer) => b.toString('base64')
  const msg = Buffer.from('attack at dawn, twice over the wall')
  const cipher = (alg: string, k: Buffer, i: Buffer, aad?: Buffer) => {
    const c = createCipheriv(alg, k, i) as ReturnType<typeof createCipheriv> & { setAAD(b: Buffer): void; getAuthTag(): Buffer }
    if (aad) c.setAAD(aad)
    const out = Buffer.concat([c.update(msg), c.final()])
    return aad ? Buffer.concat([out, c.getAuthTag()]) : out
  }
  assert.equal(checks, 4)
  assert.equal(o.sha256, b64(createHash('sha256').update('abc').digest()))
  assert.equal(o.sha512, b64(createHash('sha512').update('abc').digest()))
  assert.equal(o.hmac, b64(createHmac('sha256', 'secret').update('data').digest()))
  assert.equal(o.hmacOk, true)
  assert.equal(o.hmacBad, false)
  assert.equal(o.hmacKey, 'secret,false,HMAC,SHA-256,sign,verify,true')
  assert.equal(o.cbc, b64(cipher('aes-128-cbc', key, iv)))
  assert.equal(o.ctr, b64(cipher('aes-128-ctr', key, iv)))
  assert.equal(o.gcm, b64(cipher('aes-128-gcm', key, iv.subarray(0, 12), Buffer.from('ad'))))
  for (const m of ['cbcBack', 'ctrBack', 'gcmBack']) assert.equal(o[m], msg.toString(), m)
  assert.equal(o.raw, b64(key))
  assert.equal(o.genJwk, 'oct,A256GCM,32')
  assert.equal(o.reimported, true)
  const pub = createPublicKey({ key: o.ecdsaPub, format: 'jwk' })
  assert.ok(
    verify('sha256', Buffer.from('signed'), { key: pub, dsaEncoding: 'ieee-p1363' }, Buffer.from(o.ecdsaSig, 'base64')),
    'ECDSA signature verifies in Node',
  )
  const shared = diffieHellman({
    privateKey: createPrivateKey(peer.privateKey.export({ format: 'pem', type: 'pkcs8' })),
    publicKey: createPublicKey({ key: o.ecdhPub, format: 'jwk' }),
  })
  assert.equal(o.shared, b64(shared))
  assert.match(o.tampered, /OperationError/)
  assert.equal(o.randomFilled, true, 'getRandomValues fills a 64 KiB array to its end')
  assert.match(o.quota, /QuotaExceededError/)
})

test('crypto.subtle.importKey: ECDSA keys as JWK (P-256, P-384) sign and verify; a crv other than the namedCurve is a DataError', async () => {
  const keys = { 'P-256': generateKeyPairSync('ec', { namedCurve: 'P-256' }), 'P-384': generateKeyPairSync('ec', { namedCurve: 'P-384' }) }
  const jwks = Object.fromEntries(
    Object.entries(keys).map(([c, k]) => [c, { priv: k.privateKey.export({ format: 'jwk' }), pub: k.publicKey.export({ format: 'jwk' }) }]),
  )
  const dir = workdir({
    'script.js': `
import encoding from 'k6/encoding'
export const options = { iterations: 1 }
const J = ${JSON.stringify(jwks)}
const S = crypto.subtle
export default async function () {
  const out = {}
  for (const [crv, hash] of [['P-256', 'SHA-256'], ['P-384', 'SHA-384']]) {
    const priv = await S.importKey('jwk', J[crv].priv, { name: 'ECDSA', namedCurve: crv }, true, ['sign'])
    const pub = await S.importKey('jwk', J[crv].pub, { name: 'ECDSA', namedCurve: crv }, true, ['verify'])
    const sig = await S.sign({ name: 'ECDSA', hash }, priv, new TextEncoder().encode('signed'))
    out[crv] = { sig: encoding.b64encode(sig), ok: await S.verify({ name: 'ECDSA', hash }, pub, sig, new TextEncoder().encode('signed')), type: priv.type, curve: priv.algorithm.namedCurve }
  }
  for (const [name, jwk, curve] of [['mismatch', J['P-256'].pub, 'P-384'], ['unknown', { ...J['P-256'].pub, crv: 'P-999' }, 'P-256']]) {
    try {
      await S.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: curve }, true, ['verify'])
      out[name] = 'imported'
    } catch (e) {
      out[name] = e.name
    }
  }
  console.log('RESULT ' + JSON.stringify(out))
}
`,
  })
  const r = await kilnRun(['run', '-q', '--no-summary', 'script.js'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  const line = r.stderr.split('\n').find((l) => l.includes(' RESULT '))!
  const o = JSON.parse(line.slice(line.indexOf(' RESULT ') + 8).replace(/\s+source=console$/, ''))
  for (const [crv, hash] of [
    ['P-256', 'sha256'],
    ['P-384', 'sha384'],
  ] as const) {
    assert.deepEqual([o[crv].ok, o[crv].type, o[crv].curve], [true, 'private', crv])
    assert.ok(
      verify(hash, Buffer.from('signed'), { key: keys[crv].publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(o[crv].sig, 'base64')),
      `${crv}: the signature verifies in Node`,
    )
  }
  assert.equal(o.mismatch, 'DataError')
  assert.equal(o.unknown, 'DataError')
})
