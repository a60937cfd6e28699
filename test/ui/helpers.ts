import { CallTree } from '../../src/model/tree.ts'
import { flameGraph, diffFlameGraph } from '../../src/model/flamegraph.ts'
import { toFlame, type Flame } from '../../ui/src/lib/flame.ts'
import type { Rect } from '../../ui/src/lib/layout.ts'

/** A call tree from folded stacks (`a;b;c 3` per line). */
export function treeOf(folded: string): CallTree {
  const t = new CallTree()
  for (const line of folded.trim().split('\n')) {
    const i = line.lastIndexOf(' ')
    t.add(line.slice(0, i).trim().split(';'), Number(line.slice(i + 1)))
  }
  return t
}

/** The UI's flame graph for folded stacks, through the same encoding the API sends. */
export const flameOf = (folded: string): Flame => toFlame(flameGraph(treeOf(folded)))
export const diffOf = (left: string, right: string): Flame => toFlame(diffFlameGraph(treeOf(left), treeOf(right)))

/**
 * Draws laid-out blocks as ASCII art, one character per px and one line per row: `[name///]` for
 * a frame, `[~~~]` for merged small frames. Rows are the blocks' y / rowHeight.
 */
export function drawRects(f: Flame, rects: readonly Rect[], width: number, rowHeight: number): string {
  const rows: string[][] = []
  for (const r of rects) {
    const row = (rows[r.y / rowHeight] ??= Array.from({ length: width }, () => ' '))
    const x0 = Math.round(r.x)
    const x1 = Math.round(r.x + r.w)
    const body =
      r.count > 1
        ? '~'.repeat(Math.max(0, x1 - x0 - 2))
        : f.names[f.name[r.node]!]!.padEnd(x1 - x0 - 2, '/').slice(0, Math.max(0, x1 - x0 - 2))
    const s = x1 - x0 >= 2 ? `[${body}]` : '|'
    for (let k = 0; k < s.length && x0 + k < width; k++) row[x0 + k] = s[k]!
  }
  return Array.from(rows, (r) => (r ?? []).join('').trimEnd()).join('\n')
}
