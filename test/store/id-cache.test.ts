import { test } from 'node:test'
import assert from 'node:assert/strict'
import { IdCache } from '../../src/store/id-cache.ts'

/** Ids as the store's hashes spread: a fixed xorshift stream, two 32-bit words each. */
function ids(n: number, seed = 0x9e3779b9): Uint32Array {
  const out = new Uint32Array(2 * n)
  let x = seed
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x >>> 0
  }
  return out
}

test('IdCache keeps the last commit of each id, 0 for ids it never saw', () => {
  const c = new IdCache()
  const held = ids(200_000)
  for (let i = 0; i < held.length; i += 2) c.set(held[i]!, held[i + 1]!, 1 + (i % 7))
  for (let i = 0; i < held.length; i += 2) c.set(held[i]!, held[i + 1]!, 1 + (i % 5))
  assert.equal(c.size, 200_000)
  for (let i = 0; i < held.length; i += 2) assert.equal(c.get(held[i]!, held[i + 1]!), 1 + (i % 5))
  const other = ids(1_000, 12345)
  for (let i = 0; i < other.length; i += 2) assert.equal(c.get(other[i]!, other[i + 1]!), 0)
  c.clear()
  assert.equal(c.get(held[0]!, held[1]!), 0)
})

test("IdCache's tables double at different times: no slice of 16,384 new ids moves more than a third of those held", () => {
  // With one load for all 64 tables, the evenly filled tables doubled within the same slice
  // (0.58 of the ids moved in one, a turn of 106-163 ms under load); staggered loads spread them.
  const c = new IdCache()
  const all = ids(16_384 * 48)
  let moved = 0
  let worst = 0
  for (let at = 0; at < all.length; ) {
    for (const end = at + 2 * 16_384; at < end; at += 2) c.set(all[at]!, all[at + 1]!, 1)
    if (c.size >= 100_000) worst = Math.max(worst, (c.moved - moved) / c.size)
    moved = c.moved
  }
  assert.ok(worst < 1 / 3, `a slice moved ${worst.toFixed(2)} of the ids held`)
  assert.ok(worst > 0, 'the tables doubled while filling')
})
