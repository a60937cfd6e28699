import { decodeLevels, type FlameGraph, type FlameGraphDiff } from '../../../src/model/flamegraph.ts'
import { CallTree } from '../../../src/model/tree.ts'

/**
 * A decoded flame graph as flat arrays, one entry per node, ordered level by level and left to
 * right inside a level — the one in-memory form every view draws from (flame graph, top table,
 * sandwich, search). For a diff, `x`/`total` are the drawn span (left + right) and the two sides
 * are kept in `l*`/`r*`.
 */
export interface Flame {
  names: string[]
  /** Index of the first node of each level; `levelStart[levels]` = node count. */
  levelStart: Int32Array
  level: Int32Array
  x: Float64Array
  total: Float64Array
  self: Float64Array
  name: Int32Array
  parent: Int32Array
  /** Drawn width of the root. */
  rootTotal: number
  diff?: DiffSides
}

export interface DiffSides {
  lTotal: Float64Array
  lSelf: Float64Array
  rTotal: Float64Array
  rSelf: Float64Array
  leftTicks: number
  rightTicks: number
}

export const levelCount = (f: Flame): number => f.levelStart.length - 1
export const nodeCount = (f: Flame): number => f.level.length

/** Decodes the API's flame graph (4-tuple levels) or diff flame graph (7-tuples). */
export function toFlame(fg: FlameGraph | FlameGraphDiff): Flame {
  const diff = 'leftTicks' in fg
  const nodes = decodeLevels(fg.levels, diff)
  // A level with no nodes ends the graph: deeper levels would have no parents.
  const empty = nodes.findIndex((lv) => lv.length === 0)
  if (empty >= 0) nodes.length = empty
  let n = 0
  for (const lv of nodes) n += lv.length
  const f: Flame = {
    names: fg.names,
    levelStart: new Int32Array(nodes.length + 1),
    level: new Int32Array(n),
    x: new Float64Array(n),
    total: new Float64Array(n),
    self: new Float64Array(n),
    name: new Int32Array(n),
    parent: new Int32Array(n),
    rootTotal: 0,
  }
  const sides: DiffSides | undefined = diff
    ? {
        lTotal: new Float64Array(n),
        lSelf: new Float64Array(n),
        rTotal: new Float64Array(n),
        rSelf: new Float64Array(n),
        leftTicks: fg.leftTicks,
        rightTicks: fg.rightTicks,
      }
    : undefined
  let i = 0
  for (let d = 0; d < nodes.length; d++) {
    f.levelStart[d] = i
    for (const nd of nodes[d]!) {
      f.level[i] = d
      f.name[i] = nd.name
      if (sides) {
        // Both sides share one layout; a node is drawn as wide as its two values together.
        f.x[i] = nd.x + nd.rx!
        f.total[i] = nd.total + nd.rTotal!
        f.self[i] = nd.self + nd.rSelf!
        sides.lTotal[i] = nd.total
        sides.lSelf[i] = nd.self
        sides.rTotal[i] = nd.rTotal!
        sides.rSelf[i] = nd.rSelf!
      } else {
        f.x[i] = nd.x
        f.total[i] = nd.total
        f.self[i] = nd.self
      }
      i++
    }
  }
  f.levelStart[nodes.length] = i
  if (sides) f.diff = sides
  linkParents(f)
  f.rootTotal = n ? f.total[0]! : 0
  return f
}

/** Parents by x-range containment: children and parents are both sorted by x, so one pass per level. */
function linkParents(f: Flame): void {
  f.parent.fill(-1)
  for (let d = 1; d < levelCount(f); d++) {
    let p = f.levelStart[d - 1]!
    const pEnd = f.levelStart[d]!
    for (let c = f.levelStart[d]!; c < f.levelStart[d + 1]!; c++) {
      while (p < pEnd - 1 && f.x[c]! >= f.x[p]! + f.total[p]!) p++
      f.parent[c] = p
    }
  }
}

/** The first node of `level` whose span ends after `value` (binary search), or the level's end. */
export function firstEndingAfter(f: Flame, level: number, value: number): number {
  let lo = f.levelStart[level]!
  let hi = f.levelStart[level + 1]!
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (f.x[mid]! + f.total[mid]! <= value) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Which value column a tree is built from: the drawn one, or one side of a diff. */
export type Side = 'all' | 'left' | 'right'

/** The flame graph as a CallTree (for the model's top table and the sandwich trees). */
export function flameToTree(f: Flame, side: Side = 'all'): CallTree {
  const t = new CallTree()
  const [tot, slf] =
    side === 'left' && f.diff
      ? [f.diff.lTotal, f.diff.lSelf]
      : side === 'right' && f.diff
        ? [f.diff.rTotal, f.diff.rSelf]
        : [f.total, f.self]
  const ids = new Int32Array(nodeCount(f))
  for (let i = 0; i < nodeCount(f); i++) {
    const id = i === 0 ? 0 : t.child(ids[f.parent[i]!]!, t.nameId(f.names[f.name[i]!]!))
    ids[i] = id
    t.total[id]! += tot[i]!
    t.self[id]! += slf[i]!
  }
  return t
}

/** The stack of names from the root's child down to `node`. */
export function pathOf(f: Flame, node: number): string[] {
  const out: string[] = []
  for (let n = node; n > 0; n = f.parent[n]!) out.push(f.names[f.name[n]!]!)
  return out.reverse()
}

/** The frame at a stack of names (as `pathOf` gives), or -1 when the graph has no such frame. */
export function nodeByPath(f: Flame, path: readonly string[]): number {
  let node = 0
  for (let d = 0; d < path.length; d++) {
    if (d + 1 >= levelCount(f)) return -1
    let found = -1
    // Children of `node` are contiguous on the next level, within its x-range.
    for (let i = firstEndingAfter(f, d + 1, f.x[node]!); i < f.levelStart[d + 2]!; i++) {
      if (f.x[i]! >= f.x[node]! + f.total[node]!) break
      if (f.parent[i] === node && f.names[f.name[i]!] === path[d]) {
        found = i
        break
      }
    }
    if (found < 0) return -1
    node = found
  }
  return nodeCount(f) ? node : -1
}
