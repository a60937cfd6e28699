// Runs inside each VU's QuickJS runtime: WebCrypto `crypto.subtle`. Every method is computed on
// the host by node:crypto's webcrypto (webcrypto.ts) and returns a promise settled
// through the VU's event loop (engine/loop.js). Across the boundary, bytes travel as {$b: base64} and
// keys as {$k: id} (the CryptoKey itself stays on the host).
;(function () {
  const H = globalThis.__kh
  const U = globalThis.__k6util
  const L = globalThis.__k6loop
  const KEY = Symbol('kiln.key')

  // The host holds each key until the VM drops its CryptoKey: WeakRefs (QuickJS frees by reference
  // count, so they clear at once; FinalizationRegistry callbacks did not run here) are swept
  // whenever their number doubles, so the cost per key stays constant.
  const live = new Map()
  let sweepAt = 64
  function track(key, id) {
    live.set(id, new WeakRef(key))
    if (live.size < sweepAt) return
    const dead = []
    for (const [k, ref] of live) if (ref.deref() === undefined) dead.push(k)
    for (const k of dead) live.delete(k)
    if (dead.length) H.keyFree(dead.join(','))
    sweepAt = Math.max(64, live.size * 2)
  }
  class CryptoKey {
    constructor(d) {
      this[KEY] = d.$k
      track(this, d.$k)
      this.type = d.type
      this.extractable = d.extractable
      this.algorithm = decode(d.algorithm)
      this.usages = d.usages
    }
  }
  const isBytes = (v) => v instanceof ArrayBuffer || ArrayBuffer.isView(v)
  function encode(v) {
    if (v instanceof CryptoKey) return { $k: v[KEY] }
    if (isBytes(v)) return { $b: U.b64encode(U.bytesOf(v)) }
    if (Array.isArray(v)) return v.map(encode)
    if (v && typeof v === 'object') {
      const o = {}
      for (const k of Object.keys(v)) o[k] = encode(v[k])
      return o
    }
    return v
  }
  function decode(v) {
    if (Array.isArray(v)) return v.map(decode)
    if (v && typeof v === 'object') {
      if (typeof v.$b === 'string') return U.b64bytes(v.$b).buffer
      if (v.$k !== undefined) return new CryptoKey(v)
      const o = {}
      for (const k of Object.keys(v)) o[k] = decode(v[k])
      return o
    }
    return v
  }
  const call = (op, args) => {
    try {
      const json = JSON.stringify(encode(args))
      // The host's error reads 'DataError: …': the script sees WebCrypto's name (e.name === 'DataError'), as in k6.
      return L.op(
        (id) => H.subtle(id, op, json),
        (r) => decode(JSON.parse(r)),
      ).catch((e) => {
        const m = /^([A-Za-z]+Error): ([\s\S]*)$/.exec(e.message)
        if (m) {
          e.name = m[1]
          e.message = m[2]
        }
        throw e
      })
    } catch (e) {
      return Promise.reject(e)
    }
  }
  const subtle = {}
  const ops = [
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
  ]
  for (const op of ops) subtle[op] = (...args) => call(op, args)
  globalThis.crypto.subtle = subtle
  globalThis.CryptoKey = CryptoKey
})()
