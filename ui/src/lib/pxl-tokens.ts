/**
 * A tokenizer for PxL (Pixie's Python subset), for the Live view's highlighting, completion and
 * argument discovery. It never throws and covers every character of the text with exactly one
 * token, so the highlighted overlay lines up with the textarea under it character for character.
 */

export type TokenKind =
  | 'keyword' // def, import, lambda, True …
  | 'px' // the `px` module itself
  | 'pxfn' // a member of px: px.DataFrame, px.count …
  | 'defname' // the name a `def` introduces
  | 'name' // any other identifier
  | 'string' // '…', "…", '''…''', with an f/r/b prefix
  | 'number'
  | 'comment'
  | 'op' // = == & | ~ + - …
  | 'punct' // ( ) [ ] { } , : . ;
  | 'space'
  | 'error' // a character PxL has no use for, or an unterminated string

export interface Token {
  kind: TokenKind
  start: number
  end: number
  text: string
}

export const keywords = new Set([
  'and',
  'as',
  'assert',
  'break',
  'continue',
  'def',
  'del',
  'elif',
  'else',
  'for',
  'from',
  'if',
  'import',
  'in',
  'is',
  'lambda',
  'not',
  'or',
  'pass',
  'return',
  'while',
  'True',
  'False',
  'None',
])

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y
const NUMBER = /(?:0[xX][0-9a-fA-F_]+|(?:\d[\d_]*\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?))/y
const OPS = [
  '**=',
  '//=',
  '>>=',
  '<<=',
  '==',
  '!=',
  '<=',
  '>=',
  '**',
  '//',
  '->',
  '+=',
  '-=',
  '*=',
  '/=',
  '%=',
  '&=',
  '|=',
  '<<',
  '>>',
  '=',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '%',
  '&',
  '|',
  '^',
  '~',
  '@',
]

/** The tokens of a PxL text, in order, covering it completely. */
export function tokenize(text: string): Token[] {
  const out: Token[] = []
  let i = 0
  const push = (kind: TokenKind, end: number) => {
    out.push({ kind, start: i, end, text: text.slice(i, end) })
    i = end
  }
  while (i < text.length) {
    const c = text[i]!
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\\') {
      let j = i + 1
      while (j < text.length && /[ \t\n\r\\]/.test(text[j]!)) j++
      push('space', j)
      continue
    }
    if (c === '#') {
      const nl = text.indexOf('\n', i)
      push('comment', nl < 0 ? text.length : nl)
      continue
    }
    // Strings, with an optional prefix (r, b, f, rb …) glued to the quote.
    const pre = /[rRbBfFuU]{0,2}(?=['"])/y
    pre.lastIndex = i
    const pm = pre.exec(text)
    const q = pm ? i + pm[0].length : -1
    if (pm && (text[q] === "'" || text[q] === '"')) {
      push(...stringAt(text, q))
      continue
    }
    IDENT.lastIndex = i
    const id = IDENT.exec(text)
    if (id) {
      const name = id[0]
      const prev = lastSolid(out)
      let kind: TokenKind = 'name'
      if (keywords.has(name)) kind = 'keyword'
      else if (name === 'px' && !(prev?.text === '.')) kind = 'px'
      else if (prev?.text === '.' && lastSolid(out, 1)?.kind === 'px') kind = 'pxfn'
      else if (prev?.text === 'def') kind = 'defname'
      push(kind, i + name.length)
      continue
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(text[i + 1] ?? ''))) {
      NUMBER.lastIndex = i
      const m = NUMBER.exec(text)
      push('number', i + (m?.[0].length || 1))
      continue
    }
    if ('()[]{},:.;'.includes(c)) {
      push('punct', i + 1)
      continue
    }
    const op = OPS.find((o) => text.startsWith(o, i))
    if (op) {
      push('op', i + op.length)
      continue
    }
    push('error', i + 1)
  }
  return out
}

/** The end of a string whose opening quote is at `q`, as [kind, end]; unterminated is an error up to the line's end. */
function stringAt(text: string, q: number): [TokenKind, number] {
  const quote = text[q]!
  const triple = text.startsWith(quote.repeat(3), q)
  const close = triple ? quote.repeat(3) : quote
  let j = q + close.length
  while (j < text.length) {
    const c = text[j]!
    if (c === '\\') {
      j += 2
      continue
    }
    if (!triple && c === '\n') return ['error', j]
    if (text.startsWith(close, j)) return ['string', j + close.length]
    j++
  }
  return ['error', text.length]
}

function lastSolid(tokens: readonly Token[], skip = 0): Token | undefined {
  for (let k = tokens.length - 1; k >= 0; k--) {
    const t = tokens[k]!
    if (t.kind === 'space' || t.kind === 'comment') continue
    if (skip-- === 0) return t
  }
  return undefined
}

/** A string token's value: quotes and prefix off, simple escapes read. */
export function stringValue(token: string): string {
  const m = /^[rRbBfFuU]{0,2}('''|"""|'|")([\s\S]*)\1$/.exec(token)
  if (!m) return token
  return m[2]!.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', t: '\t' })[c] ?? c)
}

/** The 1-based line and column of an offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset)
  const nl = before.lastIndexOf('\n')
  return { line: before.split('\n').length, column: offset - nl }
}

/** The offset of a 1-based line and column (clamped to the text). */
export function offsetOf(text: string, line: number, column: number): number {
  let off = 0
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', off)
    if (nl < 0) return text.length
    off = nl + 1
  }
  const end = text.indexOf('\n', off)
  return Math.min(off + Math.max(0, column - 1), end < 0 ? text.length : end)
}
