/**
 * DataFrame operations: each builds one plan node and checks names and types as it goes, so a
 * mistake is reported at the script position that made it.
 */
import { pxlError, unknownName, type Pos } from './errors.ts'
import { findCol, node, userNames, type JoinHow, type Node, type Out } from './plan.ts'
import { ctxKeys } from './tables.ts'
import { columnsOf, hasAgg, type CExpr, type ColDef } from './types.ts'

const colRef = (c: ColDef): CExpr => ({ k: 'col', name: c.name, type: c.type, sem: c.sem })

/** A column of a DataFrame by the name a user wrote. */
export function column(n: Node, name: string, pos: Pos): CExpr {
  const c = name.startsWith('$') ? undefined : findCol(n, name)
  if (!c) unknownName(pos, 'column', name, userNames(n))
  return colRef(c)
}

/** `df.ctx[key]`: the process metadata of each row. */
export function ctxColumn(n: Node, key: string, pos: Pos): CExpr {
  const stored = ctxKeys[key]
  if (!stored) unknownName(pos, 'ctx key', key, Object.keys(ctxKeys))
  const c = findCol(n, `$ctx.${stored}`)
  if (!c) pxlError(pos, `df.ctx['${key}'] needs each row's process: read it before an aggregation, or keep 'upid' in the groupby keys`)
  return colRef(c)
}

/** Checks that an expression only reads columns of the DataFrame it is applied to. */
function checkColumns(n: Node, e: CExpr, pos: Pos): void {
  for (const name of columnsOf(e)) if (!findCol(n, name)) unknownName(pos, 'column', name, userNames(n))
}

function passthrough(n: Node): Out[] {
  return [...n.cols, ...n.hidden].map((c) => ({ name: c.name, expr: colRef(c) }))
}

/** `df.x = expr` / `df['x'] = expr`: a new or replaced column (in place, as in pandas). */
export function assign(n: Node, name: string, e: CExpr, pos: Pos): Node {
  if (name.startsWith('$') || name === '') pxlError(pos, `invalid column name '${name}'`)
  if (hasAgg(e)) pxlError(pos, `an aggregate (.mean(), px.count, …) can only be computed inside .agg()`)
  checkColumns(n, e, pos)
  const def: ColDef = { name, type: e.type, sem: e.sem }
  const replaced = n.cols.some((c) => c.name === name)
  const cols = replaced ? n.cols.map((c) => (c.name === name ? def : c)) : [...n.cols, def]
  const hidden = n.hidden.filter((c) => c.name !== name && c.name !== `$inc.${name}`)
  const outs = [...passthrough({ ...n, cols: n.cols.filter((c) => c.name !== name), hidden }), { name, expr: e }]
  return node({ k: 'project', input: n, outs, cols, hidden })
}

/** `df[['a', 'b']]`: those columns, in that order. */
export function select(n: Node, names: string[], pos: Pos): Node {
  const cols = names.map((name) => {
    const c = n.cols.find((x) => x.name === name) ?? (name.startsWith('$') ? undefined : findCol(n, name))
    if (!c) unknownName(pos, 'column', name, userNames(n))
    return c
  })
  if (new Set(names).size !== names.length) pxlError(pos, 'a column is selected twice')
  if (names.length === 0) pxlError(pos, 'a DataFrame keeps at least one column')
  const hidden = n.hidden.filter((c) => !names.includes(c.name))
  return node({ k: 'project', input: n, outs: [...cols, ...hidden].map((c) => ({ name: c.name, expr: colRef(c) })), cols, hidden })
}

/** `df.drop(['a'])`. */
export function drop(n: Node, names: string[], pos: Pos): Node {
  for (const name of names)
    if (!n.cols.some((c) => c.name === name))
      unknownName(
        pos,
        'column',
        name,
        n.cols.map((c) => c.name),
      )
  return select(
    n,
    n.cols.filter((c) => !names.includes(c.name)).map((c) => c.name),
    pos,
  )
}

/** `df[predicate]`. */
export function filter(n: Node, pred: CExpr, pos: Pos): Node {
  if (pred.type !== 'BOOLEAN') pxlError(pos, `a filter needs a BOOLEAN expression (e.g. df[df.resp_status >= 400]), got ${pred.type}`)
  if (hasAgg(pred)) pxlError(pos, 'a filter cannot hold an aggregate; aggregate with .agg() first, then filter its result')
  checkColumns(n, pred, pos)
  return node({ k: 'filter', input: n, pred, cols: n.cols, hidden: n.hidden })
}

/** `groupby(keys).agg(name=…)`; `df.agg(…)` has no keys. */
export function aggregate(n: Node, keys: string[], aggs: Out[], pos: Pos): Node {
  const keyCols = keys.map((k) => {
    const c = k.startsWith('$') ? undefined : findCol(n, k)
    if (!c) unknownName(pos, 'column', k, userNames(n))
    if (c.type === 'QUANTILES') pxlError(pos, `cannot group by '${k}': quantiles are not a key; pluck a value first`)
    return c
  })
  if (new Set(keys).size !== keys.length) pxlError(pos, 'a groupby key is repeated')
  for (const a of aggs) {
    if (keys.includes(a.name)) pxlError(pos, `aggregate '${a.name}' has the name of a groupby key`)
    checkColumns(n, a.expr, pos)
  }
  const hidden: ColDef[] = []
  const extra: Out[] = []
  // Metadata follows upid: grouped by process, each group has one process, so any() is exact.
  if (keys.includes('upid')) {
    for (const c of n.hidden.filter((h) => h.name.startsWith('$ctx.'))) {
      hidden.push(c)
      extra.push({ name: c.name, expr: { k: 'agg', fn: 'any', arg: colRef(c), type: c.type, sem: c.sem, sql: (a) => `any(${a})` } })
    }
  }
  const cols = [...keyCols, ...aggs.map((a) => ({ name: a.name, type: a.expr.type, sem: a.expr.sem }))]
  return node({ k: 'agg', input: n, keys, aggs: [...aggs, ...extra], cols, hidden })
}

/** `left.merge(right, how=, left_on=, right_on=, suffixes=)`. */
export function merge(l: Node, r: Node, how: JoinHow, leftOn: string[], rightOn: string[], suffixes: [string, string], pos: Pos): Node {
  if (leftOn.length === 0 || leftOn.length !== rightOn.length)
    pxlError(pos, `merge needs as many left_on as right_on columns (got ${leftOn.length} and ${rightOn.length})`)
  leftOn.forEach((name, i) => {
    const a = l.cols.find((c) => c.name === name)
    if (!a)
      unknownName(
        pos,
        'column',
        name,
        l.cols.map((c) => c.name),
      )
    const b = r.cols.find((c) => c.name === rightOn[i])
    if (!b)
      unknownName(
        pos,
        'column',
        rightOn[i]!,
        r.cols.map((c) => c.name),
      )
    if (a.type !== b.type) pxlError(pos, `merge key '${name}' is ${a.type} on the left and '${b.name}' is ${b.type} on the right`)
  })
  const rightNames = new Set(r.cols.map((c) => c.name))
  const leftNames = new Set(l.cols.map((c) => c.name))
  const outs: { name: string; side: 'l' | 'r'; col: string }[] = []
  const cols: ColDef[] = []
  for (const [side, src, other, suffix] of [
    ['l', l, rightNames, suffixes[0]],
    ['r', r, leftNames, suffixes[1]],
  ] as const) {
    for (const c of src.cols) {
      const name = other.has(c.name) ? c.name + suffix : c.name
      if (cols.some((x) => x.name === name))
        pxlError(pos, `merge would make two columns named '${name}'; pass suffixes=('_x', '_y') that differ`)
      outs.push({ name, side, col: c.name })
      cols.push({ ...c, name })
    }
  }
  return node({ k: 'join', left: l, right: r, how, leftOn, rightOn, outs, cols, hidden: [] })
}

/** `df.append(other)`: rows of both; the columns must match. */
export function append(a: Node, b: Node, pos: Pos): Node {
  const sig = (n: Node) => n.cols.map((c) => `${c.name}:${c.type}`).join(', ')
  if (sig(a) !== sig(b)) pxlError(pos, `append needs the same columns on both sides: (${sig(a)}) vs (${sig(b)})`)
  return node({ k: 'union', inputs: [a, b], cols: a.cols, hidden: [] })
}

export function sort(n: Node, keys: { name: string; asc: boolean }[], pos: Pos): Node {
  for (const k of keys) {
    const c = n.cols.find((x) => x.name === k.name)
    if (!c)
      unknownName(
        pos,
        'column',
        k.name,
        n.cols.map((x) => x.name),
      )
    if (c.type === 'QUANTILES') pxlError(pos, `cannot sort by '${k.name}': pluck a quantile first`)
  }
  return node({ k: 'sort', input: n, keys, cols: n.cols, hidden: n.hidden })
}

export function head(n: Node, count: number, pos: Pos): Node {
  if (!Number.isSafeInteger(count) || count < 0) pxlError(pos, `head needs a count of rows ≥ 0, got ${count}`)
  return node({ k: 'limit', input: n, n: count, cols: n.cols, hidden: n.hidden })
}
