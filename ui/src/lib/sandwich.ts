import { CallTree } from '../../../src/model/tree.ts'
import { flameGraph, type FlameGraph } from '../../../src/model/flamegraph.ts'
import { type Flame, toFlame, nodeCount } from './flame.ts'

/** Frames named `name` with no ancestor of the same name (so recursion counts once). */
function outermost(f: Flame, name: string): number[] {
  const nameId = f.names.indexOf(name)
  const n = nodeCount(f)
  // under[i]: frame i or an ancestor is `name` (parents come first in level order).
  const under = new Uint8Array(n)
  const nodes: number[] = []
  for (let i = 1; i < n; i++) {
    const p = f.parent[i]!
    const is = f.name[i] === nameId
    if (is && !(p >= 0 && under[p])) nodes.push(i)
    under[i] = is || (p >= 0 && under[p] === 1) ? 1 : 0
  }
  return nodes
}

/**
 * The sandwich for one function: `callers`, an inverted tree with the function at its root and
 * its callers above it (draw as a flame, root at the bottom), and `callees`, everything it calls
 * merged over all its call sites (draw as an icicle). Both are flame graphs rooted at the function
 * itself (no synthetic "total" above it: it would repeat the function's own width), so they draw,
 * search and hover like the main one.
 */
export function sandwich(f: Flame, name: string): { callers: Flame; callees: Flame } {
  const nodes = outermost(f, name)
  const callers = new CallTree()
  for (const n of nodes) {
    const stack: string[] = []
    for (let a = n; a > 0; a = f.parent[a]!) stack.push(f.names[f.name[a]!]!)
    callers.add(stack, f.total[n]!)
  }
  const callees = new CallTree()
  // ids[i]: frame i's node in the callees tree, or -1 when i is not inside a call of `name`.
  const ids = new Int32Array(nodeCount(f)).fill(-1)
  const isStart = new Set(nodes)
  for (let i = 1; i < nodeCount(f); i++) {
    const p = f.parent[i]!
    let id = -1
    if (isStart.has(i)) id = callees.child(0, callees.nameId(name))
    else if (p >= 0 && ids[p]! >= 0) id = callees.child(ids[p]!, callees.nameId(f.names[f.name[i]!]!))
    if (id < 0) continue
    ids[i] = id
    callees.total[id]! += f.total[i]!
    callees.self[id]! += f.self[i]!
    if (isStart.has(i)) callees.total[0]! += f.total[i]!
  }
  return { callers: toFlame(rootedAtChild(flameGraph(callers))), callees: toFlame(rootedAtChild(flameGraph(callees))) }
}

/** A flame graph whose "total" has one child, rooted at that child (both span the same value). */
function rootedAtChild(fg: FlameGraph): FlameGraph {
  return fg.levels.length > 1 && fg.levels[1]!.length === 4 ? { ...fg, levels: fg.levels.slice(1) } : fg
}
