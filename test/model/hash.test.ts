import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decimal64, hash64 } from '../../src/model/hash.ts'

test('hash64 is stable, a UInt64 in decimal, and spreads', () => {
  assert.equal(hash64('main;work'), hash64('main;work'))
  assert.match(hash64('x'), /^\d{1,20}$/)
  assert.ok(BigInt(hash64('x')) < 2n ** 64n)
  const seen = new Set<string>()
  for (let i = 0; i < 50_000; i++) seen.add(hash64(`f${i}`))
  assert.equal(seen.size, 50_000)
})

test('decimal64 writes every 64-bit number as BigInt does', () => {
  const words = [0, 1, 9_999_999, 10_000_000, 0x1fffff, 0x200000, 0x7fffffff, 0x80000000, 0xffffffff]
  for (let i = 0; i < 20_000; i++) words.push((Math.random() * 2 ** 32) >>> 0)
  for (let i = 0; i + 1 < words.length; i++) {
    const [hi, lo] = [words[i]!, words[i + 1]!]
    assert.equal(decimal64(hi, lo), ((BigInt(hi) << 32n) | BigInt(lo)).toString(), `${hi} ${lo}`)
    assert.equal(decimal64(lo, hi), ((BigInt(lo) << 32n) | BigInt(hi)).toString(), `${lo} ${hi}`)
  }
  assert.equal(decimal64(0xffffffff, 0xffffffff), '18446744073709551615')
})
