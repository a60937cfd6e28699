import type { RawFrame } from './svg-layout.ts'

/** Folded lines merged into frames, ready to place (`placeFrames`). */
export interface Flow {
  frames: RawFrame[]
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
  // length and count. Per-stack arrays of strings made most of the time go to the GC.
  const fr: number[] = []
  const off: number[] = []
  const len: number[] = []
  const counts: number[] = []
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
    const o = fr.length
    for (let fs = s, i = s; ; i++) {
      if (i === at - 1 || b[i] === 59 /* ; */) {
        fr.push(names.id(b, fs, i))
        fs = i + 1
        if (i === at - 1) break
      }
    }
    if (reverse)
      for (let x = o, y = fr.length - 1; x < y; x++, y--) {
        const f = fr[x]!
        fr[x] = fr[y]!
        fr[y] = f
      }
    off.push(o)
    len.push(fr.length - o)
    counts.push(count)
    sum += count
  }
  const min = minValue ? Math.max(minValue(sum), Number.MIN_VALUE) : Number.MIN_VALUE
  // Ranks in byte order (sorting strings without a comparator compares UTF-16 units: byte
  // order for latin1 text), so that comparing frames compares numbers.
  const sorted = [...names.list].sort()
  const rank = new Map<string, number>()
  sorted.forEach((n, r) => rank.set(n, r))
  const rankOf = names.list.map((n) => rank.get(n)!)
  for (let i = 0; i < fr.length; i++) fr[i] = rankOf[fr[i]!]!
  // Frame by frame, a stack before its own prefix: the order the merged tree's children are
  // drawn in (by name), with a frame's children left of its self time.
  const order = off.map((_, k) => k)
  order.sort((x, y) => {
    const ox = off[x]!
    const oy = off[y]!
    const n = Math.min(len[x]!, len[y]!)
    for (let i = 0; i < n; i++) if (fr[ox + i] !== fr[oy + i]) return fr[ox + i]! - fr[oy + i]!
    return len[y]! - len[x]!
  })
  const byDepth: RawFrame[][] = [[]]
  const starts: number[] = []
  let pOff = 0
  let pLen = 0
  let t = 0
  // Frames at one depth close in time order, so each depth's list is in x order.
  const close = (from: number) => {
    for (let i = pLen - 1; i >= from; i--) {
      const value = t - starts[i]!
      if (value >= min) (byDepth[i + 1] ??= []).push({ name: sorted[fr[pOff + i]!]!, depth: i + 1, offset: starts[i]!, value })
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
  byDepth[0] = [{ name: 'all', depth: 0, offset: 0, value: t }]
  // Array.prototype.flat took 50 ms for 96,000 frames here; a loop takes a few.
  const frames: RawFrame[] = []
  for (const level of byDepth) if (level) for (const f of level) frames.push(f)
  return { frames, total: t, stacks: off.length, ignored }
}
