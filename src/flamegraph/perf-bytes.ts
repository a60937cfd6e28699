/**
 * Byte-level forms of stackcollapse-perf.pl's header rules, for `PerfCollapser.push`: they read a
 * line in a Buffer where it lies, so a sample costs no string until its stack is new. Each states
 * exactly what the regex in collapse-perf.ts matches (the tests hold them to it on random lines),
 * latin1 bytes standing for Perl's byte strings.
 */

/** Perl's \s on bytes: \t \n \v \f \r and space. */
export const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13)
const isDigit = (c: number): boolean => c >= 48 && c <= 57

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
  return h >>> 0
}
