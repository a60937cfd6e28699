import { cmp } from '../model/tree.ts'
import { perlFormat } from './perl-number.ts'

export interface DiffFoldedOptions {
  /** Scale the first profile's counts to the second's total (counts truncated to integers). */
  normalize?: boolean
  /** Replace hex addresses (0x…) by "0x..." so that stacks differing only there merge. */
  stripHex?: boolean
}

const LINE = /^(.*)[\t\n\v\f\r ]+?(\d+(?:\.\d*)?)$/s

/** Counts per stack of one folded profile, summing repeated stacks. */
export function foldedCounts(lines: Iterable<string>, options: DiffFoldedOptions = {}): { counts: Map<string, number>; total: number } {
  const counts = new Map<string, number>()
  let total = 0
  for (const line of lines) {
    const m = LINE.exec(line)
    if (!m) continue
    const stack = options.stripHex ? m[1]!.replace(/0x[0-9a-fA-F]+/g, '0x...') : m[1]!
    const n = Number(m[2]!)
    counts.set(stack, (counts.get(stack) ?? 0) + n)
    total += n
  }
  return { counts, total }
}

const fmt = (n: number): string => (Number.isInteger(n) ? String(n) : perlFormat({ nv: n }))

/**
 * difffolded.pl's job: two folded profiles → `stack count1 count2` lines (0 where a stack is
 * missing from one side), for `kiln flamegraph` to draw as a differential flame graph. Sorted
 * in byte order so the output is the same on every run.
 */
export function diffFolded(before: Iterable<string>, after: Iterable<string>, options: DiffFoldedOptions = {}): string {
  const a = foldedCounts(before, options)
  const b = foldedCounts(after, options)
  if (options.normalize && a.total !== b.total && a.total > 0) {
    for (const [k, v] of a.counts) a.counts.set(k, Math.trunc((v * b.total) / a.total))
  }
  const keys = new Set([...a.counts.keys(), ...b.counts.keys()])
  let out = ''
  for (const k of [...keys].sort(cmp)) out += `${k} ${fmt(a.counts.get(k) ?? 0)} ${fmt(b.counts.get(k) ?? 0)}\n`
  return out
}
