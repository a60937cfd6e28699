import { test } from 'node:test'
import assert from 'node:assert/strict'
import { gzipSync } from 'node:zlib'
import { maybeGunzip, gzip, isGzip } from '../../src/formats/gzip.ts'

const text = new TextEncoder().encode('main;work 10\n'.repeat(1000))

test('gunzips only when the magic is there', () => {
  assert.equal(maybeGunzip(text), text)
  const gz = gzip(text)
  assert.ok(isGzip(gz) && !isGzip(text))
  assert.deepEqual(maybeGunzip(gz), text)
  // Two members, as `cat a.gz b.gz` makes: both are read.
  const two = new Uint8Array([...gz, ...gzip(text)])
  assert.equal(maybeGunzip(two).length, text.length * 2)
})

test('a decompression bomb stops at maxBytes with KILN_TOO_LARGE', () => {
  const bomb = new Uint8Array(gzipSync(new Uint8Array(16 << 20), { level: 9 })) // 16 MiB of zeros in ~16 KiB
  assert.ok(bomb.length < 1 << 15)
  assert.throws(() => maybeGunzip(bomb, { maxBytes: 1 << 20 }), { code: 'KILN_TOO_LARGE', message: /inflates to more than 1048576 bytes/ })
  assert.equal(maybeGunzip(gzip(text), { maxBytes: text.length }).length, text.length, 'exactly maxBytes is allowed')
  assert.throws(() => maybeGunzip(gzip(text), { maxBytes: text.length - 1 }), { code: 'KILN_TOO_LARGE' })
})

test('truncated or corrupt gzip is KILN_BAD_GZIP with a clear message', () => {
  const gz = gzip(text)
  for (let cut = 2; cut < gz.length; cut += 7) {
    assert.throws(() => maybeGunzip(gz.subarray(0, cut)), { code: 'KILN_BAD_GZIP', message: /truncated|corrupt/ }, `cut at ${cut}`)
  }
  assert.throws(() => maybeGunzip(gz.subarray(0, gz.length - 1)), { code: 'KILN_BAD_GZIP', message: /truncated/ })
  const flipped = Uint8Array.from(gz)
  flipped[gz.length - 6]! ^= 0xff // CRC32
  assert.throws(() => maybeGunzip(flipped), { code: 'KILN_BAD_GZIP', message: /corrupt \(incorrect data check\)/ })
})
