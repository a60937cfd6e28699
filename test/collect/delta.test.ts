/** Deltas of cumulative profiles between scrapes: first scrape, growth, repeated stacks, restarts. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { delta } from '../../src/collect/scrape.ts'
import { ProfileBuilder, toFolded, type Profile } from '../../src/model/profile.ts'

function heap(rows: [string, number, number][]): Profile {
  const b = new ProfileBuilder({
    sampleTypes: [
      { type: 'alloc_space', unit: 'bytes' },
      { type: 'inuse_space', unit: 'bytes' },
    ],
    periodType: { type: 'space', unit: 'bytes' },
    period: 1,
    timeMs: 0,
    durationNanos: 0,
  })
  for (const [stack, alloc, inuse] of rows) b.addNames(stack.split(';'), [alloc, inuse])
  return b.build()
}
const cumulative = ['alloc_space']

test('first scrape: cumulative types are zero, gauges pass; then the growth per stack', () => {
  const first = delta(
    heap([
      ['main;a', 100, 10],
      ['main;b', 50, 5],
      ['main;a', 20, 1],
    ]),
    cumulative,
    undefined,
  )
  assert.equal(toFolded(first.profile, 0), '')
  assert.equal(toFolded(first.profile, 1), 'main;a 11\nmain;b 5\n')
  const second = delta(
    heap([
      ['main;a', 150, 3],
      ['main;b', 50, 5],
      ['main;c', 7, 7],
    ]),
    cumulative,
    first.counters,
  )
  assert.equal(toFolded(second.profile, 0), 'main;a 30\nmain;c 7\n')
  assert.equal(toFolded(second.profile, 1), 'main;a 3\nmain;b 5\nmain;c 7\n')
})

test('a counter that went down means the program restarted: the whole value counts', () => {
  const first = delta(heap([['main;a', 100, 1]]), cumulative, undefined)
  const after = delta(
    heap([
      ['main;a', 40, 1],
      ['main;b', 5, 0],
    ]),
    cumulative,
    first.counters,
  )
  assert.equal(toFolded(after.profile, 0), 'main;a 40\nmain;b 5\n')
})
