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

/**
 * Builds levels from a tree with one or more value columns (1: single, 2: diff), breadth first.
 * A level's entries live in flat arrays (node, then per column its x and, for an "other"
 * pseudo-node, its value), not an object and arrays per entry: that took 18–20 ms of CPU for a
 * 14,000-node tree, this ~3 (bench/query.bench.ts).
 */
function encodeLevels(
  tree: CallTree,
  cols: Column[],
  maxNodes: number,
  keepOrder = false,
): { names: string[]; levels: number[][]; maxSelf: number } {
  if (!keepOrder) tree.sortChildren()
  const k = cols.length
  const weight = new Float64Array(tree.size)
  for (const c of cols) for (let n = 0; n < tree.size; n++) weight[n]! += c.total[n]!
  const threshold = pruneThreshold(weight, maxNodes)
  const names = ['total']
  const outName = new Int32Array(tree.names.length).fill(-1)
  outName[0] = 0
  let otherIdx = -1
  let maxSelf = 0
  const levels: number[][] = []
  // An entry is node id (-1 for "other"), then k x offsets and k values (used by "other" only).
  let node: number[] = [0]
  let xs: number[] = new Array(k).fill(0)
  let others: number[] = new Array(k).fill(0)
  const prevEnd = new Float64Array(k)
  const cx = new Float64Array(k)
  const rest = new Float64Array(k)
  while (node.length) {
    const level: number[] = []
    prevEnd.fill(0)
    const nextNode: number[] = []
    const nextXs: number[] = []
    const nextOthers: number[] = []
    for (let e = 0; e < node.length; e++) {
      const n = node[e]!
      for (let j = 0; j < k; j++) {
        const x = xs[e * k + j]!
        const val = n < 0 ? others[e * k + j]! : cols[j]!.total[n]!
        const self = n < 0 ? val : cols[j]!.self[n]!
        level.push(x - prevEnd[j]!, val, self)
        prevEnd[j] = x + val
        if (self > maxSelf) maxSelf = self
      }
      if (n < 0) {
        if (otherIdx < 0) {
          otherIdx = names.length
          names.push('other')
        }
        level.push(otherIdx)
        continue
      }
      const id = tree.name[n]!
      if (outName[id]! < 0) {
        outName[id] = names.length
        names.push(tree.names[id]!)
      }
      level.push(outName[id]!)
      for (let j = 0; j < k; j++) cx[j] = xs[e * k + j]!
      rest.fill(0)
      let pruned = false
      for (const c of tree.children[n]!) {
        if (weight[c]! < threshold) {
          pruned = true
          for (let j = 0; j < k; j++) rest[j]! += cols[j]!.total[c]!
          continue
        }
        nextNode.push(c)
        for (let j = 0; j < k; j++) {
          nextXs.push(cx[j]!)
          nextOthers.push(0)
          cx[j]! += cols[j]!.total[c]!
        }
      }
      if (pruned) {
        nextNode.push(-1)
        for (let j = 0; j < k; j++) {
          nextXs.push(cx[j]!)
          nextOthers.push(rest[j]!)
        }
      }
    }
    levels.push(level)
    node = nextNode
    xs = nextXs
    others = nextOthers
  }
  return { names, levels, maxSelf }
}

/** The smallest node weight kept so that at most ~maxNodes nodes remain (0: keep all). */
function pruneThreshold(weight: Float64Array, maxNodes: number): number {
  if (!(maxNodes > 0) || weight.length - 1 <= maxNodes) return 0
  const w = weight.slice(1).sort()
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
