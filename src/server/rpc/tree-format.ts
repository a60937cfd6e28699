/**
 * SelectMergeStacktraces' other answers: TREE (Pyroscope's tree bytes) and DOT (a Graphviz call
 * graph, as pprof draws one: a node per function with flat and cumulative values, an edge per
 * caller → callee with the value that went through it).
 */
import type { CallTree } from '../../model/tree.ts'

// Nodes below this share of the total merge into "other" per parent when the tree has more than
// max_nodes nodes: the threshold is the max_nodes-th largest total, as for flame graphs.
function threshold(tree: CallTree, maxNodes: number): number {
  if (tree.size - 1 <= maxNodes) return 0
  const totals = tree.total.slice(1).sort((a, b) => b - a)
  return totals[maxNodes - 1] ?? 0
}

function varint(out: number[], v: number): void {
  let n = Math.max(0, Math.floor(v))
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
}

/**
 * Pyroscope's tree bytes: the nodes depth first from a nameless root, each as varint name length,
 * UTF-8 name, varint self value, varint child count. Children under the max_nodes threshold are
 * summed into one "other" leaf of their parent.
 */
export function treeBytes(tree: CallTree, maxNodes: number): Uint8Array {
  const min = threshold(tree, maxNodes)
  const out: number[] = []
  const enc = new TextEncoder()
  const write = (name: string, self: number, children: number): void => {
    const b = enc.encode(name)
    varint(out, b.length)
    for (const x of b) out.push(x)
    varint(out, self)
    varint(out, children)
  }
  // An explicit stack (a million-node tree is too deep for recursion): [node] or ['other', value].
  const stack: ([number] | ['other', number])[] = [[0]]
  while (stack.length) {
    const top = stack.pop()!
    if (top[0] === 'other') {
      write('other', top[1], 0)
      continue
    }
    const n = top[0]
    const kept = tree.children[n]!.filter((c) => tree.total[c]! >= min)
    const other = tree.children[n]!.reduce((a, c) => (tree.total[c]! >= min ? a : a + tree.total[c]!), 0)
    write(n === 0 ? '' : tree.names[tree.name[n]!]!, tree.self[n]!, kept.length + (other > 0 ? 1 : 0))
    if (other > 0) stack.push(['other', other])
    for (let i = kept.length - 1; i >= 0; i--) stack.push([kept[i]!])
  }
  return new Uint8Array(out)
}

/** A Graphviz digraph of the call graph: the max_nodes functions with the largest cumulative value. */
export function treeDot(tree: CallTree, maxNodes: number, title: string): string {
  const flat = new Map<number, number>()
  const cum = new Map<number, number>()
  const edges = new Map<string, number>()
  // Depth first with exit markers (~n): `onPath` counts each function on the current stack, so a
  // recursive function adds to its cumulative value once per stack, at its outermost frame.
  const onPath = new Map<number, number>()
  const stack = tree.children[0]!.slice()
  while (stack.length) {
    const x = stack.pop()!
    if (x < 0) {
      const f = tree.name[~x]!
      onPath.set(f, onPath.get(f)! - 1)
      continue
    }
    const f = tree.name[x]!
    flat.set(f, (flat.get(f) ?? 0) + tree.self[x]!)
    if (!onPath.get(f)) cum.set(f, (cum.get(f) ?? 0) + tree.total[x]!)
    const parent = tree.parent[x]!
    if (parent > 0) {
      const key = `${tree.name[parent]!} ${f}`
      edges.set(key, (edges.get(key) ?? 0) + tree.total[x]!)
    }
    onPath.set(f, (onPath.get(f) ?? 0) + 1)
    stack.push(~x)
    for (const c of tree.children[x]!) stack.push(c)
  }
  const total = tree.total[0] || 1
  const kept = new Set(
    [...cum.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, maxNodes)
      .map(([f]) => f),
  )
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
  const q = (s: string) => `"${esc(s)}"`
  const pct = (v: number) => `${((100 * v) / total).toFixed(2)}%`
  const lines = [`digraph ${q(title)} {`, '  node [shape=box style=filled fillcolor="#f8f8f8"]']
  for (const f of kept) {
    const c = cum.get(f)!
    const fl = flat.get(f) ?? 0
    // \n in a DOT label is a line break; the name is escaped on its own.
    const label = `${esc(tree.names[f]!)}\\n${fl} (${pct(fl)})\\nof ${c} (${pct(c)})`
    lines.push(`  N${f} [label="${label}" fontsize=${8 + Math.round((32 * c) / total)}]`)
  }
  for (const [key, v] of edges) {
    const [from, to] = key.split(' ').map(Number) as [number, number]
    if (kept.has(from) && kept.has(to))
      lines.push(`  N${from} -> N${to} [label=${q(String(v))} weight=${Math.max(1, Math.round((100 * v) / total))}]`)
  }
  lines.push('}')
  return lines.join('\n') + '\n'
}
