/** Sliced work on the event loop goes one slice a turn (src/store/turns.ts), whoever asks. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { nextTurn } from '../../src/store/turns.ts'

test('slices of several jobs run one a turn of the event loop, in the order they asked', async () => {
  // Counts turns: an immediate that queues itself runs once a turn.
  let turn = 0
  let counting = true
  const tick = () => {
    turn++
    if (counting) setImmediate(tick)
  }
  setImmediate(tick)
  const ran: [job: number, turn: number][] = []
  const job = async (id: number) => {
    for (let slice = 0; slice < 5; slice++) {
      ran.push([id, turn])
      await nextTurn()
    }
  }
  await Promise.all([job(1), job(2), job(3)])
  counting = false
  // The first slice of each ran when the job started (same turn); every later one on a turn of its own.
  const later = ran.slice(3).map(([, t]) => t)
  assert.equal(new Set(later).size, later.length, `two slices shared a turn: ${JSON.stringify(ran)}`)
  assert.deepEqual(
    ran.slice(3).map(([j]) => j),
    [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3],
    'in the order they asked',
  )
})

test('timers fire while slices wait: the loop turns between them', async () => {
  let fired = false
  setTimeout(() => (fired = true), 5)
  let slices = 0
  // Sliced work that goes on until the timer fired (at most 1e6 slices: a loop that never turns fails here).
  while (!fired && slices < 1e6) {
    slices++
    await nextTurn()
  }
  assert.ok(fired, `the timer did not fire in ${slices} slices`)
})
