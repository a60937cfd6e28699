/**
 * Execution segments (`--execution-segment`, `--execution-segment-sequence`): one instance runs
 * its part of a test so that the parts of a sequence add up exactly to the whole. As in k6, work
 * is striped: the sequence's lowest common denominator `lcd` splits every run of `lcd` items (VU
 * numbers, iteration numbers, arrival-rate starts) between the segments in proportion to their
 * lengths, spreading each segment's items as evenly as possible. Pure: no I/O.
 */
import { ConfigError } from '../errors.ts'

interface Rat {
  n: number
  d: number
}

const gcd = (a: number, b: number): number => (b === 0 ? Math.abs(a) : gcd(b, a % b))
const rat = (n: number, d: number): Rat => {
  const g = gcd(n, d) || 1
  return { n: n / g, d: d / g }
}
const cmp = (a: Rat, b: Rat): number => a.n * b.d - b.n * a.d
const sub = (a: Rat, b: Rat): Rat => rat(a.n * b.d - b.n * a.d, a.d * b.d)
const show = (r: Rat): string => (r.d === 1 ? String(r.n) : `${r.n}/${r.d}`)

// A bigger common denominator would make the striping table (one entry per item of a cycle) huge.
const MAX_LCD = 1_000_000

/** A point of a segment: `1/3`, `0.25` or `25%`, between 0 and 1. */
function point(s: string, what: string): Rat {
  const t = s.trim()
  let r: Rat | null = null
  let m: RegExpExecArray | null
  if ((m = /^(\d+)\/(\d+)$/.exec(t)) && Number(m[2]) > 0) r = rat(Number(m[1]), Number(m[2]))
  else if ((m = /^(\d+)(?:\.(\d+))?%$/.exec(t))) r = rat(Number(m[1] + (m[2] ?? '')), 100 * 10 ** (m[2]?.length ?? 0))
  else if ((m = /^(\d+)(?:\.(\d+))?$/.exec(t))) r = rat(Number(m[1] + (m[2] ?? '')), 10 ** (m[2]?.length ?? 0))
  if (!r || !Number.isSafeInteger(r.n) || !Number.isSafeInteger(r.d))
    throw new ConfigError(`${what}: '${s}' is not a number such as 1/3, 0.25 or 25%`)
  if (r.n > r.d) throw new ConfigError(`${what}: '${s}' is more than 1`)
  return r
}

/** This instance's part of the test. */
export interface Segment {
  /** As k6 writes it, e.g. `1/3:2/3`. */
  text: string
  /** Its length, a fraction of the whole test (rates are shown scaled by it). */
  length: number
  /** How many of `n` items (VUs, iterations) this segment gets; the segments of a sequence add up to n. */
  scale(n: number): number
  /** Whether item number `i` (0-based, in the whole test's order) is this segment's. */
  owns(i: number): boolean
}

/** Parses the flags; null when the segment is the whole test (0:1). */
export function executionSegment(segment: unknown, sequence: unknown): Segment | null {
  if ((segment === undefined || segment === null || segment === '') && (sequence === undefined || sequence === null || sequence === ''))
    return null
  const segText = segment === undefined || segment === null || segment === '' ? '0:1' : String(segment)
  const parts = segText.split(':')
  if (parts.length > 2) throw new ConfigError(`executionSegment '${segText}' must be FROM:TO (e.g. 1/3:2/3) or a single TO`)
  const from = parts.length === 2 ? point(parts[0]!, 'executionSegment') : rat(0, 1)
  const to = point(parts[parts.length - 1]!, 'executionSegment')
  if (cmp(from, to) >= 0) throw new ConfigError(`executionSegment '${segText}': the start must be less than the end`)
  // The sequence: given, or the segment with 0 and 1 around it; its gaps to 0 and 1 are filled.
  let points: Rat[]
  if (sequence === undefined || sequence === null || sequence === '') points = [rat(0, 1), from, to, rat(1, 1)]
  else {
    points = String(sequence)
      .split(',')
      .map((p) => point(p, 'executionSegmentSequence'))
    for (let i = 1; i < points.length; i++) {
      if (cmp(points[i - 1]!, points[i]!) >= 0)
        throw new ConfigError(`executionSegmentSequence '${sequence}' must be increasing, e.g. 0,1/3,2/3,1`)
    }
    points = [rat(0, 1), ...points, rat(1, 1)]
  }
  points = points.filter((p, i) => i === 0 || cmp(points[i - 1]!, p) !== 0)
  const index = points.findIndex((p, i) => i + 1 < points.length && cmp(p, from) === 0 && cmp(points[i + 1]!, to) === 0)
  if (index < 0)
    throw new ConfigError(`executionSegment '${segText}' is not one of the segments of the sequence ${points.map(show).join(',')}`)
  const lengths = points.slice(1).map((p, i) => sub(p, points[i]!))
  const lcd = lengths.reduce((l, r) => {
    const next = (l / gcd(l, r.d)) * r.d
    if (next > MAX_LCD)
      throw new ConfigError(`executionSegmentSequence: the segments' common denominator is over ${MAX_LCD}; use simpler fractions`)
    return next
  }, 1)
  const own = stripes(
    lengths.map((r) => (r.n * lcd) / r.d),
    lcd,
    index,
  )
  const mine = new Set(own)
  return {
    text: `${show(from)}:${show(to)}`,
    length: to.n / to.d - from.n / from.d,
    scale: (n) => Math.floor(n / lcd) * own.length + own.filter((p) => p < n % lcd).length,
    owns: (i) => mine.has(i % lcd),
  }
}

/**
 * Which of the items 0..lcd-1 segment `index` gets, each segment getting exactly its share
 * (`shares` add up to lcd). Item i goes to the first segment, largest shares first, that is due
 * an item: one that has taken `k` items is due once i ≥ k·lcd/share.
 */
function stripes(shares: number[], lcd: number, index: number): number[] {
  const order = shares.map((s, i) => ({ s, i })).sort((a, b) => b.s - a.s || a.i - b.i)
  const taken = order.map(() => 0)
  const out: number[] = []
  for (let i = 0; i < lcd; i++) {
    for (let k = 0; k < order.length; k++) {
      const { s, i: seg } = order[k]!
      if (s > 0 && i * s >= taken[k]! * lcd) {
        taken[k]!++
        if (seg === index) out.push(i)
        break
      }
    }
  }
  return out
}
