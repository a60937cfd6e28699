/**
 * Long work on the event loop — a large upload's id check, its log record's CRC, gathering an
 * insert's rows into one buffer — runs in slices with a turn of the loop between them, so
 * requests are answered meanwhile. Slices that each waited with setImmediate all ran in the same
 * turn (the loop's check phase runs every immediate queued before it began): with eight 15 MB
 * uploads, a turn held the id check's slice, a CRC step, a copy step and a collection at once,
 * 100–140 ms of CPU. Here the waiting slices go one a turn, in the order they asked.
 */
const waiting: (() => void)[] = []
let scheduled = false

function release(): void {
  waiting.shift()?.()
  // Queued from inside the check phase: runs on the next turn, after that turn's I/O.
  if (waiting.length) setImmediate(release)
  else scheduled = false
}

/** Resolves on a later turn of the event loop, the only slice of sliced work that turn runs. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve)
    if (!scheduled) {
      scheduled = true
      setImmediate(release)
    }
  })
}
