/**
 * PxL's parser: a recursive-descent parser of the Python subset PxL scripts use, with Python's
 * operator precedence. Statements PxL has no use for (if, for, while, class, …) are refused with
 * their position rather than half-supported.
 */
import type { BinOp, Expr, Param, Script, Stmt } from './ast.ts'
import { pxlError, type Pos } from './errors.ts'
import { tokenize, type Token } from './lexer.ts'

const UNSUPPORTED = new Set([
  'if',
  'elif',
  'else',
  'for',
  'while',
  'class',
  'with',
  'try',
  'except',
  'finally',
  'raise',
  'global',
  'nonlocal',
  'del',
  'yield',
  'assert',
  'async',
  'await',
  'break',
  'continue',
])
const KEYWORDS = new Set([
  ...UNSUPPORTED,
  'import',
  'from',
  'def',
  'return',
  'pass',
  'lambda',
  'and',
  'or',
  'not',
  'in',
  'is',
  'True',
  'False',
  'None',
  'as',
])
const COMPARE = new Set(['==', '!=', '<', '<=', '>', '>='])
// Expression nesting beyond any real script; keeps recursion well inside Node's stack.
const MAX_DEPTH = 150

/** Parses a PxL script; syntax errors throw KILN_PXL with line and column. */
export function parse(src: string): Script {
  return new Parser(tokenize(src)).script()
}

class Parser {
  private i = 0
  private depth = 0
  constructor(private readonly toks: Token[]) {}

  private get t(): Token {
    return this.toks[this.i]!
  }
  private peek(n = 1): Token {
    return this.toks[Math.min(this.i + n, this.toks.length - 1)]!
  }
  private next(): Token {
    const t = this.t
    if (t.kind !== 'eof') this.i++
    return t
  }
  private isOp(v: string): boolean {
    return this.t.kind === 'op' && this.t.value === v
  }
  private isName(v: string): boolean {
    return this.t.kind === 'name' && this.t.value === v
  }
  private eatOp(v: string): boolean {
    if (!this.isOp(v)) return false
    this.i++
    return true
  }
  private expectOp(v: string, what?: string): Token {
    if (!this.isOp(v)) this.fail(`expected '${v}'${what ? ` ${what}` : ''}, found ${describe(this.t)}`)
    return this.next()
  }
  private expectName(what: string): Token {
    if (this.t.kind !== 'name' || KEYWORDS.has(this.t.value)) this.fail(`expected ${what}, found ${describe(this.t)}`)
    return this.next()
  }
  private fail(msg: string, at: Pos = this.t): never {
    pxlError(at, msg)
  }

  script(): Script {
    const body: Stmt[] = []
    while (this.t.kind !== 'eof') {
      if (this.t.kind === 'newline') {
        this.next()
        continue
      }
      if (this.t.kind === 'indent') this.fail('unexpected indentation')
      body.push(...this.statement())
    }
    return { body }
  }

  /** One line's statements (`a = 1; b = 2`) or a compound statement. */
  private statement(): Stmt[] {
    if (this.isName('def')) return [this.funcdef()]
    if (this.t.kind === 'op' && this.t.value === '@') this.fail('decorators are not part of PxL')
    const out = [this.simple()]
    while (this.eatOp(';')) {
      if (this.t.kind === 'newline' || this.t.kind === 'eof') break
      out.push(this.simple())
    }
    if (this.t.kind === 'newline') this.next()
    else if (this.t.kind !== 'eof' && this.t.kind !== 'dedent') this.fail(`expected the end of the statement, found ${describe(this.t)}`)
    return out
  }

  private simple(): Stmt {
    const t = this.t
    if (t.kind === 'name' && UNSUPPORTED.has(t.value))
      this.fail(`'${t.value}' statements are not part of PxL (a script is assignments, function definitions and calls)`)
    if (this.isName('import')) {
      this.next()
      const mod = this.dotted()
      const alias = this.isName('as') ? (this.next(), this.expectName('a name after as').value) : mod
      return { k: 'import', module: mod, alias, line: t.line, col: t.col }
    }
    if (this.isName('from')) this.fail("'from … import' is not part of PxL; write 'import px'")
    if (this.isName('return')) {
      this.next()
      const e = this.t.kind === 'newline' || this.t.kind === 'eof' || this.isOp(';') || this.t.kind === 'dedent' ? null : this.exprList()
      return { k: 'return', e, line: t.line, col: t.col }
    }
    if (this.isName('pass')) {
      this.next()
      return { k: 'pass', line: t.line, col: t.col }
    }
    const e = this.exprList()
    if (this.isOp('=')) {
      const eq = this.next()
      if (e.k !== 'name' && e.k !== 'attr' && e.k !== 'index')
        this.fail('can only assign to a name, an attribute (df.col) or a subscript (df["col"])', e)
      const value = this.exprList()
      if (this.isOp('=')) this.fail('chained assignment (a = b = …) is not part of PxL')
      return { k: 'assign', target: e, value, line: eq.line, col: eq.col }
    }
    if (this.t.kind === 'op' && ['+=', '-=', '*=', '/='].includes(this.t.value))
      this.fail(`augmented assignment '${this.t.value}' is not part of PxL; write x = x ${this.t.value[0]} …`)
    return { k: 'expr', e, line: t.line, col: t.col }
  }

  private dotted(): string {
    let name = this.expectName('a module name').value
    while (this.eatOp('.')) name += '.' + this.expectName('a module name').value
    return name
  }

  private funcdef(): Stmt {
    const t = this.next()
    const name = this.expectName('a function name').value
    this.expectOp('(', 'after the function name')
    const params = this.params(')')
    this.expectOp(')')
    if (this.eatOp('->')) this.expr()
    this.expectOp(':', 'after the function parameters')
    return { k: 'def', name, params, body: this.suite(), line: t.line, col: t.col }
  }

  private params(end: string): Param[] {
    const params: Param[] = []
    while (!this.isOp(end)) {
      if (this.isOp('*') || this.isOp('**')) this.fail('*args and **kwargs are not part of PxL')
      const n = this.expectName('a parameter name')
      const p: Param = { name: n.value, line: n.line, col: n.col }
      if (params.some((q) => q.name === p.name)) this.fail(`duplicate parameter '${p.name}'`, n)
      if (end === ')' && this.eatOp(':')) p.annotation = this.expr()
      if (this.eatOp('=')) p.default = this.expr()
      else if (params.some((q) => q.default)) this.fail(`parameter '${p.name}' without a default follows one with a default`, n)
      params.push(p)
      if (!this.eatOp(',')) break
    }
    return params
  }

  private suite(): Stmt[] {
    if (this.t.kind !== 'newline') return this.statement()
    this.next()
    while (this.t.kind === 'newline') this.next()
    if (this.t.kind !== 'indent') this.fail('expected an indented block')
    this.next()
    const body: Stmt[] = []
    while (this.t.kind !== 'dedent' && this.t.kind !== 'eof') {
      if (this.t.kind === 'newline') {
        this.next()
        continue
      }
      if (this.isName('def')) this.fail('functions defined inside functions are not part of PxL')
      body.push(...this.statement())
    }
    if (this.t.kind === 'dedent') this.next()
    return body
  }

  /** An expression, or a tuple of them without brackets (`a, b`). */
  private exprList(): Expr {
    const first = this.expr()
    if (!this.isOp(',')) return first
    const items = [first]
    while (this.eatOp(',')) {
      if (this.t.kind === 'newline' || this.t.kind === 'eof' || this.isOp('=') || this.isOp(';')) break
      items.push(this.expr())
    }
    return { k: 'list', items, tuple: true, line: first.line, col: first.col }
  }

  expr(): Expr {
    if (++this.depth > MAX_DEPTH) this.fail(`expression nested deeper than ${MAX_DEPTH}`)
    try {
      if (this.isName('lambda')) return this.lambda()
      const e = this.or()
      if (this.isName('if')) this.fail('conditional expressions (a if c else b) are not part of PxL; use px.select(c, a, b)')
      return e
    } finally {
      this.depth--
    }
  }

  private lambda(): Expr {
    const t = this.next()
    const params = this.params(':')
    this.expectOp(':', 'after the lambda parameters')
    return { k: 'lambda', params, body: this.expr(), line: t.line, col: t.col }
  }

  private or(): Expr {
    let l = this.and()
    while (this.isName('or')) {
      const t = this.next()
      l = { k: 'bool', op: 'or', l, r: this.and(), line: t.line, col: t.col }
    }
    return l
  }
  private and(): Expr {
    let l = this.not()
    while (this.isName('and')) {
      const t = this.next()
      l = { k: 'bool', op: 'and', l, r: this.not(), line: t.line, col: t.col }
    }
    return l
  }
  private not(): Expr {
    if (this.isName('not')) {
      const t = this.next()
      if (++this.depth > MAX_DEPTH) this.fail(`expression nested deeper than ${MAX_DEPTH}`)
      const e = this.not()
      this.depth--
      return { k: 'unary', op: 'not', e, line: t.line, col: t.col }
    }
    return this.comparison()
  }
  private comparison(): Expr {
    const l = this.binary(0)
    if (this.isName('in') || this.isName('is') || (this.isName('not') && this.peek().value === 'in'))
      this.fail(`'${this.t.value}' is not part of PxL; compare with == and combine with |`)
    if (this.t.kind !== 'op' || !COMPARE.has(this.t.value)) return l
    const t = this.next()
    const r = this.binary(0)
    if (this.t.kind === 'op' && COMPARE.has(this.t.value))
      this.fail('chained comparisons (a < b < c) are not part of PxL; write (a < b) & (b < c)')
    return { k: 'bin', op: t.value as BinOp, l, r, line: t.line, col: t.col }
  }

  // Binary operators by rising precedence, as in Python.
  private static levels: string[][] = [['|'], ['^'], ['&'], ['<<', '>>'], ['+', '-'], ['*', '/', '//', '%', '@']]
  private binary(level: number): Expr {
    if (level === Parser.levels.length) return this.unary()
    let l = this.binary(level + 1)
    while (this.t.kind === 'op' && Parser.levels[level]!.includes(this.t.value)) {
      const t = this.next()
      if (t.value === '@') this.fail("'@' is not part of PxL", t)
      l = { k: 'bin', op: t.value as BinOp, l, r: this.binary(level + 1), line: t.line, col: t.col }
    }
    return l
  }
  private unary(): Expr {
    if (this.t.kind === 'op' && (this.t.value === '-' || this.t.value === '+' || this.t.value === '~')) {
      const t = this.next()
      if (++this.depth > MAX_DEPTH) this.fail(`expression nested deeper than ${MAX_DEPTH}`)
      const e = this.unary()
      this.depth--
      return { k: 'unary', op: t.value as '-' | '+' | '~', e, line: t.line, col: t.col }
    }
    const base = this.primary()
    if (this.isOp('**')) {
      const t = this.next()
      return { k: 'bin', op: '**', l: base, r: this.unary(), line: t.line, col: t.col }
    }
    return base
  }

  private primary(): Expr {
    let e = this.atom()
    while (true) {
      if (this.isOp('.')) {
        this.next()
        const n = this.expectName('an attribute name after .')
        e = { k: 'attr', obj: e, name: n.value, line: n.line, col: n.col }
      } else if (this.isOp('(')) {
        const t = this.next()
        e = this.callArgs(e, t)
      } else if (this.isOp('[')) {
        const t = this.next()
        if (this.isOp(']')) this.fail('empty subscript')
        const index = this.exprList()
        if (this.isOp(':')) this.fail('slices are not part of PxL; use df.head(n)')
        this.expectOp(']')
        e = { k: 'index', obj: e, index, line: t.line, col: t.col }
      } else return e
    }
  }

  private callArgs(fn: Expr, t: Token): Expr {
    const args: Expr[] = []
    const kwargs: { name: string; value: Expr; pos: Pos }[] = []
    while (!this.isOp(')')) {
      if (this.isOp('*') || this.isOp('**')) this.fail('*args and **kwargs are not part of PxL')
      if (this.t.kind === 'name' && this.peek().kind === 'op' && this.peek().value === '=') {
        const n = this.next()
        this.next()
        if (kwargs.some((k) => k.name === n.value)) this.fail(`keyword argument '${n.value}' repeated`, n)
        kwargs.push({ name: n.value, value: this.expr(), pos: { line: n.line, col: n.col } })
      } else {
        if (kwargs.length) this.fail('positional argument follows keyword argument')
        args.push(this.expr())
      }
      if (!this.eatOp(',')) break
    }
    this.expectOp(')', 'to close the call')
    return { k: 'call', fn, args, kwargs, line: t.line, col: t.col }
  }

  private atom(): Expr {
    const t = this.t
    const p = { line: t.line, col: t.col }
    if (t.kind === 'number') {
      this.next()
      const clean = t.value.replace(/_/g, '')
      const int = /^(0[xob][0-9a-f]+|[0-9]+)$/i.test(clean)
      const value = int && /^0[xob]/i.test(clean) ? Number(clean) : Number(clean)
      if (!Number.isFinite(value)) this.fail(`invalid number '${t.value}'`, t)
      return { k: 'num', value, int, text: clean, ...p }
    }
    if (t.kind === 'string') {
      let value = ''
      while (this.t.kind === 'string') value += this.next().value
      return { k: 'str', value, ...p }
    }
    if (t.kind === 'name') {
      if (t.value === 'True' || t.value === 'False' || t.value === 'None') {
        this.next()
        return { k: 'const', value: t.value === 'None' ? null : t.value === 'True', ...p }
      }
      if (KEYWORDS.has(t.value)) this.fail(`unexpected keyword '${t.value}'`)
      this.next()
      return { k: 'name', id: t.value, ...p }
    }
    if (this.isOp('(')) {
      this.next()
      if (this.eatOp(')')) return { k: 'list', items: [], tuple: true, ...p }
      const first = this.expr()
      if (!this.isOp(',')) {
        this.expectOp(')', 'to close the parenthesis')
        return first
      }
      const items = [first]
      while (this.eatOp(',') && !this.isOp(')')) items.push(this.expr())
      this.expectOp(')', 'to close the tuple')
      return { k: 'list', items, tuple: true, ...p }
    }
    if (this.isOp('[')) {
      this.next()
      const items: Expr[] = []
      while (!this.isOp(']')) {
        items.push(this.expr())
        if (this.isName('for')) this.fail('list comprehensions are not part of PxL')
        if (!this.eatOp(',')) break
      }
      this.expectOp(']', 'to close the list')
      return { k: 'list', items, tuple: false, ...p }
    }
    if (this.isOp('{')) {
      this.next()
      const entries: { key: Expr; value: Expr }[] = []
      while (!this.isOp('}')) {
        const key = this.expr()
        this.expectOp(':', 'between a dict key and its value')
        entries.push({ key, value: this.expr() })
        if (!this.eatOp(',')) break
      }
      this.expectOp('}', 'to close the dict')
      return { k: 'dict', entries, ...p }
    }
    this.fail(`expected an expression, found ${describe(t)}`)
  }
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'the end of the script'
    case 'newline':
      return 'the end of the line'
    case 'indent':
      return 'an indented line'
    case 'dedent':
      return 'the end of the block'
    case 'string':
      return 'a string'
    case 'number':
      return `the number ${t.value}`
    default:
      return `'${t.value}'`
  }
}
