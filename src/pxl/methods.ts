/** DataFrame attributes: methods (groupby, agg, merge, …), `ctx`, and columns by attribute. */
import { pxlError, unknownName, type Pos } from './errors.ts'
import * as frame from './frame.ts'
import type { Interp } from './interp.ts'
import type { JoinHow } from './plan.ts'
import { kindOf, truthy, type Arg, type Args, type Value } from './values.ts'

const METHODS = ['ctx', 'groupby', 'agg', 'merge', 'drop', 'head', 'append', 'sort_values', 'stream']
const HOWS = ['inner', 'left', 'right', 'outer']

/** A string or a list of strings (column names), as pandas accepts them. */
function names(a: Arg | undefined, what: string, pos: Pos): string[] {
  if (!a) pxlError(pos, `${what} is missing`)
  if (a.v.t === 'str') return [a.v.v]
  if (a.v.t === 'list')
    return a.v.items.map((x) => (x.t === 'str' ? x.v : pxlError(a.pos, `${what} lists column names (strings), got ${kindOf(x)}`)))
  pxlError(a.pos, `${what} is a column name or a list of them, got ${kindOf(a.v)}`)
}

function only(a: Args, fn: string, allowed: string[]): void {
  if (a.args.length > allowed.length)
    pxlError(a.pos, `${fn}() takes at most ${allowed.length} argument${allowed.length === 1 ? '' : 's'} (${allowed.join(', ')})`)
  for (const [k, v] of a.kwargs) if (!allowed.includes(k)) unknownName(v.pos, `argument of ${fn}()`, k, allowed)
}

const get = (a: Args, i: number, name: string): Arg | undefined => a.kwargs.get(name) ?? a.args[i]

function otherFrame(a: Arg | undefined, fn: string, pos: Pos) {
  if (!a || a.v.t !== 'df') pxlError(a?.pos ?? pos, `${fn}() needs a DataFrame, got ${a ? kindOf(a.v) : 'nothing'}`)
  return a.v.box.node
}

export function dataFrameAttr(interp: Interp, df: Extract<Value, { t: 'df' }>, name: string, pos: Pos): Value {
  const n = df.box.node
  const method = (call: (a: Args) => Value): Value => ({ t: 'builtin', name: `DataFrame.${name}`, call })
  const wrap = (node: typeof n): Value => ({ t: 'df', box: { node } })
  switch (name) {
    case 'ctx':
      return { t: 'ctx', node: n }
    case 'groupby':
      return method((a) => {
        only(a, 'groupby', ['by'])
        const keys = names(get(a, 0, 'by'), 'groupby keys', a.pos)
        for (const k of keys) frame.column(n, k, get(a, 0, 'by')!.pos)
        return { t: 'groupby', node: n, keys }
      })
    case 'agg':
      return method((a) => wrap(interp.aggCall(n, [], a)))
    case 'drop':
      return method((a) => {
        only(a, 'drop', ['columns'])
        return wrap(frame.drop(n, names(get(a, 0, 'columns'), 'drop columns', a.pos), a.pos))
      })
    case 'head':
      return method((a) => {
        only(a, 'head', ['n'])
        const c = get(a, 0, 'n')
        if (c && c.v.t !== 'int') pxlError(c.pos, `head takes a number of rows, got ${kindOf(c.v)}`)
        return wrap(frame.head(n, c?.v.t === 'int' ? c.v.v : 5, a.pos))
      })
    case 'append':
      return method((a) => {
        only(a, 'append', ['objs'])
        const o = get(a, 0, 'objs')
        const others = o?.v.t === 'list' ? o.v.items.map((v) => ({ v, pos: o.pos })) : [o]
        let out = n
        for (const x of others) out = frame.append(out, otherFrame(x, 'append', a.pos), a.pos)
        return wrap(out)
      })
    case 'sort_values':
      return method((a) => {
        only(a, 'sort_values', ['by', 'ascending'])
        const by = names(get(a, 0, 'by'), 'sort_values by', a.pos)
        const asc = get(a, 1, 'ascending')
        const flags = !asc
          ? by.map(() => true)
          : asc.v.t === 'list'
            ? asc.v.items.map((x) => truthy(x, asc.pos))
            : by.map(() => truthy(asc.v, asc.pos))
        if (flags.length !== by.length) pxlError(asc!.pos, `ascending lists ${flags.length} flags for ${by.length} columns`)
        return wrap(
          frame.sort(
            n,
            by.map((name, i) => ({ name, asc: flags[i]! })),
            a.pos,
          ),
        )
      })
    case 'stream':
      // Pixie streams new rows; a Kiln query reads what is stored, so this is the same DataFrame.
      return method(() => df)
    case 'merge':
      return method((a) => {
        only(a, 'merge', ['right', 'how', 'left_on', 'right_on', 'suffixes', 'on'])
        const right = otherFrame(get(a, 0, 'right'), 'merge', a.pos)
        const howA = get(a, 1, 'how')
        const how = howA
          ? howA.v.t === 'str' && HOWS.includes(howA.v.v)
            ? howA.v.v
            : unknownName(howA.pos, 'join type', howA.v.t === 'str' ? howA.v.v : kindOf(howA.v), HOWS)
          : 'inner'
        const on = a.kwargs.get('on')
        const leftOn = names(a.kwargs.get('left_on') ?? on, 'left_on', a.pos)
        const rightOn = names(a.kwargs.get('right_on') ?? on, 'right_on', a.pos)
        const s = a.kwargs.get('suffixes')
        let suffixes: [string, string] = ['_x', '_y']
        if (s) {
          if (s.v.t !== 'list' || s.v.items.length !== 2 || s.v.items.some((x) => x.t !== 'str'))
            pxlError(s.pos, "suffixes is a pair of strings, e.g. ('_x', '_y')")
          suffixes = s.v.items.map((x) => (x as { v: string }).v) as [string, string]
        }
        return wrap(frame.merge(n, right, how as JoinHow, leftOn, rightOn, suffixes, a.pos))
      })
  }
  return { t: 'col', e: frame.column(n, name, pos), from: n }
}

export const dataFrameMethods = METHODS
