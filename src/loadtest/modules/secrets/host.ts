/** Host function of `k6/secrets` (its VM side is in k6.js): a value from a `--secret-source`. */
import type { HostBinder } from '../../engine/host-api.ts'
import { lookupSecret, type SecretSource } from './secrets.ts'

export function installSecrets(b: HostBinder, sources: SecretSource[]): void {
  b.def('secret', ['s'], (j) => {
    const [source, key] = JSON.parse(j) as [string | null, string]
    const r = lookupSecret(sources, source, key)
    if ('error' in r) throw new Error(r.error)
    return r.value
  })
}
