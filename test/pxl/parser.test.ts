/** The PxL tokenizer and parser: Python's layout rules, literals, precedence, and located syntax errors. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parse, tokenize } from '../../src/pxl/index.ts'
import { KilnError } from '../../src/model/errors.ts'

const kinds = (src: string) => tokenize(src).map((t) => (t.kind === 'op' || t.kind === 'name' ? t.value : t.kind))

test('INDENT and DEDENT from leading white space; blank and comment lines do not count', () => {
  const src = 'def f(a: str, b=2):\n    x = a\n\n    # note\n    return x\ny = f(1)\n'
  assert.deepEqual(kinds(src), [
    'def',
    'f',
    '(',
    'a',
    ':',
    'str',
    ',',
    'b',
    '=',
    'number',
    ')',
    ':',
    'newline',
    'indent',
    'x',
    '=',
    'a',
    'newline',
    'return',
    'x',
    'newline',
    'dedent',
    'y',
    '=',
    'f',
    '(',
    'number',
    ')',
    'newline',
    'eof',
  ])
})

test('brackets join lines; backslash continues one; semicolons separate statements', () => {
  assert.deepEqual(kinds('x = f(1,\n      2)\ny = 1 + \\\n  2; z = 3'), [
    'x',
    '=',
    'f',
    '(',
    'number',
    ',',
    'number',
    ')',
    'newline',
    'y',
    '=',
    'number',
    '+',
    'number',
    ';',
    'z',
    '=',
    'number',
    'newline',
    'eof',
  ])
})

test('strings: single, double, triple quoted, raw, escapes, adjacent ones joined', () => {
  const toks = tokenize(`a = 'it\\'s'\nb = "t\\tab"\nc = '''two\nlines'''\nd = r'\\d+'\n`)
  assert.deepEqual(
    toks.filter((t) => t.kind === 'string').map((t) => t.value),
    ["it's", 't\tab', 'two\nlines', '\\d+'],
  )
  const s = parse('x = "a" \'b\'').body[0]!
  assert.equal(s.k === 'assign' && s.value.k === 'str' && s.value.value, 'ab')
  const after = tokenize('"""doc\nstring"""\nx = 1').find((t) => t.value === 'x')!
  assert.deepEqual([after.line, after.col], [3, 1], 'lines inside a triple-quoted string are counted')
})

test('tokens carry 1-based line and column', () => {
  const t = tokenize('import px\n  \ndf = px.DataFrame("http_events")').find((x) => x.value === 'DataFrame')!
  assert.deepEqual([t.line, t.col], [3, 9])
})

test('precedence: comparison binds looser than |, & looser than +, not looser than ==', () => {
  const e = (src: string) => {
    const s = parse(src).body[0]!
    return s.k === 'expr' ? s.e : assert.fail('expected an expression')
  }
  const show = (x: ReturnType<typeof e>): string => {
    switch (x.k) {
      case 'bin':
        return `(${show(x.l)} ${x.op} ${show(x.r)})`
      case 'bool':
        return `(${show(x.l)} ${x.op} ${show(x.r)})`
      case 'unary':
        return `(${x.op} ${show(x.e)})`
      case 'name':
        return x.id
      case 'num':
        return x.text
      case 'attr':
        return `${show(x.obj)}.${x.name}`
      case 'call':
        return `${show(x.fn)}(${x.args.map(show).join(', ')}${x.kwargs.map((k) => `, ${k.name}=${show(k.value)}`).join('')})`
      case 'lambda':
        return `lambda ${x.params.map((p) => p.name).join(',')}: ${show(x.body)}`
      default:
        return x.k
    }
  }
  assert.equal(show(e('a == 1 | b')), '(a == (1 | b))')
  assert.equal(show(e('(a == 1) | ~(b > 2) & c')), '((a == 1) | ((~ (b > 2)) & c))')
  assert.equal(show(e('not a == b and c or d')), '(((not (a == b)) and c) or d)')
  assert.equal(show(e('-x ** 2 + 3 * y / 4 // 5 % 6')), '((- (x ** 2)) + ((((3 * y) / 4) // 5) % 6))')
  assert.equal(show(e('df.groupby(a).agg(n=b)')), 'df.groupby(a).agg(, n=b)')
  assert.equal(show(e('lambda x: (x >= 400).mean()')), 'lambda x: (x >= 400).mean()')
})

test('syntax errors are KILN_PXL with line:column', () => {
  const cases: [string, RegExp][] = [
    ['x = (1 +\n', /^1:5: '\(' was never closed/],
    ['x = 1\n  y = 2', /^2:3: unexpected indentation/],
    ['def f():\nx = 1', /^2:1: expected an indented block/],
    ['if x:\n  y = 1', /^1:1: 'if' statements are not part of PxL/],
    ["s = 'abc", /^1:5: string is never closed/],
    ['x = 1 +', /^1:8: expected an expression, found the end of the line/],
    ['f(a=1, 2)', /^1:8: positional argument follows keyword argument/],
    ['x = $', /^1:5: unexpected character '\$'/],
    ['for i in x:\n  pass', /'for' statements are not part of PxL/],
    ['a = b if c else d', /conditional expressions .* px\.select/],
    ['a < b < c', /chained comparisons/],
    ['x = ]', /^1:5: unmatched '\]'/],
    ['def f():\n    x = 1\n  y = 2', /^3:3: unindent does not match/],
  ]
  for (const [src, re] of cases) {
    assert.throws(
      () => parse(src),
      (e: unknown) => {
        assert.ok(e instanceof KilnError, `${src}: ${e}`)
        assert.equal(e.code, 'KILN_PXL')
        assert.match(e.message, re, src)
        assert.equal(typeof e.details?.line, 'number')
        return true
      },
    )
  }
})

test('deep nesting is refused with an error, not a stack overflow', () => {
  assert.throws(() => parse('x = ' + '('.repeat(5000) + '1' + ')'.repeat(5000)), /nested deeper/)
  assert.throws(() => parse('x = ' + '-'.repeat(5000) + '1'), /nested deeper/)
  assert.throws(() => parse('x = ' + 'not '.repeat(5000) + '1'), /nested deeper/)
})
