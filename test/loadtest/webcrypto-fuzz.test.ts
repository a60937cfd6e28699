/** Fuzz: WebCrypto requests as a script could send them (random JSON arguments) never crash the host. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { KeyStore, SUBTLE_OPS } from '../../src/loadtest/modules/webcrypto/webcrypto.ts'
import { rng } from './helpers.ts'

test('KeyStore.run: random operations and arguments settle: JSON, or a rejection with an Error that has a message', async () => {
  const ops = [...SUBTLE_OPS, 'nope', '__proto__']
  const names = ['SHA-256', 'HMAC', 'AES-GCM', 'AES-CBC', 'ECDSA', 'ECDH', 'RSA-OAEP', 'x', '']
  for (let seed = 1; seed <= 300; seed++) {
    const r = rng(seed)
    const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)]!
    const value = (depth: number): unknown => {
      const k = Math.floor(r() * 9)
      if (k === 0) return { $b: Buffer.from(Array.from({ length: Math.floor(r() * 40) }, () => Math.floor(r() * 256))).toString('base64') }
      if (k === 1) return { $k: Math.floor(r() * 5) }
      if (k === 2) return pick(names)
      if (k === 3)
        return {
          name: pick(names),
          hash: pick(names),
          length: pick([128, 256, -1, 7]),
          namedCurve: pick(['P-256', 'P-1']),
          iv: { $b: 'AAAAAAAAAAAAAAAA' },
        }
      if (k === 4) return depth > 2 ? null : Array.from({ length: Math.floor(r() * 4) }, () => value(depth + 1))
      if (k === 5) return r() < 0.5
      if (k === 6) return Math.floor(r() * 1000) - 10
      if (k === 7) return pick(['raw', 'jwk', 'spki', 'pkcs8'])
      return { $b: 12 }
    }
    const store = new KeyStore()
    // Seed the store with one real key, so {$k: 1} can resolve.
    await store.run('generateKey', JSON.stringify([{ name: 'HMAC', hash: 'SHA-256' }, true, ['sign', 'verify']]))
    const args = Array.from({ length: Math.floor(r() * 6) }, () => value(0))
    const op = pick(ops)
    await store.run(op, JSON.stringify(args)).then(
      (s) => assert.doesNotThrow(() => JSON.parse(s), `seed ${seed}: ${op} resolved with something not JSON`),
      (e: unknown) => assert.ok(e instanceof Error && e.message.length > 0, `seed ${seed}: ${op} rejected with ${String(e)}`),
    )
  }
})
