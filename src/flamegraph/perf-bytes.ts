/**
 * Byte-level forms of stackcollapse-perf.pl's header rules, for `PerfCollapser.push`: they read a
 * line in a Buffer where it lies, so a sample costs no string until its stack is new. Each states
 * exactly what the regex in collapse-perf.ts matches (the tests hold them to it on random lines),
 * latin1 bytes standing for Perl's byte strings.
 */

/** Perl's \s on bytes: \t \n \v \f \r and space. */
export const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13)
const isDigit = (c: number): boolean => c >= 48 && c <= 57
/** A regex \w without the u flag: [A-Za-z0-9_]. */
const isWord = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || isDigit(c) || c === 95
const isLowerHex = (c: number): boolean => isDigit(c) || (c >= 97 && c <= 102)

/** Where HEADER's groups lie in a line: comm [start, commEnd), pid, and tid (empty when absent). */
export interface HeaderAt {
  commEnd: number
  pidStart: number
  pidEnd: number
  tidStart: number
  tidEnd: number
}

/**
 * HEADER, `^(\S.+?)\s+(\d+)\/*(\d+)?\s+`, on bytes [s, e). The lazy comm ends at the first
 * whitespace (two bytes in at least) that is followed by digits, slashes, optional digits and
 * whitespace; the groups cannot backtrack into each other (whitespace, digits and "/" are
 * disjoint), so the first such place is the regex's match.
 */
export function matchHeader(b: Uint8Array, s: number, e: number): HeaderAt | null {
  if (e - s < 3 || isSpace(b[s]!)) return null
  for (let p = s + 2; p < e; p++) {
    if (!isSpace(b[p]!)) continue
    let q = p
    while (q < e && isSpace(b[q]!)) q++
    const pidStart = q
    while (q < e && isDigit(b[q]!)) q++
    const pidEnd = q
    while (q < e && b[q] === 47) q++
    const tidStart = q
    while (q < e && isDigit(b[q]!)) q++
    if (pidEnd > pidStart && q < e && isSpace(b[q]!)) return { commEnd: p, pidStart, pidEnd, tidStart, tidEnd: q }
    // Any other start in this run of whitespace sees the same digits after it: skip the run.
    p = pidStart - 1
  }
  return null
}

/** Where EVENT's groups lie: the period (empty when absent) and the event name. */
export interface EventAt {
  periodStart: number
  periodEnd: number
  eventStart: number
  eventEnd: number
}

/**
 * EVENT, `:\s*(\d+)?\s+(\S+):\s*$`, on bytes [s, e). Anchored at the end, it can only match one
 * way: the last non-blank byte is ":", the event is the word before it (preceded by
 * whitespace), and before that whitespace come either digits (the period) after ":" and
 * optional whitespace, or ":" itself.
 */
export function matchEvent(b: Uint8Array, s: number, e: number): EventAt | null {
  let x = e - 1
  while (x >= s && isSpace(b[x]!)) x--
  if (x < s || b[x] !== 58) return null
  let t = x
  while (t > s && !isSpace(b[t - 1]!)) t--
  if (x - t < 1) return null
  let w = t
  while (w > s && isSpace(b[w - 1]!)) w--
  if (w === t) return null
  let d = w
  while (d > s && isDigit(b[d - 1]!)) d--
  if (d < w) {
    let c = d
    while (c > s && isSpace(b[c - 1]!)) c--
    return c > s && b[c - 1] === 58 ? { periodStart: d, periodEnd: w, eventStart: t, eventEnd: x } : null
  }
  return w > s && b[w - 1] === 58 ? { periodStart: w, periodEnd: w, eventStart: t, eventEnd: x } : null
}

/** Where FRAME's groups lie: the symbol without its `+0x…` offset, and the module. */
export interface FrameAt {
  funcStart: number
  funcEnd: number
  /** Where the module's " (" starts: [funcEnd, modOpen) is the offset, if any. */
  modOpen: number
  modEnd: number
}

/**
 * FRAME, `^\s*(\w+)\s*(.+) \((.*)\)`, on a frame line [s, e) of the shape perf prints (its last
 * byte ")"), and SYMOFF, `\+0x[\da-f]+$`, cut from the symbol; null for any other shape (the
 * regexes decide then). With \w+ and \s* taken greedily, (.+) is greedy up to the last " (",
 * which a ")" follows as the line ends with one, and (.*) runs to that last ")".
 */
export function matchFrame(b: Uint8Array, s: number, e: number): FrameAt | null {
  if (e - s < 4 || b[e - 1] !== 41) return null
  let i = s
  while (i < e && isSpace(b[i]!)) i++
  const pcStart = i
  while (i < e && isWord(b[i]!)) i++
  if (i === pcStart) return null
  while (i < e && isSpace(b[i]!)) i++
  const rawStart = i
  let p = e - 3
  while (p > rawStart && !(b[p] === 32 && b[p + 1] === 40)) p--
  // (.+) must take a byte at least; where it cannot here, the regex would backtrack.
  if (p <= rawStart) return null
  let q = p
  while (q > rawStart && isLowerHex(b[q - 1]!)) q--
  const cut = q < p && q - rawStart >= 3 && b[q - 1] === 120 && b[q - 2] === 48 && b[q - 3] === 43
  return { funcStart: rawStart, funcEnd: cut ? q - 3 : p, modOpen: p, modEnd: e - 1 }
}

export const LFLF = Buffer.from('\n\n')

/**
 * Where the frame lines that start at `start` end: the offset just past the blank line that
 * closes the sample, or -1 when the buffer ends first. A native search ("\n\n"), so no JS loop
 * touches the bytes of a sample whose frames were seen before.
 */
export function blockEnd(b: Buffer, start: number): number {
  if (start >= b.length) return -1
  if (b[start] === 10) return start + 1
  const j = b.indexOf(LFLF, start)
  return j < 0 ? -1 : j + 2
}

/** Whether every line of [s, e) (each ending in "\n") starts with whitespace: frame lines only. */
export function framesOnly(b: Buffer, s: number, e: number): boolean {
  for (let at = s; at < e; at = b.indexOf(10, at) + 1) if (!isSpace(b[at]!)) return false
  return true
}

/**
 * A cheap key for a block of bytes: its length and 24 bytes spread over it. Equal blocks get
 * equal keys; the caller compares the bytes of blocks with the same key.
 */
export function blockKey(b: Uint8Array, s: number, e: number): number {
  const n = e - s
  let h = Math.imul(n, 0x9e3779b1)
  if (n <= 32) {
    for (let i = s; i < e; i++) h = Math.imul(h ^ b[i]!, 0x01000193)
  } else {
    const step = (n / 16) | 0
    for (let i = s; i < e; i += step) h = Math.imul(h ^ b[i]!, 0x01000193)
    for (let i = e - 8; i < e; i++) h = Math.imul(h ^ b[i]!, 0x01000193)
  }
  return h & 0x3fffffff // a small integer (Smi): Map lookups on heap numbers cost several times more
}

/**
 * A key for the first frame line of a sample at `s` (up to 48 bytes, or its "\n"): the guess at
 * which known block follows a header, so that a sample seen before costs no search for its blank
 * line. Any block may share it; the caller compares the guessed block's bytes.
 */
export function firstLineKey(b: Uint8Array, s: number): number {
  const e = Math.min(b.length, s + 48)
  let h = 0x811c9dc5
  for (let i = s; i < e; i++) {
    const c = b[i]!
    if (c === 10) break
    h = Math.imul(h ^ c, 0x01000193)
  }
  return h & 0x3fffffff
}

/** Whether bytes [s, e) of `b` equal `k`'s first e - s bytes (short runs: cheaper than a native call). */
export function sameBytes(b: Uint8Array, s: number, e: number, k: Uint8Array): boolean {
  for (let i = s, j = 0; i < e; i++, j++) if (b[i] !== k[j]) return false
  return true
}

/**
 * Perl's numeric value of the decimal digits [s, e) when it is an exact double (at most 15
 * digits), else undefined (the caller goes through perlNumber with the string).
 */
export function smallDigits(b: Uint8Array, s: number, e: number): number | undefined {
  if (e - s > 15) return undefined
  let v = 0
  for (let i = s; i < e; i++) v = v * 10 + b[i]! - 48
  return v
}

/**
 * Copies of byte ranges, packed into 1 MiB slabs. A Buffer per copy costs an ArrayBuffer (pool
 * slabs, external memory the GC counts) and fresh pages: on the 2-core dev VM a first touch of a
 * page costs ~16 µs, and 2,880 blocks copied one by one cost 27 ms of a 540 ms collapse.
 */
export class ByteArena {
  private slab = Buffer.alloc(0)
  private at = 0

  copy(b: Uint8Array, s: number, e: number): Buffer {
    const n = e - s
    if (n > 1 << 18) return Buffer.from(b.subarray(s, e))
    if (this.at + n > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(1 << 20)
      this.at = 0
    }
    this.slab.set(b.subarray(s, e), this.at)
    this.at += n
    return this.slab.subarray(this.at - n, this.at)
  }
}
