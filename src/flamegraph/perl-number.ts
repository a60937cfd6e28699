/**
 * Sums as Perl's `+=` does on the period strings of `perf script`, so that printed counts match
 * stackcollapse-perf.pl's even past 2^53: integers stay exact up to 2^64-1 (Perl's UV), beyond
 * that they become doubles printed with Perl's "%.15g".
 */
export type PerlNum = number | bigint | { nv: number }

const UV_MAX = 2n ** 64n - 1n

/** Perl's numeric value of a string of decimal digits. */
export function perlNumber(digits: string): PerlNum {
  if (digits.length <= 15) return Number(digits)
  const b = BigInt(digits)
  if (b <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(b)
  return b <= UV_MAX ? b : { nv: Number(digits) }
}

export function perlAdd(a: PerlNum, b: PerlNum): PerlNum {
  if (typeof a === 'number' && typeof b === 'number') {
    const s = a + b
    if (s <= Number.MAX_SAFE_INTEGER) return s
  }
  if (typeof a === 'object' || typeof b === 'object') return { nv: toDouble(a) + toDouble(b) }
  const s = BigInt(a) + BigInt(b)
  return s <= UV_MAX ? s : { nv: Number(a) + Number(b) }
}

const toDouble = (x: PerlNum): number => (typeof x === 'object' ? x.nv : Number(x))

/** How Perl prints a number: integers in full, doubles with "%.15g". */
export function perlFormat(x: PerlNum): string {
  if (typeof x !== 'object') return String(x)
  const v = x.nv
  if (!Number.isFinite(v)) return v > 0 ? 'Inf' : v < 0 ? '-Inf' : 'NaN'
  if (v === 0) return '0'
  const exp = Math.floor(Math.log10(Math.abs(v)))
  const [m, e] = v.toExponential(14).split('e') as [string, string]
  const e10 = Number(e)
  if (e10 < -4 || e10 >= 15 || exp >= 15) {
    const mant = m.includes('.') ? m.replace(/0+$/, '').replace(/\.$/, '') : m
    return `${mant}e${e10 < 0 ? '-' : '+'}${String(Math.abs(e10)).padStart(2, '0')}`
  }
  return String(Number(v.toPrecision(15)))
}
