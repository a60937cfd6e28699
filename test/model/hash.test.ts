import { test } from 'node:test'
import assert from 'node:assert/strict'
import { hash64 } from '../../src/model/hash.ts'

test('hash64 is stable, a UInt64 in decimal, and spreads', () => {
  assert.equal(hash64('main;work'), hash64('main;work'))
  assert.match(hash64('x'), /^\d{1,20}$/)
  assert.ok(BigInt(hash64('x')) < 2n ** 64n)
  const seen = new Set<string>()
  for (let i = 0; i < 50_000; i++) seen.add(hash64(`f${i}`))
  assert.equal(seen.size, 50_000)
})
