/** Host functions of crypto.js (`k6/crypto`, `crypto.getRandomValues`): node:crypto computes. */
import { createHash, createHmac, randomBytes } from 'node:crypto'
import type { HostBinder } from '../../engine/host-api.ts'

export function installCrypto(b: HostBinder): void {
  b.def('hash', ['s', 's', 'b', 's'], (a, k, hasKey, d) => {
    const alg = a.replace('sha512_224', 'sha512-224').replace('sha512_256', 'sha512-256')
    const data = Buffer.from(d, 'base64')
    try {
      const h = hasKey ? createHmac(alg, Buffer.from(k, 'base64')) : createHash(alg)
      return h.update(data).digest('base64')
    } catch (e) {
      return `!${a} is not available here: ${(e as Error).message}`
    }
  })
  b.def('random', ['n'], (n) => randomBytes(Math.max(0, Math.min(65536, n))).toString('base64'))
}
