/** The label timeline: merged sets, the set in force at a time, forgetting, nesting. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { LabelTimeline } from '../src/labels.ts'

test('nested label sets merge; each time maps to the set in force then', () => {
  const t = new LabelTimeline()
  t.start()
  const t0 = t.nowUs()
  const a = t.merged({ route: '/a' })
  t.enter(a)
  const inA = t.nowUs()
  const ab = t.merged({ user: 'u1', route: '/b' })
  t.enter(ab)
  const inAB = t.nowUs()
  t.enter(a)
  const backInA = t.nowUs()
  t.enter(0)
  const after = t.nowUs() + 1
  assert.deepEqual(
    t.set(ab),
    [
      ['route', '/b'],
      ['user', 'u1'],
    ],
    'later keys replace, sorted by name',
  )
  assert.equal(t.merged({ route: '/a' }), a, 'the same labels on the same base intern to one id')
  const at = t.cursor()
  assert.deepEqual([t0, inA, inAB, backInA, after].map(at), [0, a, ab, a, 0])
  t.forget(inAB)
  const again = t.cursor()
  assert.equal(again(inAB), ab, 'the set in force at the cut is kept')
  assert.equal(again(after), 0)
})

test('recording stopped: sets still change, nothing is kept', () => {
  const t = new LabelTimeline()
  const a = t.merged({ k: 'v' })
  t.enter(a)
  assert.equal(t.current, a)
  assert.equal(t.cursor()(t.nowUs()), a)
  t.start()
  t.stop()
  t.enter(0)
  assert.equal(t.cursor()(t.nowUs()), 0)
})
