/**
 * Aggregates in `.agg()`: Pixie's `(column, px.fn)` tuples and the pandas forms the seed's
 * scripts use (`lambda x: (x >= 400).mean()`), plus the small Python builtins (str, int, …).
 */
import { pxlError, unknownName, type Pos } from './errors.ts'
import * as frame from './frame.ts'
import { aggFns } from './functions.ts'
import type { Interp } from './interp.ts'
import { aggregate } from './ops.ts'
import { findCol, type Node } from './plan.ts'
import { hasAgg, type CExpr } from './types.ts'
import { int, kindOf, literal, type Arg, type Args, type Value } from './values.ts'

/** One `name=(column, fn)` of `.agg()` as a typed aggregate expression. */
export function aggSpec(interp: Interp, n: Node, name: string, arg: Arg): CExpr {
  const v = arg.v
  if (v.t !== 'list' || v.items.length !== 2)
    pxlError(arg.pos, `aggregate '${name}' is a tuple (column, function), e.g. ${name}=('latency', px.mean); got ${kindOf(v)}`)
  const [colV, fn] = v.items as [Value, Value]
  if (colV.t !== 'str') pxlError(arg.pos, `aggregate '${name}': the first item names a column (a string), got ${kindOf(colV)}`)
  const col = frame.column(n, colV.v, arg.pos)
  if (fn.t === 'uda') return aggregate(fn.name, fn.name === 'sum' ? increaseOf(n, col) : col, arg.pos, fn.q)
  if (fn.t === 'lambda' || fn.t === 'func') {
    const out = interp.callUser(fn, { pos: arg.pos, args: [{ v: { t: 'col', e: col, from: n }, pos: arg.pos }], kwargs: new Map() })
    if (out.t !== 'col' || !hasAgg(out.e))
      pxlError(
        arg.pos,
        `aggregate '${name}': the function must aggregate its column, e.g. lambda x: (x >= 400).mean(); it returned ${kindOf(out)}`,
      )
    checkAggregated(out.e, arg.pos, name)
    return out.e
  }
  pxlError(arg.pos, `aggregate '${name}': the second item is an aggregate such as px.count, px.mean or a lambda, got ${kindOf(fn)}`, {
    name: fn.t === 'builtin' ? fn.name : undefined,
    valid: Object.keys(aggFns).map((k) => `px.${k}`),
  })
}

/** A cumulative counter read straight from its table sums as its increase (see tables.ts). */
function increaseOf(n: Node, col: CExpr): CExpr {
  const inc = col.k === 'col' ? findCol(n, `$inc.${col.name}`) : undefined
  return inc ? { k: 'col', name: inc.name, type: inc.type, sem: inc.sem } : col
}

/** Outside an aggregate, an `.agg()` expression may hold constants only (each group is one row). */
function checkAggregated(e: CExpr, pos: Pos, name: string): void {
  if (e.k === 'col') pxlError(pos, `aggregate '${name}' reads column '${e.name}' outside an aggregate; aggregate it, e.g. x.mean()`)
  if (e.k === 'fn') e.args.forEach((a) => checkAggregated(a, pos, name))
}

/** Pandas-style aggregate methods on a column, for lambdas in `.agg()`: `x.mean()`, `(x >= 400).sum()`. */
export function columnMethod(obj: Extract<Value, { t: 'col' }>, name: string, pos: Pos): Value {
  const methods: Record<string, string> = { mean: 'mean', sum: 'sum', count: 'count', min: 'min', max: 'max', any: 'any', size: 'count' }
  const fn = methods[name]
  if (name === 'quantile') {
    return {
      t: 'builtin',
      name: 'quantile',
      call: (a) => {
        const q = a.args[0]?.v
        if ((q?.t !== 'float' && q?.t !== 'int') || q.v < 0 || q.v > 1) pxlError(a.pos, 'x.quantile(q) takes a level between 0 and 1')
        return { t: 'col', e: aggregate('quantiles', obj.e, a.pos, q.v) }
      },
    }
  }
  if (!fn) unknownName(pos, 'column method', name, [...Object.keys(methods), 'quantile'])
  return {
    t: 'builtin',
    name,
    call: (a) => {
      if (a.args.length || a.kwargs.size) pxlError(a.pos, `x.${name}() takes no arguments`)
      return { t: 'col', e: aggregate(fn, obj.e, a.pos) }
    },
  }
}

/** `str(x)`, `int(x)`, `float(x)`, `bool(x)` on Python values. */
export function convert(type: string, a: Args): Value {
  const v = a.args[0]?.v
  if (a.args.length !== 1 || !v) pxlError(a.pos, `${type}() takes one argument`)
  const p = a.args[0]!.pos
  switch (type) {
    case 'str':
      if (v.t === 'str') return v
      if (v.t === 'int' || v.t === 'float') return { t: 'str', v: String(v.v) }
      if (v.t === 'bool') return { t: 'str', v: v.v ? 'True' : 'False' }
      break
    case 'int':
      if (v.t === 'int') return v
      if (v.t === 'float') return int(Math.trunc(v.v), p)
      if (v.t === 'bool') return int(Number(v.v), p)
      if (v.t === 'str' && /^\s*[-+]?\d+\s*$/.test(v.v)) return int(Number(v.v), p)
      break
    case 'float':
      if (v.t === 'int' || v.t === 'float') return { t: 'float', v: v.v }
      if (v.t === 'str' && v.v.trim() !== '' && Number.isFinite(Number(v.v))) return { t: 'float', v: Number(v.v) }
      break
    case 'bool':
      if (v.t === 'bool') return v
      if (v.t === 'int' || v.t === 'float') return { t: 'bool', v: v.v !== 0 }
      if (v.t === 'str') return { t: 'bool', v: v.v !== '' }
      break
  }
  pxlError(p, `${type}() cannot convert ${kindOf(v)}${v.t === 'str' ? ` '${v.v.slice(0, 40)}'` : ''}`)
}

/** A scalar assigned to a column: a constant column. */
export function literalOf(v: Value, pos: Pos): CExpr {
  return literal(v, pos)
}
