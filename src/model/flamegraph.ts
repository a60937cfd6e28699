import { CallTree, cmp } from './tree.ts'

/**
 * Pyroscope's flame graph encoding, the one representation shared by the store's query path, the
 * APIs, the UI and the SVG renderer. `levels[d]` lists the nodes at depth d left to right as
 * 4-tuples [x-offset delta, total, self, name index]; the delta is the gap since the end of the
 * previous node on that level. `names[0]` is "total".
 */
export interface FlameGraph {
  names: string[]
  levels: number[][]
  total: number
  maxSelf: number
}

/** The diff form: 7-tuples [lDelta, lTotal, lSelf, rDelta, rTotal, rSelf, name index]. */
export interface FlameGraphDiff extends FlameGraph {
  leftTicks: number
  rightTicks: number
}

interface Column {
  self: ArrayLike<number>
  total: ArrayLike<number>
}

/** Builds levels from a tree with one or more value columns (1: single, 2: diff). */
function encodeLevels(
  tree: CallTree,
  cols: Column[],
  maxNodes: number,
  keepOrder = false,
): { names: string[]; levels: number[][]; maxSelf: number } {
  if (!keepOrder) tree.sortChildren()
  const weight = (n: number) => {
    let w = 0
    for (const c of cols) w += c.total[n]!
    return w
  }
  const threshold = pruneThreshold(tree, weight, maxNodes)
  const names = ['total']
  const outName = new Map<number, number>([[0, 0]])
  let otherIdx = -1
  const nameOf = (id: number) => {
    let i = outName.get(id)
    if (i === undefined) {
      i = names.length
      names.push(tree.names[id]!)
      outName.set(id, i)
    }
    return i
  }
  let maxSelf = 0
  const levels: number[][] = []
  // An entry: node id (or -1 for an "other" pseudo-node), x per column, and for "other" its values.
  type Entry = { node: number; x: number[]; other?: number[] }
  let current: Entry[] = [{ node: 0, x: cols.map(() => 0) }]
  while (current.length) {
    const level: number[] = []
    const prevEnd = cols.map(() => 0)
    const next: Entry[] = []
    for (const e of current) {
      const vals = cols.map((c, k) => (e.other ? e.other[k]! : c.total[e.node]!))
      const selfs = cols.map((c, k) => (e.other ? e.other[k]! : c.self[e.node]!))
      for (let k = 0; k < cols.length; k++) {
        level.push(e.x[k]! - prevEnd[k]!, vals[k]!, selfs[k]!)
        prevEnd[k] = e.x[k]! + vals[k]!
        if (selfs[k]! > maxSelf) maxSelf = selfs[k]!
      }
      if (e.other) {
        if (otherIdx < 0) {
          otherIdx = names.length
          names.push('other')
        }
        level.push(otherIdx)
        continue
      }
      level.push(nameOf(tree.name[e.node]!))
      const cx = e.x.slice()
      const rest = cols.map(() => 0)
      let pruned = false
      for (const c of tree.children[e.node]!) {
        if (weight(c) < threshold) {
          pruned = true
          for (let k = 0; k < cols.length; k++) rest[k]! += cols[k]!.total[c]!
          continue
        }
        next.push({ node: c, x: cx.slice() })
        for (let k = 0; k < cols.length; k++) cx[k]! += cols[k]!.total[c]!
      }
      if (pruned) next.push({ node: -1, x: cx, other: rest })
    }
    levels.push(level)
    current = next
  }
  return { names, levels, maxSelf }
}

/** The smallest node weight kept so that at most ~maxNodes nodes remain (0: keep all). */
function pruneThreshold(tree: CallTree, weight: (n: number) => number, maxNodes: number): number {
  if (!(maxNodes > 0) || tree.size - 1 <= maxNodes) return 0
  const w = new Float64Array(tree.size - 1)
  for (let n = 1; n < tree.size; n++) w[n - 1] = weight(n)
  w.sort()
  // The maxNodes-th largest weight; nodes below it are merged into "other".
  return w[w.length - maxNodes]!
}

/** A tree's flame graph, keeping about `maxNodes` nodes (0 = all), the rest merged into "other";
 * children by name unless `keepOrder` (flame charts keep the tree's insertion order). */
export function flameGraph(tree: CallTree, maxNodes = 0, options: { keepOrder?: boolean } = {}): FlameGraph {
  const { names, levels, maxSelf } = encodeLevels(tree, [{ self: tree.self, total: tree.total }], maxNodes, options.keepOrder)
  return { names, levels, total: tree.total[0]!, maxSelf }
}

/** Both trees on one layout: the diff flame graph Pyroscope's Diff API returns. */
export function diffFlameGraph(left: CallTree, right: CallTree, maxNodes = 0): FlameGraphDiff {
  const u = new CallTree()
  const map = (t: CallTree) => {
    const ids = new Int32Array(t.size)
    for (let n = 1; n < t.size; n++) ids[n] = u.child(ids[t.parent[n]!]!, u.nameId(t.names[t.name[n]!]!))
    return ids
  }
  const lIds = map(left)
  const rIds = map(right)
  const col = (t: CallTree, ids: Int32Array): Column => {
    const self = new Float64Array(u.size)
    const total = new Float64Array(u.size)
    for (let n = 0; n < t.size; n++) {
      self[ids[n]!]! += t.self[n]!
      total[ids[n]!]! += t.total[n]!
    }
    return { self, total }
  }
  const l = col(left, lIds)
  const r = col(right, rIds)
  const { names, levels, maxSelf } = encodeLevels(u, [l, r], maxNodes)
  const lt = left.total[0]!
  const rt = right.total[0]!
  return { names, levels, total: lt + rt, maxSelf, leftTicks: lt, rightTicks: rt }
}

/** One node of a decoded flame graph, with absolute positions. */
export interface FlameNode {
  level: number
  /** Absolute offset (left side for a diff). */
  x: number
  total: number
  self: number
  name: number
  /** Right side of a diff. */
  rx?: number
  rTotal?: number
  rSelf?: number
}

/** Decodes levels back into nodes with absolute offsets (4-tuples, or 7-tuples for a diff). */
export function decodeLevels(levels: number[][], diff = false): FlameNode[][] {
  const step = diff ? 7 : 4
  return levels.map((lv, d) => {
    const out: FlameNode[] = []
    let end = 0
    let rend = 0
    for (let i = 0; i + step <= lv.length; i += step) {
      const x = end + lv[i]!
      end = x + lv[i + 1]!
      if (diff) {
        const rx = rend + lv[i + 3]!
        rend = rx + lv[i + 4]!
        out.push({ level: d, x, total: lv[i + 1]!, self: lv[i + 2]!, name: lv[i + 6]!, rx, rTotal: lv[i + 4]!, rSelf: lv[i + 5]! })
      } else out.push({ level: d, x, total: lv[i + 1]!, self: lv[i + 2]!, name: lv[i + 3]! })
    }
    return out
  })
}

/** Folded stacks of a flame graph (leaf paths with self values), sorted — for tests and export. */
export function flameGraphToFolded(fg: FlameGraph): string {
  const nodes = decodeLevels(fg.levels)
  const lines: string[] = []
  // Walk level by level keeping each node's path; parents are found by x-range containment.
  let prev: { x: number; total: number; path: string }[] = []
  for (let d = 0; d < nodes.length; d++) {
    const cur: { x: number; total: number; path: string }[] = []
    let p = 0
    for (const n of nodes[d]!) {
      let path = ''
      if (d > 0) {
        while (p < prev.length && !(n.x >= prev[p]!.x && n.x < prev[p]!.x + prev[p]!.total)) p++
        const parent = prev[p]
        path = parent && parent.path ? parent.path + ';' + fg.names[n.name] : fg.names[n.name]!
      }
      if (d > 0 && n.self > 0) lines.push(`${path} ${n.self}`)
      cur.push({ x: n.x, total: n.total, path })
    }
    prev = cur
  }
  return lines.sort(cmp).join('\n') + (lines.length ? '\n' : '')
}
