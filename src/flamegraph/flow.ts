import { type FrameTable, frameTable } from './svg-layout.ts'

/** Folded lines merged into frames, ready to place (`placeFrames`). */
export interface Flow {
  frames: FrameTable
  total: number
  /** Lines read, and lines that are not `stack count`. */
  stacks: number
  ignored: number
}

const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13)
const isDigit = (c: number): boolean => c >= 48 && c <= 57

/**
 * FOLDED_LINE (folded.ts) on bytes [s, end) of a line, without the regex (it backtracks through
 * the whole stack from its end): where the count starts, or -1 when there is none. The greedy
 * stack leaves one whitespace before the count, so the count is what follows the last
 * whitespace, and it must read `\d+(\.\d*)?`.
 */
function countAt(b: Uint8Array, s: number, end: number): number {
  let k = end
  while (k > s && !isSpace(b[k - 1]!)) k--
  if (k === s) return -1
  let i = k
  while (i < end && isDigit(b[i]!)) i++
  if (i === k) return -1
  if (i < end && b[i] === 46) for (i++; i < end && isDigit(b[i]!); ) i++
  return i === end ? k : -1
}

/** Frame names by id, found by a hash of their bytes: a line's frames cost no strings once seen. */
class Names {
  readonly list: string[] = []
  private readonly byHash = new Map<number, number | number[]>()

  id(b: Buffer, s: number, e: number): number {
    let h = 0x811c9dc5
    for (let i = s; i < e; i++) h = Math.imul(h ^ b[i]!, 0x01000193)
    h &= 0x3fffffff // a Smi key
    const got = this.byHash.get(h)
    if (typeof got === 'number' && this.same(got, b, s, e)) return got
    if (typeof got === 'object') for (const id of got) if (this.same(id, b, s, e)) return id
    const id = this.list.push(b.toString('latin1', s, e)) - 1
    if (got === undefined) this.byHash.set(h, id)
    else if (typeof got === 'number') this.byHash.set(h, [got, id])
    else got.push(id)
    return id
  }

  private same(id: number, b: Buffer, s: number, e: number): boolean {
    const n = this.list[id]!
    if (n.length !== e - s) return false
    for (let i = 0; i < n.length; i++) if (n.charCodeAt(i) !== b[s + i]) return false
    return true
  }
}

/** `flowFoldedBytes` on lines given as latin1 strings. */
export function flowFolded(lines: Iterable<string>, reverse = false, minValue?: (total: number) => number): Flow | null {
  return flowFoldedBytes(Buffer.from([...lines].join('\n'), 'latin1'), reverse, minValue)
}

/**
 * The frames of a flame graph straight from folded lines (bytes, split on "\n"), as
 * flamegraph.pl merges them: sort the stacks, then walk them once, closing the frames a stack
 * does not share with the one before and opening its own. No tree, no levels, no string per
 * frame read: one object per frame drawn. The result is the layout `FoldedReader` +
 * `layoutFrames` give (children by name, left of the parent's self time). null where that path
 * must be taken: two counts per line (a differential graph), counts that are not integers or
 * sums past 2^53 (where summing in another order could round otherwise). `minValue(total)`,
 * when given, leaves out the frames narrower than it (those `placeFrames` would leave out), so
 * that no object is made for them.
 */
export function flowFoldedBytes(b: Buffer, reverse = false, minValue?: (total: number) => number): Flow | null {
  // Every stack's frames, one after another, as name ids (then ranks); each stack's offset,
  // length and count: typed arrays, grown by doubling (number[] grew through copies, and its
  // elements were scanned by every GC).
  let fr = new Int32Array(1 << 16)
  let nfr = 0
  let off = new Int32Array(1 << 12)
  let len = new Int32Array(1 << 12)
  let counts = new Float64Array(1 << 12)
  let stacks = 0
  const names = new Names()
  let ignored = 0
  let sum = 0
  for (let ls = 0; ls < b.length; ) {
    let le = b.indexOf(10, ls)
    if (le < 0) le = b.length
    const s = ls
    ls = le + 1
    if (le === s || (le === s + 1 && b[s] === 13)) continue // '' and '\r' are no lines
    const at = countAt(b, s, le)
    if (at < 0) {
      ignored++
      continue
    }
    if (countAt(b, s, at - 1) >= 0) return null // two counts: a differential graph
    const count = Number(b.toString('latin1', at, le))
    if (!Number.isSafeInteger(count)) return null
    const o = nfr
    for (let fs = s, i = s; ; i++) {
      if (i === at - 1 || b[i] === 59 /* ; */) {
        if (nfr === fr.length) fr = grown(fr)
        fr[nfr++] = names.id(b, fs, i)
        fs = i + 1
        if (i === at - 1) break
      }
    }
    if (reverse)
      for (let x = o, y = nfr - 1; x < y; x++, y--) {
        const f = fr[x]!
        fr[x] = fr[y]!
        fr[y] = f
      }
    if (stacks === off.length) {
      off = grown(off)
      len = grown(len)
      counts = grown(counts)
    }
    off[stacks] = o
    len[stacks] = nfr - o
    counts[stacks++] = count
    sum += count
  }
  const min = minValue ? Math.max(minValue(sum), Number.MIN_VALUE) : Number.MIN_VALUE
  // Ranks in byte order (sorting strings without a comparator compares UTF-16 units: byte
  // order for latin1 text), so that comparing frames compares numbers.
  const sorted = [...names.list].sort()
  const rank = new Map<string, number>()
  sorted.forEach((n, r) => rank.set(n, r))
  const rankOf = names.list.map((n) => rank.get(n)!)
  for (let i = 0; i < nfr; i++) fr[i] = rankOf[fr[i]!]!
  // Frame by frame, a stack before its own prefix: the order the merged tree's children are
  // drawn in (by name), with a frame's children left of its self time.
  const order = Array.from({ length: stacks }, (_, k) => k)
  order.sort((x, y) => {
    const ox = off[x]!
    const oy = off[y]!
    const n = Math.min(len[x]!, len[y]!)
    for (let i = 0; i < n; i++) if (fr[ox + i] !== fr[oy + i]) return fr[ox + i]! - fr[oy + i]!
    return len[y]! - len[x]!
  })
  // Frames as they close (at each depth in time order, so in x order), then grouped by depth.
  const closed = frameTable(sorted, 1 << 12)
  const perDepth = [1]
  const starts: number[] = []
  let pOff = 0
  let pLen = 0
  let t = 0
  const close = (from: number) => {
    for (let i = pLen - 1; i >= from; i--) {
      const value = t - starts[i]!
      if (value < min) continue
      if (closed.n === closed.name.length) grow(closed)
      const k = closed.n++
      closed.name[k] = fr[pOff + i]!
      closed.depth[k] = i + 1
      closed.offset[k] = starts[i]!
      closed.value[k] = value
      perDepth[i + 1] = (perDepth[i + 1] ?? 0) + 1
    }
  }
  for (const k of order) {
    const o = off[k]!
    const n = len[k]!
    let same = 0
    while (same < pLen && same < n && fr[pOff + same] === fr[o + same]) same++
    close(same)
    for (let i = same; i < n; i++) starts[i] = t
    t += counts[k]!
    if (!Number.isSafeInteger(t)) return null
    pOff = o
    pLen = n
  }
  close(0)
  return { frames: byDepth(closed, perDepth, t), total: t, stacks, ignored }
}

/** A typed array twice as long, with `a`'s elements. */
function grown<T extends Int32Array | Float64Array>(a: T): T {
  const b = new (a.constructor as new (n: number) => T)(a.length * 2)
  b.set(a)
  return b
}

function grow(t: FrameTable): void {
  t.name = grown(t.name)
  t.depth = grown(t.depth)
  t.value = grown(t.value)
  t.offset = grown(t.offset)
}

/** The root "all" (value `total`), then the closed frames depth by depth, each depth in close order. */
function byDepth(closed: FrameTable, perDepth: number[], total: number): FrameTable {
  const names = [...closed.names, 'all']
  const out = frameTable(names, closed.n + 1)
  out.n = closed.n + 1
  out.name[0] = names.length - 1
  out.value[0] = total
  const next = [0]
  for (let d = 1, at = 1; d < perDepth.length; d++) {
    next[d] = at
    at += perDepth[d] ?? 0
  }
  for (let k = 0; k < closed.n; k++) {
    const i = next[closed.depth[k]!]!++
    out.name[i] = closed.name[k]!
    out.depth[i] = closed.depth[k]!
    out.offset[i] = closed.offset[k]!
    out.value[i] = closed.value[k]!
  }
  return out
}
