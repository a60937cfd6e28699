/**
 * A merged call tree, stored as flat arrays (one entry per node) so that trees of a million
 * nodes cost no object per node. Node 0 is the root ("total"). Children keep insertion order
 * until `sortChildren` orders them by name, as flame graphs draw them.
 */
export class CallTree {
  /** Function name table; index 0 is "total" (the root's name). */
  readonly names: string[] = ['total']
  private readonly nameIndex = new Map<string, number>([['total', 0]])
  readonly parent: number[] = [-1]
  readonly name: number[] = [0]
  readonly self: number[] = [0]
  readonly total: number[] = [0]
  readonly children: number[][] = [[]]
  /** Children by name id, for nodes with more than a few children (the rest are scanned): a Map
   * per node made building a 14,000-node tree cost 29–35 ms of CPU, mostly GC (bench/query.bench.ts). */
  private readonly childIndex = new Map<number, Map<number, number>>()

  get size(): number {
    return this.parent.length
  }

  nameId(name: string): number {
    let id = this.nameIndex.get(name)
    if (id === undefined) {
      id = this.names.length
      this.names.push(name)
      this.nameIndex.set(name, id)
    }
    return id
  }

  /** The child of `node` called `nameId`, created if missing. */
  child(node: number, nameId: number): number {
    const ch = this.children[node]!
    if (ch.length <= SCANNED) {
      // From the end: in a flame chart the latest child of a name is the one to merge with.
      for (let i = ch.length - 1; i >= 0; i--) if (this.name[ch[i]!] === nameId) return ch[i]!
    } else {
      let idx = this.childIndex.get(node)
      if (!idx) {
        idx = new Map()
        for (const k of ch) idx.set(this.name[k]!, k)
        this.childIndex.set(node, idx)
      }
      const c = idx.get(nameId)
      if (c !== undefined) return c
    }
    return this.appendChild(node, nameId)
  }

  /** A new last child of `node` called `nameId`, even if one by that name exists (flame charts). */
  appendChild(node: number, nameId: number): number {
    const c = this.parent.length
    this.parent.push(node)
    this.name.push(nameId)
    this.self.push(0)
    this.total.push(0)
    this.children.push([])
    this.children[node]!.push(c)
    this.childIndex.get(node)?.set(nameId, c)
    return c
  }

  /** Adds `value` to a stack of names, root first. */
  add(stack: readonly string[], value: number): void {
    let n = 0
    this.total[0]! += value
    for (const f of stack) {
      n = this.child(n, this.nameId(f))
      this.total[n]! += value
    }
    this.self[n]! += value
  }

  /** Adds `value` to a stack of names, root first, merging a frame only with its parent's last
   * child: input order is time order, as flame charts draw (`flamegraph.pl --flamechart`). */
  addInOrder(stack: readonly string[], value: number): void {
    let n = 0
    this.total[0]! += value
    for (const f of stack) {
      const id = this.nameId(f)
      const ch = this.children[n]!
      const last = ch[ch.length - 1]
      if (last !== undefined && this.name[last] === id) n = last
      else n = this.appendChild(n, id) // a later same-named sibling is a new node
      this.total[n]! += value
    }
    this.self[n]! += value
  }

  /** Adds `value` to a stack of name ids (from `nameId`), root first. */
  addIds(stack: ArrayLike<number>, value: number): void {
    let n = 0
    this.total[0]! += value
    for (let i = 0; i < stack.length; i++) {
      n = this.child(n, stack[i]!)
      this.total[n]! += value
    }
    this.self[n]! += value
  }

  /** Orders every node's children by name (byte order), as flamegraph.pl and Pyroscope draw. */
  sortChildren(): void {
    // Names ranked once, then children ordered by rank: comparing the strings in every sort was
    // most of the time of sorting a tree.
    const order = this.names.map((_, i) => i).sort((a, b) => cmp(this.names[a]!, this.names[b]!))
    const rank = new Int32Array(this.names.length)
    for (let i = 0; i < order.length; i++) rank[order[i]!] = i
    const name = this.name
    for (const ch of this.children) {
      if (ch.length > 1) ch.sort((a, b) => rank[name[a]!]! - rank[name[b]!]!)
    }
  }

  /** The stack of names from the root to `node` (excluding the root). */
  path(node: number): string[] {
    const out: string[] = []
    for (let n = node; n > 0; n = this.parent[n]!) out.push(this.names[this.name[n]!]!)
    return out.reverse()
  }

  /** Every leaf-ward path with its self value: the tree as folded stacks. */
  *stacks(): Generator<[string[], number]> {
    for (let n = 1; n < this.size; n++) if (this.self[n]! > 0) yield [this.path(n), this.self[n]!]
  }
}

export const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** Up to this many children are found by scanning; a node with more gets a map. */
const SCANNED = 8

/** One row of a top table: a function's self and total, total counted once per stack. */
export interface TopRow {
  name: string
  self: number
  total: number
}

/** Self and total per function. Recursion is counted once: a node adds to its function's total
 * only when no ancestor is the same function. */
export function topTable(tree: CallTree): TopRow[] {
  const self = new Map<number, number>()
  const total = new Map<number, number>()
  const onPath = new Map<number, number>() // name id → how many times on the current path
  // Iterative DFS with an explicit enter/exit stack (deep stacks must not overflow the JS stack).
  const stack: number[] = []
  for (const c of tree.children[0]!) stack.push(c)
  const exit: boolean[] = []
  for (let i = 0; i < stack.length; i++) exit.push(false)
  while (stack.length) {
    const n = stack.pop()!
    const leaving = exit.pop()!
    const id = tree.name[n]!
    if (leaving) {
      const c = onPath.get(id)! - 1
      if (c === 0) onPath.delete(id)
      else onPath.set(id, c)
      continue
    }
    self.set(id, (self.get(id) ?? 0) + tree.self[n]!)
    if (!onPath.has(id)) total.set(id, (total.get(id) ?? 0) + tree.total[n]!)
    onPath.set(id, (onPath.get(id) ?? 0) + 1)
    stack.push(n)
    exit.push(true)
    for (const c of tree.children[n]!) {
      stack.push(c)
      exit.push(false)
    }
  }
  const rows: TopRow[] = []
  for (const [id, t] of total) rows.push({ name: tree.names[id]!, self: self.get(id) ?? 0, total: t })
  rows.sort((a, b) => b.self - a.self || b.total - a.total || cmp(a.name, b.name))
  return rows
}
