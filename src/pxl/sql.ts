/**
 * Plan → ClickHouse SQL: one query per displayed table. Operations fuse into one SELECT while
 * they can (a filter becomes WHERE, or HAVING after an aggregation; a new column is substituted
 * into the expressions that read it) and nest as a subquery where SQL needs it (after LIMIT, an
 * aggregation of an aggregation, each side of a join). Only the columns a consumer reads are
 * computed. Every value is a query parameter; SQL aliases are generated (`__N`), so a user's
 * column names never reach the SQL text and can never shadow a stored column.
 */
import { inputsOf, type Node } from './plan.ts'
import { sourceSchema } from './tables.ts'
import { columnsOf, paramType, type CExpr, type ColType } from './types.ts'

/** Bound values of one query; `now` is filled in at run time so compiled queries can be cached. */
export class Params {
  readonly values: Record<string, string | number | boolean> = {}
  private n = 0
  add(value: string | number | boolean, chType: string): string {
    const name = `p${this.n++}`
    this.values[name] = value
    return `{${name}:${chType}}`
  }
}

interface Sel {
  from: string
  cols: Map<string, string>
  where: string[]
  groupBy: string[] | null
  having: string[]
  orderBy: string[]
  limit: number | null
}

// Substituted expressions longer than this are computed once in a subquery instead (a chain of
// `df.a = df.b + df.b` would otherwise double the SQL at each step).
const MAX_EXPR_SQL = 4000

/** Column names each node must produce for its consumers (consumers first, then producers). */
function columnNeeds(root: Node, want: string[]): Map<Node, Set<string>> {
  const order: Node[] = []
  const seen = new Set<Node>()
  const visit = (n: Node) => {
    if (seen.has(n)) return
    seen.add(n)
    inputsOf(n).forEach(visit)
    order.push(n)
  }
  visit(root)
  const needs = new Map<Node, Set<string>>(order.map((n) => [n, new Set<string>()]))
  want.forEach((w) => needs.get(root)!.add(w))
  for (const n of order.reverse()) {
    const need = needs.get(n)!
    const add = (to: Node, names: Iterable<string>) => {
      const s = needs.get(to)!
      for (const x of names) s.add(x)
    }
    switch (n.k) {
      case 'project':
        for (const o of n.outs) if (need.has(o.name)) add(n.input, columnsOf(o.expr))
        break
      case 'filter':
        add(n.input, [...need, ...columnsOf(n.pred)])
        break
      case 'agg':
        add(n.input, n.keys)
        for (const o of n.aggs) if (need.has(o.name)) add(n.input, columnsOf(o.expr))
        break
      case 'join':
        add(n.left, n.leftOn)
        add(n.right, n.rightOn)
        for (const o of n.outs) if (need.has(o.name)) add(o.side === 'l' ? n.left : n.right, [o.col])
        break
      case 'union':
        // UNION ALL is positional: every input produces every shown column, in one order.
        n.cols.forEach((c) => need.add(c.name))
        for (const i of n.inputs) add(i, need)
        break
      case 'sort':
        add(n.input, [...need, ...n.keys.map((k) => k.name)])
        break
      case 'limit':
        add(n.input, need)
        break
      case 'source':
        break
    }
  }
  return needs
}

export interface CompiledQuery {
  sql: string
  params: Record<string, string | number | boolean>
}

/** Compiles the plan under one displayed node to a single query returning its shown columns. */
export function compileQuery(root: Node, db: string, maxRows: number): CompiledQuery {
  const params = new Params()
  const needs = columnNeeds(
    root,
    root.cols.map((c) => c.name),
  )
  let alias = 0
  const tr = (e: CExpr, cols: Map<string, string>): string => {
    switch (e.k) {
      case 'col':
        return cols.get(e.name)!
      case 'lit':
        return params.add(e.value, paramType(e.type))
      case 'now':
        return '{now:Int64}'
      case 'fn':
        return e.sql(e.args.map((a) => tr(a, cols)))
      case 'agg':
        return e.sql(e.arg ? tr(e.arg, cols) : '', e.q !== undefined ? params.add(e.q, 'Float64') : undefined)
    }
  }
  const emit = (s: Sel, outs: [string, string][]): string => {
    const parts = [`SELECT ${outs.length ? outs.map(([sql, a]) => `${sql} AS ${a}`).join(', ') : '1 AS __empty'}`, `FROM ${s.from}`]
    if (s.where.length) parts.push(`WHERE ${s.where.join(' AND ')}`)
    if (s.groupBy?.length) parts.push(`GROUP BY ${s.groupBy.join(', ')}`)
    if (s.having.length) parts.push(`HAVING ${s.having.join(' AND ')}`)
    if (s.orderBy.length) parts.push(`ORDER BY ${s.orderBy.join(', ')}`)
    if (s.limit !== null) parts.push(`LIMIT ${s.limit}`)
    return parts.join(' ')
  }
  /** The select as a subquery whose columns are plain aliases. */
  const wrap = (s: Sel, order?: string[]): Sel => {
    const names = order ?? [...s.cols.keys()]
    const outs: [string, string][] = names.map((n) => [s.cols.get(n)!, `__${alias++}`])
    const cols = new Map(names.map((n, i) => [n, outs[i]![1]]))
    return { from: `(${emit(s, outs)})`, cols, where: [], groupBy: null, having: [], orderBy: [], limit: null }
  }
  const fresh = (from: string, cols: Map<string, string>): Sel => ({
    from,
    cols,
    where: [],
    groupBy: null,
    having: [],
    orderBy: [],
    limit: null,
  })
  /** Translates expressions over `s`, nesting `s` first when the result would grow too large. */
  const over = (s: Sel, exprs: CExpr[]): { s: Sel; sql: string[] } => {
    const sql = exprs.map((e) => tr(e, s.cols))
    if (sql.every((x) => x.length <= MAX_EXPR_SQL)) return { s, sql }
    const w = wrap(s)
    return { s: w, sql: exprs.map((e) => tr(e, w.cols)) }
  }

  const compile = (n: Node): Sel => {
    const need = needs.get(n)!
    switch (n.k) {
      case 'source': {
        const schema = sourceSchema(n.table)!
        const all = [...schema.cols, ...schema.hidden]
        const cols = new Map([...need].map((name) => [name, all.find((c) => c.name === name)!.sql.replaceAll('$db.', `${db}.`)]))
        const s = fresh(`${db}.\`${n.table}\``, cols)
        s.where.push('tenant = {tenant:String}')
        if (n.start) s.where.push(`time_ >= fromUnixTimestamp64Nano(toInt64(${tr(n.start, cols)}))`)
        if (n.end) s.where.push(`time_ < fromUnixTimestamp64Nano(toInt64(${tr(n.end, cols)}))`)
        return s
      }
      case 'project': {
        let s = compile(n.input)
        if (s.limit !== null) s = wrap(s)
        const outs = n.outs.filter((o) => need.has(o.name))
        const r = over(
          s,
          outs.map((o) => o.expr),
        )
        return { ...r.s, cols: new Map(outs.map((o, i) => [o.name, r.sql[i]!])) }
      }
      case 'filter': {
        let s = compile(n.input)
        // Window functions are computed after WHERE: a filter on one reads it from a subquery.
        if (s.limit !== null || windowed(s, columnsOf(n.pred))) s = wrap(s)
        const r = over(s, [n.pred])
        const p = r.sql[0]!
        return r.s.groupBy !== null ? { ...r.s, having: [...r.s.having, p] } : { ...r.s, where: [...r.s.where, p] }
      }
      case 'agg': {
        let s = compile(n.input)
        const reads = new Set([...n.keys, ...n.aggs.filter((o) => need.has(o.name)).flatMap((o) => [...columnsOf(o.expr)])])
        if (s.groupBy !== null || s.limit !== null || s.orderBy.length || windowed(s, reads)) s = wrap(s)
        const aggs = n.aggs.filter((o) => need.has(o.name))
        const cols = new Map<string, string>()
        for (const k of n.keys) cols.set(k, s.cols.get(k)!)
        aggs.forEach((o) => cols.set(o.name, tr(o.expr, s.cols)))
        return { ...s, cols, groupBy: n.keys.map((k) => s.cols.get(k)!) }
      }
      case 'sort': {
        let s = compile(n.input)
        if (s.limit !== null) s = wrap(s)
        return { ...s, orderBy: n.keys.map((k) => `${s.cols.get(k.name)!} ${k.asc ? 'ASC' : 'DESC'}`) }
      }
      case 'limit': {
        const s = compile(n.input)
        return { ...s, limit: s.limit === null ? n.n : Math.min(s.limit, n.n) }
      }
      case 'join': {
        const l = wrap(compile(n.left))
        const r = wrap(compile(n.right))
        const la = `__l${alias++}`
        const ra = `__r${alias++}`
        const on = n.leftOn.map((k, i) => `${la}.${l.cols.get(k)!} = ${ra}.${r.cols.get(n.rightOn[i]!)!}`).join(' AND ')
        const kind = { inner: 'INNER', left: 'LEFT', right: 'RIGHT', outer: 'FULL OUTER' }[n.how]
        const cols = new Map(
          n.outs
            .filter((o) => need.has(o.name))
            .map((o) => [o.name, o.side === 'l' ? `${la}.${l.cols.get(o.col)!}` : `${ra}.${r.cols.get(o.col)!}`]),
        )
        return fresh(`${l.from} AS ${la} ALL ${kind} JOIN ${r.from} AS ${ra} ON ${on}`, cols)
      }
      case 'union': {
        const order = n.cols.map((c) => c.name)
        const parts = n.inputs.map((i) => wrap(compile(i), order))
        const first = [...parts[0]!.cols.values()]
        // Later parts are renamed to the first part's aliases, as UNION ALL takes names from the first.
        const bodies = parts.map((p, pi) =>
          pi === 0 ? p.from.slice(1, -1) : `SELECT ${[...p.cols.values()].map((a, i) => `${a} AS ${first[i]}`).join(', ')} FROM ${p.from}`,
        )
        return fresh(`(${bodies.join(' UNION ALL ')})`, parts[0]!.cols)
      }
    }
  }

  const s = compile(root)
  const shown: [string, string][] = root.cols.map((c) => [output(s.cols.get(c.name)!, c.type), `__${alias++}`])
  const limited = { ...s, limit: s.limit === null ? maxRows + 1 : Math.min(s.limit, maxRows + 1) }
  const values = { ...params.values }
  return { sql: emit(limited, shown), params: values }
}

const windowed = (s: Sel, names: Iterable<string>): boolean => [...names].some((n) => s.cols.get(n)?.includes(' OVER (') ?? false)

/** How a column leaves the store: 64-bit and wider integers as text, quantiles as Pixie's JSON. */
function output(sql: string, type: ColType): string {
  switch (type) {
    case 'QUANTILES':
      return `toJSONString(CAST(tuple(${[1, 2, 3, 4, 5].map((i) => `${sql}[${i}]`).join(', ')}), 'Tuple(p01 Float64, p10 Float64, p50 Float64, p90 Float64, p99 Float64)'))`
    case 'TIME64NS':
    case 'UINT128':
    case 'INT64':
      return `toString(${sql})`
    default:
      return sql
  }
}
