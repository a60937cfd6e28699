/**
 * PxL's errors: one code (`KILN_PXL`, HTTP 400), always with the script position, the offending
 * name and the nearest valid names, so the CLI, the API and the editor can point at the spot.
 */
import { KilnError } from '../model/errors.ts'
import { nearest } from '../model/nearest.ts'

/** A 1-based line and column in the script. */
export interface Pos {
  line: number
  col: number
}

export interface PxlErrorDetails {
  line: number
  column: number
  /** The name that was not found or not allowed. */
  name?: string
  /** The closest valid names, best first. */
  suggestions?: string[]
}

/** Throws a located PxL error: `line:col: message (did you mean …?)`. */
export function pxlError(
  pos: Pos | undefined,
  message: string,
  extra: { name?: string; valid?: readonly string[]; tail?: string } = {},
): never {
  const p = pos ?? { line: 1, col: 1 }
  const suggestions = extra.name !== undefined && extra.valid ? closest(extra.name, extra.valid) : []
  const hint = suggestions.length ? ` (did you mean ${suggestions.map((s) => `'${s}'`).join(' or ')}?)` : ''
  const details: PxlErrorDetails = { line: p.line, column: p.col }
  if (extra.name !== undefined) details.name = extra.name
  if (suggestions.length) details.suggestions = suggestions
  throw new KilnError('KILN_PXL', `${p.line}:${p.col}: ${message}${hint}${extra.tail ?? ''}`, { details: { ...details } })
}

/** An unknown name: the message lists the valid ones when there are few. */
export function unknownName(pos: Pos | undefined, what: string, name: string, valid: readonly string[]): never {
  const list = valid.length <= 12 ? `; valid: ${valid.join(', ')}` : ''
  pxlError(pos, `unknown ${what} '${name}'`, { name, valid, tail: list })
}

/** Misspellings (edit distance) first, then names that start with what was written ('start' → 'start_time'). */
function closest(name: string, valid: readonly string[]): string[] {
  const out = nearest(name, valid, 3)
  if (name.length >= 3)
    for (const v of valid)
      if (out.length < 3 && v !== name && v.toLowerCase().startsWith(name.toLowerCase()) && !out.includes(v)) out.push(v)
  return out
}
