import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BoundedMemo } from '../../src/ingest/memo.ts'

test('a bounded memo keeps values by key, makes long keys each time, and starts over when full or in another scope', () => {
  const memo = new BoundedMemo<{ n: number }>(2, 5)
  let made = 0
  const get = (key: string, scope: unknown = 'a') => memo.get(key, scope, () => ({ n: ++made }))
  const x = get('x')
  assert.equal(get('x'), x, 'kept')
  assert.notEqual(get('toolong'), get('toolong'), 'a key over 5 characters is made each time')
  get('y')
  assert.equal(get('x'), x, 'two keys fit')
  assert.notEqual(get('z'), undefined)
  assert.notEqual(get('x'), x, 'a third key started it over')
  const x2 = get('x')
  assert.notEqual(get('x', 'b'), x2, 'another scope starts it over')
  assert.equal(made, 7)
})
