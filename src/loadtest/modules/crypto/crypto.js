// Runs inside each VU's QuickJS runtime: `k6/crypto` (hashes and HMAC computed by the host's
// node:crypto), the global `crypto.getRandomValues/randomUUID`, and TextEncoder/TextDecoder.
;(function () {
  const H = globalThis.__kh
  const U = globalThis.__k6util
  const ALGS = ['md4', 'md5', 'sha1', 'sha256', 'sha384', 'sha512', 'sha512_224', 'sha512_256', 'ripemd160']
  const toB64 = (data) => U.b64encode(U.bytesOf(data))
  /** Formats the host's base64 digest as k6 does: 'hex' (default), 'base64', 'base64url', 'base64rawurl', 'binary'. */
  function out(b64, enc) {
    const bytes = U.b64bytes(b64)
    if (enc === 'base64') return U.b64encode(bytes)
    if (enc === 'base64url') return U.b64encode(bytes, 'url')
    if (enc === 'base64rawurl') return U.b64encode(bytes, 'rawurl')
    if (enc === 'binary') return bytes.buffer
    let s = ''
    for (const b of bytes) s += (b < 16 ? '0' : '') + b.toString(16)
    return s
  }
  function digest(alg, key, data, enc) {
    if (!ALGS.includes(alg)) throw new Error(`unknown hash '${alg}' (supported: ${ALGS.join(', ')})`)
    const r = H.hash(alg, key === null ? '' : toB64(key), key !== null, toB64(data))
    if (r.startsWith('!')) throw new Error(r.slice(1))
    return out(r, enc)
  }
  function hasher(alg, key) {
    const parts = []
    return {
      update(d) {
        parts.push(...U.bytesOf(d))
        return this
      },
      digest(enc) {
        return digest(alg, key, new Uint8Array(parts), enc)
      },
    }
  }
  const k6crypto = {
    hmac: (alg, secret, data, enc) => digest(alg, secret, data, enc),
    createHash: (alg) => hasher(alg, null),
    createHMAC: (alg, secret) => hasher(alg, secret),
    randomBytes: (n) => U.b64bytes(H.random(Number(n))).buffer,
    hexEncode: (d) => out(toB64(d), 'hex'),
  }
  for (const a of ALGS) k6crypto[a] = (data, enc) => digest(a, null, data, enc)
  globalThis.__k6mods['k6/crypto'] = Object.assign({ default: k6crypto }, k6crypto)

  globalThis.crypto = {
    getRandomValues(arr) {
      // WebCrypto's limits: integer typed arrays only, at most 65,536 bytes per call.
      if (!ArrayBuffer.isView(arr) || arr instanceof Float32Array || arr instanceof Float64Array || arr instanceof DataView)
        throw new TypeError('TypeMismatchError: getRandomValues needs an integer typed array')
      if (arr.byteLength > 65536) throw new Error(`QuotaExceededError: getRandomValues fills at most 65536 bytes, not ${arr.byteLength}`)
      const b = U.b64bytes(H.random(arr.byteLength))
      new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength).set(b)
      return arr
    },
    randomUUID() {
      const b = U.b64bytes(H.random(16))
      b[6] = (b[6] & 0x0f) | 0x40
      b[8] = (b[8] & 0x3f) | 0x80
      const h = out(U.b64encode(b), 'hex')
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
    },
  }
  globalThis.TextEncoder = class {
    get encoding() {
      return 'utf-8'
    }
    encode(s) {
      return U.utf8(String(s === undefined ? '' : s))
    }
  }
  globalThis.TextDecoder = class {
    get encoding() {
      return 'utf-8'
    }
    decode(b) {
      return b === undefined ? '' : U.fromUtf8(U.bytesOf(b))
    }
  }
})()
