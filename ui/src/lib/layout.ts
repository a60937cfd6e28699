import { type Flame, levelCount, firstEndingAfter } from './flame.ts'

/** What part of a flame graph is shown, and how. Values are in the profile's units; sizes in CSS px. */
export interface Viewport {
  /** The value range spread across the width: [0, rootTotal] unzoomed, a node's span when zoomed. */
  x0: number
  x1: number
  width: number
  rowHeight: number
  /** flame: root at the bottom; icicle: root at the top. */
  orientation: 'flame' | 'icicle'
  /** Frames narrower than this many px are merged with adjacent narrow frames into one block. */
  minWidth: number
}

/** One drawn block: a frame (`count` 1) or `count` adjacent narrow frames merged, `node` the first. */
export interface Rect {
  node: number
  count: number
  level: number
  x: number
  y: number
  w: number
}

/** The whole graph, unzoomed. */
export function fullViewport(f: Flame, width: number, opts: Partial<Viewport> = {}): Viewport {
  return { x0: 0, x1: f.rootTotal || 1, width, rowHeight: 18, orientation: 'icicle', minWidth: 2, ...opts }
}

/** The viewport zoomed to `node`'s span (its ancestors are drawn full width above it). */
export function zoomTo(f: Flame, vp: Viewport, node: number): Viewport {
  return { ...vp, x0: f.x[node]!, x1: f.x[node]! + (f.total[node]! || 1) }
}

export const graphHeight = (f: Flame, vp: Viewport): number => levelCount(f) * vp.rowHeight

const rowY = (f: Flame, vp: Viewport, level: number) =>
  vp.orientation === 'icicle' ? level * vp.rowHeight : (levelCount(f) - 1 - level) * vp.rowHeight

/**
 * The blocks to draw for a viewport, level by level: frames outside the range are skipped,
 * frames are clipped to the width, and runs of frames under `minWidth` px become one block, so
 * that a 100,000-node graph draws only as many blocks as fit on screen. The frames under a merged
 * block are narrower still (a child lies within its parent): they become one block per level
 * without being visited one by one — unzoomed, most of a big graph's frames are such.
 */
export function layout(f: Flame, vp: Viewport): Rect[] {
  const out: Rect[] = []
  const scale = vp.width / (vp.x1 - vp.x0)
  // The value spans of the previous level's merged blocks ([from, to) pairs, left to right), and this level's.
  let above: number[] = []
  let here: number[] = []
  for (let d = 0; d < levelCount(f); d++) {
    const y = rowY(f, vp, d)
    const end = f.levelStart[d + 1]!
    let run: Rect | null = null
    let k = 0
    for (let i = firstEndingAfter(f, d, vp.x0); i < end; i++) {
      const x = f.x[i]!
      if (x >= vp.x1) break
      while (k < above.length && above[k + 1]! <= x) k += 2
      // Under a merged block: every frame of this level up to its end is narrow; take them all.
      const under = k < above.length && above[k]! <= x
      const last = under ? firstAtOrAfter(f, i, end, Math.min(above[k + 1]!, vp.x1)) - 1 : i
      const left = Math.max(0, (x - vp.x0) * scale)
      const right = Math.min(vp.width, (f.x[last]! + f.total[last]! - vp.x0) * scale)
      const w = right - left
      if (under || w < vp.minWidth) {
        // Extend the current run when this frame touches it (within half a pixel).
        if (run && left - (run.x + run.w) < 0.5) {
          run.w = right - run.x
          run.count += last - i + 1
          here[here.length - 1] = f.x[last]! + f.total[last]!
        } else {
          run = { node: i, count: last - i + 1, level: d, x: left, y, w }
          out.push(run)
          here.push(x, f.x[last]! + f.total[last]!)
        }
        i = last
        continue
      }
      run = null
      out.push({ node: i, count: 1, level: d, x: left, y, w })
    }
    ;[above, here] = [here, above]
    here.length = 0
  }
  return out
}

/** The first node in [from, end) of one level whose x is at or after `value` (binary search), or `end`. */
function firstAtOrAfter(f: Flame, from: number, end: number, value: number): number {
  let lo = from
  let hi = end
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (f.x[mid]! < value) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** The frame under a point (CSS px from the graph's top-left), or -1. */
export function hitTest(f: Flame, vp: Viewport, px: number, py: number): number {
  if (px < 0 || px >= vp.width || py < 0) return -1
  const row = Math.floor(py / vp.rowHeight)
  const levels = levelCount(f)
  const level = vp.orientation === 'icicle' ? row : levels - 1 - row
  if (level < 0 || level >= levels) return -1
  const value = vp.x0 + (px / vp.width) * (vp.x1 - vp.x0)
  const i = firstEndingAfter(f, level, value)
  return i < f.levelStart[level + 1]! && f.x[i]! <= value ? i : -1
}

/** Search result: which frames match, and the matched share of the total (nested matches counted once). */
export interface Matches {
  hit: Uint8Array
  count: number
  value: number
  share: number
}

/** Frames whose name matches `re`; the share sums each matching frame not under another match. */
export function search(f: Flame, re: RegExp): Matches {
  const n = f.level.length
  const hit = new Uint8Array(n)
  // covered: this frame or an ancestor matched (parents come before children in level order).
  const covered = new Uint8Array(n)
  const byName = new Map<number, boolean>()
  let count = 0
  let value = 0
  for (let i = 0; i < n; i++) {
    const name = f.name[i]!
    let m = byName.get(name)
    if (m === undefined) {
      re.lastIndex = 0
      m = i > 0 && re.test(f.names[name]!)
      byName.set(name, m)
    }
    const p = f.parent[i]!
    const under = p >= 0 && covered[p] === 1
    if (m) {
      hit[i] = 1
      count++
      if (!under) value += f.total[i]!
    }
    covered[i] = m || under ? 1 : 0
  }
  return { hit, count, value, share: f.rootTotal ? value / f.rootTotal : 0 }
}

/** The widest frame named `name`, or -1 (the frame a top-table row focuses). */
export function widestNamed(f: Flame, name: string): number {
  let best = -1
  for (let i = 1; i < f.level.length; i++) {
    if (f.names[f.name[i]!] === name && (best < 0 || f.total[i]! > f.total[best]!)) best = i
  }
  return best
}

/** Where frame `node` is drawn as a block of its own (CSS px), or null when it is off screen or merged (under `minWidth`). */
export function nodeRect(f: Flame, vp: Viewport, node: number): { x: number; y: number; w: number } | null {
  const scale = vp.width / (vp.x1 - vp.x0)
  const x = f.x[node]!
  const left = Math.max(0, (x - vp.x0) * scale)
  const right = Math.min(vp.width, (x + f.total[node]! - vp.x0) * scale)
  if (right - left < vp.minWidth) return null
  return { x: left, y: rowY(f, vp, f.level[node]!), w: right - left }
}
