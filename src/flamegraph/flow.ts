import { FOLDED_LINE } from './folded.ts'
import type { RawFrame } from './svg-layout.ts'

/** Folded lines merged into frames, ready to place (`placeFrames`). */
export interface Flow {
  frames: RawFrame[]
  total: number
  /** Lines read, and lines that are not `stack count`. */
  stacks: number
  ignored: number
}

interface Stack {
  frames: string[]
  count: number
}

// Frame by frame in byte order, a stack before its own prefix: the order the merged tree's
// children are drawn in (by name), with a frame's children left of its self time.
function byFrames(a: Stack, b: Stack): number {
  const fa = a.frames
  const fb = b.frames
  const n = Math.min(fa.length, fb.length)
  for (let i = 0; i < n; i++) if (fa[i] !== fb[i]) return fa[i]! < fb[i]! ? -1 : 1
  return fb.length - fa.length
}

/**
 * The frames of a flame graph straight from folded lines, as flamegraph.pl merges them: sort the
 * stacks, then walk them once, closing the frames a stack does not share with the one before
 * and opening its own. No tree, no levels: one object per frame drawn. The result is the layout
 * `FoldedReader` + `layoutFrames` give (children by name, left of the parent's self time).
 * null where that path must be taken: two counts per line (a differential graph), counts that
 * are not integers or sums past 2^53 (where summing in another order could round otherwise).
 * `minValue(total)`, when given, leaves out the frames narrower than it (those `placeFrames`
 * would leave out), so that no object is made for them.
 */
export function flowFolded(lines: Iterable<string>, reverse = false, minValue?: (total: number) => number): Flow | null {
  const stacks: Stack[] = []
  let ignored = 0
  let sum = 0
  for (const raw of lines) {
    if (raw === '' || raw === '\r') continue
    const m = FOLDED_LINE.exec(raw)
    if (!m) {
      ignored++
      continue
    }
    const stack = m[1]!
    const last = stack.charCodeAt(stack.length - 1)
    if (((last >= 48 && last <= 57) || last === 46) && FOLDED_LINE.test(stack)) return null
    const count = Number(m[2]!)
    if (!Number.isSafeInteger(count)) return null
    const frames = stack.split(';')
    if (reverse) frames.reverse()
    stacks.push({ frames, count })
    sum += count
  }
  const min = minValue ? Math.max(minValue(sum), Number.MIN_VALUE) : Number.MIN_VALUE
  stacks.sort(byFrames)
  const byDepth: RawFrame[][] = [[]]
  const starts: number[] = []
  let prev: string[] = []
  let t = 0
  // Frames at one depth close in time order, so each depth's list is in x order.
  const close = (from: number) => {
    for (let i = prev.length - 1; i >= from; i--) {
      const value = t - starts[i]!
      if (value >= min) (byDepth[i + 1] ??= []).push({ name: prev[i]!, depth: i + 1, offset: starts[i]!, value })
    }
  }
  for (const s of stacks) {
    const f = s.frames
    let same = 0
    while (same < prev.length && same < f.length && prev[same] === f[same]) same++
    close(same)
    for (let i = same; i < f.length; i++) starts[i] = t
    t += s.count
    if (!Number.isSafeInteger(t)) return null
    prev = f
  }
  close(0)
  byDepth[0] = [{ name: 'all', depth: 0, offset: 0, value: t }]
  return { frames: byDepth.flat(), total: t, stacks: stacks.length, ignored }
}
