/**
 * PxL's tokenizer: Python's lexical rules for the subset PxL uses — INDENT/DEDENT from leading
 * whitespace, implicit line joining inside brackets, `\` continuations, `;` separators, strings
 * in single, double and triple quotes (with `r` prefixes), numbers, comments. Every token has its
 * 1-based line and column.
 */
import { pxlError, type Pos } from './errors.ts'

export type TokKind = 'name' | 'number' | 'string' | 'op' | 'newline' | 'indent' | 'dedent' | 'eof'

export interface Token extends Pos {
  kind: TokKind
  /** Name or operator text; a string's decoded value; a number's source text. */
  value: string
}

const OPS = [
  '**',
  '//',
  '==',
  '!=',
  '<=',
  '>=',
  '<<',
  '>>',
  '->',
  '+=',
  '-=',
  '*=',
  '/=',
  '+',
  '-',
  '*',
  '/',
  '%',
  '<',
  '>',
  '=',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ',',
  ':',
  '.',
  ';',
  '&',
  '|',
  '^',
  '~',
  '@',
]
const OPEN = new Set(['(', '[', '{'])
const CLOSE: Record<string, string> = { ')': '(', ']': '[', '}': '{' }
// Deeper bracket nesting than any script needs; the parser's recursion stays far from Node's stack limit.
const MAX_NESTING = 200

const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '0': '\0',
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  '\n': '',
}

/** Splits a script into tokens; a lexical error throws a located KILN_PXL error. */
export function tokenize(src: string): Token[] {
  const out: Token[] = []
  const indents = [0]
  const brackets: { ch: string; pos: Pos }[] = []
  let i = 0
  let line = 1
  let lineStart = 0
  let atLineStart = true
  const pos = (at = i): Pos => ({ line, col: at - lineStart + 1 })
  const push = (kind: TokKind, value: string, p: Pos) => out.push({ kind, value, line: p.line, col: p.col })

  while (i < src.length) {
    if (atLineStart && brackets.length === 0) {
      // Measure the indentation; blank and comment-only lines do not count.
      let width = 0
      let j = i
      while (j < src.length && (src[j] === ' ' || src[j] === '\t')) {
        width = src[j] === '\t' ? width + 8 - (width % 8) : width + 1
        j++
      }
      const c = src[j]
      if (c === undefined || c === '\n' || c === '\r' || c === '#') {
        i = j
        while (i < src.length && src[i] !== '\n') i++
        if (i < src.length) {
          i++
          line++
          lineStart = i
        }
        continue
      }
      i = j
      atLineStart = false
      const top = indents[indents.length - 1]!
      if (width > top) {
        indents.push(width)
        push('indent', '', pos())
      } else {
        while (width < indents[indents.length - 1]!) {
          indents.pop()
          push('dedent', '', pos())
        }
        if (width !== indents[indents.length - 1]) pxlError(pos(), 'unindent does not match any outer indentation level')
      }
    }
    const c = src[i]!
    if (c === '\n' || c === '\r') {
      if (c === '\r' && src[i + 1] === '\n') i++
      if (brackets.length === 0) {
        push('newline', '', pos())
        atLineStart = true
      }
      i++
      line++
      lineStart = i
      continue
    }
    if (c === ' ' || c === '\t' || c === '\f') {
      i++
      continue
    }
    if (c === '#') {
      while (i < src.length && src[i] !== '\n' && src[i] !== '\r') i++
      continue
    }
    if (c === '\\' && (src[i + 1] === '\n' || src[i + 1] === '\r')) {
      i += src[i + 1] === '\r' && src[i + 2] === '\n' ? 3 : 2
      line++
      lineStart = i
      continue
    }
    const start = pos()
    const q = stringStart(src, i)
    if (q) {
      const r = readString(src, i + q.prefix, q.quote, q.raw, start)
      for (let k = i; k < r.end; k++) {
        if (src[k] === '\n') {
          line++
          lineStart = k + 1
        }
      }
      i = r.end
      push('string', r.value, start)
      continue
    }
    if (/[A-Za-z_]/.test(c) || c.charCodeAt(0) > 127) {
      let j = i + 1
      while (j < src.length && (/[A-Za-z0-9_]/.test(src[j]!) || src.charCodeAt(j) > 127)) j++
      push('name', src.slice(i, j), start)
      i = j
      continue
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const m = /^(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:[0-9][0-9_]*)?\.?[0-9_]*(?:[eE][+-]?[0-9]+)?)/.exec(
        src.slice(i, i + 400),
      )!
      const text = m[0]
      if (/[A-Za-z_]/.test(src[i + text.length] ?? '') && !/[eE]/.test(src[i + text.length] ?? '!'))
        pxlError(start, `invalid number '${src.slice(i, i + text.length + 1)}'`)
      push('number', text, start)
      i += text.length
      continue
    }
    const op = OPS.find((o) => src.startsWith(o, i))
    if (!op) pxlError(start, `unexpected character '${c}'`)
    if (OPEN.has(op)) {
      if (brackets.length >= MAX_NESTING) pxlError(start, `brackets nested deeper than ${MAX_NESTING}`)
      brackets.push({ ch: op, pos: start })
    } else if (CLOSE[op]) {
      const open = brackets.pop()
      if (!open) pxlError(start, `unmatched '${op}'`)
      if (open.ch !== CLOSE[op]) pxlError(start, `'${op}' does not match '${open.ch}' opened at ${open.pos.line}:${open.pos.col}`)
    }
    push('op', op, start)
    i += op.length
  }
  if (brackets.length) {
    const open = brackets[brackets.length - 1]!
    pxlError(open.pos, `'${open.ch}' was never closed`)
  }
  const end = pos()
  if (!atLineStart) push('newline', '', end)
  while (indents.length > 1) {
    indents.pop()
    push('dedent', '', end)
  }
  push('eof', '', end)
  return out
}

function stringStart(src: string, i: number): { prefix: number; quote: string; raw: boolean } | null {
  const m = /^([rRbBuU]{0,2})('''|"""|'|")/.exec(src.slice(i, i + 5))
  if (!m) return null
  const prefix = m[1]!.toLowerCase()
  if (prefix.length && !['r', 'b', 'u', 'rb', 'br'].includes(prefix)) return null
  return { prefix: m[1]!.length, quote: m[2]!, raw: prefix.includes('r') }
}

function readString(src: string, i: number, quote: string, raw: boolean, start: Pos): { value: string; end: number } {
  const triple = quote.length === 3
  let j = i + quote.length
  let value = ''
  while (true) {
    if (j >= src.length) pxlError(start, triple ? 'triple-quoted string is never closed' : 'string is never closed')
    const c = src[j]!
    if (src.startsWith(quote, j)) return { value, end: j + quote.length }
    if (!triple && (c === '\n' || c === '\r'))
      pxlError(start, 'string is never closed on its line (use triple quotes for text over several lines)')
    if (c === '\\') {
      const n = src[j + 1]
      if (n === undefined) pxlError(start, 'string is never closed')
      if (raw) {
        value += c + n
      } else if (n === 'x' || n === 'u') {
        const len = n === 'x' ? 2 : 4
        const hex = src.slice(j + 2, j + 2 + len)
        if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) pxlError(start, `invalid escape '\\${n}${hex}' in a string`)
        value += String.fromCharCode(parseInt(hex, 16))
        j += len
      } else {
        value += ESCAPES[n] ?? c + n
      }
      j += 2
      continue
    }
    value += c
    j++
  }
}
