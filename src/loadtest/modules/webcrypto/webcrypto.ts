/**
 * The host side of WebCrypto `crypto.subtle` for a VU (webcrypto.js): node:crypto's webcrypto
 * computes; the VU's CryptoKeys stay here, numbered. Arguments and results cross as JSON with
 * bytes as {$b: base64} and keys as {$k: id, type, extractable, algorithm, usages}.
 */
import { webcrypto } from 'node:crypto'

type Key = webcrypto.CryptoKey
/** The methods of `crypto.subtle` (webcrypto.js defines the same names in the VM). */
export const SUBTLE_OPS: ReadonlySet<string> = new Set([
  'digest',
  'encrypt',
  'decrypt',
  'sign',
  'verify',
  'generateKey',
  'importKey',
  'exportKey',
  'deriveBits',
  'deriveKey',
  'wrapKey',
  'unwrapKey',
])
const isKey = (v: unknown): v is Key => v instanceof (globalThis as unknown as { CryptoKey: new () => Key }).CryptoKey

export class KeyStore {
  private keys = new Map<number, Key>()
  private next = 1

  /** Runs `crypto.subtle[op](...args)`; resolves with the JSON result, rejects with WebCrypto's error. */
  async run(op: string, argsJson: string): Promise<string> {
    if (!SUBTLE_OPS.has(op)) throw new Error(`crypto.subtle.${op} is not supported`)
    const args = this.decode(JSON.parse(argsJson)) as unknown[]
    const subtle = webcrypto.subtle as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>
    try {
      return JSON.stringify(this.encode(await subtle[op]!(...args)) ?? null)
    } catch (e) {
      const err = e as Error
      throw new Error(err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message)
    }
  }

  /** The VM dropped these CryptoKeys (comma-separated ids). */
  free(ids: string): void {
    for (const id of ids.split(',')) this.keys.delete(Number(id))
  }

  get size(): number {
    return this.keys.size
  }

  private decode(v: unknown): unknown {
    if (Array.isArray(v)) return v.map((x) => this.decode(x))
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>
      if (typeof o.$b === 'string') return Buffer.from(o.$b, 'base64')
      if (typeof o.$k === 'number') {
        const k = this.keys.get(o.$k)
        if (!k) throw new Error('unknown CryptoKey')
        return k
      }
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, this.decode(x)]))
    }
    return v
  }

  private encode(v: unknown): unknown {
    if (isKey(v)) {
      const id = this.next++
      this.keys.set(id, v)
      return { $k: id, type: v.type, extractable: v.extractable, algorithm: this.encode({ ...v.algorithm }), usages: v.usages }
    }
    if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
      const b = v instanceof ArrayBuffer ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength)
      return { $b: b.toString('base64') }
    }
    if (Array.isArray(v)) return v.map((x) => this.encode(x))
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.encode(x)]))
    return v
  }
}
