/**
 * Operators and function application on PxL values: Python arithmetic when both sides are
 * scalars (folded at compile time), typed column expressions as soon as a column is involved.
 */
import { pxlError, type Pos } from './errors.ts'
import { aggFns, operators, scalarFns, type ScalarFn } from './functions.ts'
import { hasAgg, type CExpr, type ColType, type SemType } from './types.ts'
import { int, isScalar, kindOf, literal, truthy, type Value } from './values.ts'

/** Applies a typed function to column expressions, or throws a located type error. */
export function applyFn(name: string, fn: ScalarFn, args: CExpr[], pos: Pos): CExpr {
  const types = args.map((a) => a.type)
  const type = fn.type(types)
  if (type === null) pxlError(pos, `${name} expects ${fn.sig}, got (${types.join(', ') || 'no arguments'})`, { name })
  const sem: SemType = fn.sem ? fn.sem(args.map((a) => a.sem)) : 'ST_NONE'
  return { k: 'fn', fn: name, args, type, sem, sql: (a) => fn.sql(a, types) }
}

/** `px.NAME(args)` for a scalar function. */
export function callScalar(name: string, args: Value[], argPos: Pos[], pos: Pos): Value {
  const fn = scalarFns[name]!
  return {
    t: 'col',
    e: applyFn(
      `px.${name}`,
      fn,
      args.map((a, i) => literal(a, argPos[i] ?? pos)),
      pos,
    ),
  }
}

function pyNumber(v: Value): number | undefined {
  return v.t === 'int' || v.t === 'float' ? v.v : v.t === 'bool' ? Number(v.v) : undefined
}

/** Python semantics of a binary operator on two scalars. */
function foldScalar(op: string, l: Value, r: Value, pos: Pos): Value {
  if (l.t === 'str' && r.t === 'str') {
    switch (op) {
      case '+':
        if (l.v.length + r.v.length > 1_000_000) pxlError(pos, 'string longer than 1,000,000 characters')
        return { t: 'str', v: l.v + r.v }
      case '==':
        return { t: 'bool', v: l.v === r.v }
      case '!=':
        return { t: 'bool', v: l.v !== r.v }
      case '<':
        return { t: 'bool', v: l.v < r.v }
      case '<=':
        return { t: 'bool', v: l.v <= r.v }
      case '>':
        return { t: 'bool', v: l.v > r.v }
      case '>=':
        return { t: 'bool', v: l.v >= r.v }
    }
  }
  const a = pyNumber(l)
  const b = pyNumber(r)
  if (a === undefined || b === undefined) {
    if (op === '==' || op === '!=') return { t: 'bool', v: (op === '==') === (l.t === r.t && JSON.stringify(l) === JSON.stringify(r)) }
    pxlError(pos, `'${op}' does not apply to ${kindOf(l)} and ${kindOf(r)}`)
  }
  const ints = l.t !== 'float' && r.t !== 'float'
  const num = (x: number): Value => (ints && Number.isInteger(x) ? int(x, pos) : { t: 'float', v: x })
  switch (op) {
    case '+':
      return num(a + b)
    case '-':
      return num(a - b)
    case '*':
      return num(a * b)
    case '/':
      if (b === 0) pxlError(pos, 'division by zero')
      return { t: 'float', v: a / b }
    case '//':
      if (b === 0) pxlError(pos, 'division by zero')
      return num(Math.floor(a / b))
    case '%':
      if (b === 0) pxlError(pos, 'division by zero')
      return num(a - Math.floor(a / b) * b)
    case '**': {
      const v = a ** b
      if (!Number.isFinite(v)) pxlError(pos, `${a} ** ${b} is too large`)
      return ints && b >= 0 ? num(v) : { t: 'float', v }
    }
    case '==':
      return { t: 'bool', v: a === b }
    case '!=':
      return { t: 'bool', v: a !== b }
    case '<':
      return { t: 'bool', v: a < b }
    case '<=':
      return { t: 'bool', v: a <= b }
    case '>':
      return { t: 'bool', v: a > b }
    case '>=':
      return { t: 'bool', v: a >= b }
    case '&':
    case '|':
    case '^':
    case '<<':
    case '>>': {
      if (!ints) pxlError(pos, `'${op}' needs integers`)
      const x = BigInt(a)
      const y = BigInt(b)
      const v = op === '&' ? x & y : op === '|' ? x | y : op === '^' ? x ^ y : op === '<<' ? x << (y > 64n ? 64n : y) : x >> y
      if (l.t === 'bool' && r.t === 'bool') return { t: 'bool', v: v !== 0n }
      return int(Number(v), pos)
    }
  }
  pxlError(pos, `unsupported operator '${op}'`)
}

/** A binary operator on any two values. */
export function binary(op: string, l: Value, r: Value, pos: Pos): Value {
  if (isScalar(l) && isScalar(r)) return foldScalar(op, l, r, pos)
  if (l.t !== 'col' && r.t !== 'col') {
    if ((op === '==' || op === '!=') && (l.t === 'none' || r.t === 'none')) return { t: 'bool', v: (op === '==') === (l.t === r.t) }
    pxlError(pos, `'${op}' does not apply to ${kindOf(l)} and ${kindOf(r)}`)
  }
  const fn = operators[op]
  if (!fn) pxlError(pos, `'${op}' is not supported on columns`)
  const le = literal(l, pos)
  const re = literal(r, pos)
  return {
    t: 'col',
    e: applyFn(`'${op}'`, fn, [le, re], pos),
    ...(l.t === 'col' && l.from ? { from: l.from } : r.t === 'col' && r.from ? { from: r.from } : {}),
  }
}

/** `and` / `or`: Python's on scalars, logical on columns. */
export function logical(op: 'and' | 'or', l: Value, r: () => Value, pos: Pos): Value {
  if (l.t !== 'col') {
    const lt = truthy(l, pos)
    if (op === 'and' ? !lt : lt) return l
    const rv = r()
    if (rv.t !== 'col') return rv
    return binary(op === 'and' ? '&' : '|', { t: 'bool', v: lt }, rv, pos)
  }
  const rv = r()
  if (rv.t !== 'col' && !isScalar(rv)) pxlError(pos, `'${op}' does not apply to ${kindOf(rv)}`)
  return binary(op === 'and' ? '&' : '|', l, rv.t === 'col' ? rv : { t: 'bool', v: truthy(rv, pos) }, pos)
}

/** Unary `-`, `+`, `~`, `not`. */
export function unary(op: '-' | '+' | '~' | 'not', v: Value, pos: Pos): Value {
  if (v.t === 'col') {
    if (op === '+') return v
    const fn = op === '-' ? operators.neg! : op === '~' ? operators['~']! : operators.not!
    const e = v.e.type === 'BOOLEAN' || op !== '~' ? v.e : v.e
    return { t: 'col', e: applyFn(op === 'not' ? "'not'" : `'${op}'`, fn, [e], pos), ...(v.from ? { from: v.from } : {}) }
  }
  if (op === 'not') return { t: 'bool', v: !truthy(v, pos) }
  if (v.t === 'int' || v.t === 'bool') {
    const n = Number(v.v)
    return op === '-' ? int(-n, pos) : op === '~' ? int(~n, pos) : int(n, pos)
  }
  if (v.t === 'float' && op !== '~') return { t: 'float', v: op === '-' ? -v.v : v.v }
  pxlError(pos, `'${op}' does not apply to ${kindOf(v)}`)
}

/** An aggregate over a column expression (`px.mean` in `.agg()`, or `x.mean()` in a lambda). */
export function aggregate(name: string, arg: CExpr, pos: Pos, q?: number): CExpr {
  const fn = aggFns[name]!
  if (hasAgg(arg)) pxlError(pos, `px.${name} of an aggregate: aggregates do not nest`)
  let type: ColType | null = fn.type(arg.type)
  if (type === null) pxlError(pos, `px.${name} does not apply to ${arg.type}; it takes ${fn.sig}`, { name: `px.${name}` })
  if (name === 'quantiles' && q !== undefined) type = 'FLOAT64'
  const argType = arg.type
  return {
    k: 'agg',
    fn: name,
    arg: name === 'count' ? null : arg,
    ...(q !== undefined ? { q } : {}),
    type,
    sem: fn.keepSem ? arg.sem : 'ST_NONE',
    sql: (a, qs) => fn.sql(a, argType, qs),
  }
}
