/** The `px` module: DataFrame, display, time helpers, scalar functions, aggregates and types. */
import { pxlError, unknownName, type Pos } from './errors.ts'
import { aggFns, scalarFns, upidMetadataFns } from './functions.ts'
import type { Interp } from './interp.ts'
import { applyFn, binary, callScalar } from './ops.ts'
import { findCol, node } from './plan.ts'
import { sourceSchema, tableNames } from './tables.ts'
import type { CExpr } from './types.ts'
import { int, kindOf, type Args, type Value } from './values.ts'

const DURATIONS: Record<string, number> = {
  nanoseconds: 1,
  microseconds: 1e3,
  milliseconds: 1e6,
  seconds: 1e9,
  minutes: 60e9,
  hours: 3600e9,
  days: 86400e9,
}
const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, min: 60e9, h: 3600e9, d: 86400e9 }
/** Types for function parameters (`def f(svc: px.Service)`); arguments arrive as strings. */
const TYPES = ['Service', 'Pod', 'Namespace', 'Node', 'Container', 'UPID', 'Time', 'Duration']
const SEMANTIC = ['DurationNanos', 'Percent', 'Bytes']

/** Parses a duration such as `-5m`, `30s` or `1h30m` into signed nanoseconds, or null. */
export function parseDuration(s: string): number | null {
  const m = /^\s*([-+]?)\s*((?:\d+(?:\.\d+)?\s*(?:ns|us|µs|ms|s|min|m|h|d)\s*)+)$/.exec(s)
  if (!m) return null
  let ns = 0
  for (const part of m[2]!.matchAll(/(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|min|m|h|d)/g)) ns += Number(part[1]) * UNIT_NS[part[2]!]!
  return Math.round(m[1] === '-' ? -ns : ns)
}

const NOW: CExpr = { k: 'now', type: 'TIME64NS', sem: 'ST_NONE' }

/** A DataFrame time bound: `'-5m'` (relative to now), an ISO time, nanoseconds, or `px.now() - …`. */
function timeBound(v: Value, what: string, pos: Pos): CExpr | null {
  if (v.t === 'none') return null
  if (v.t === 'int') return { k: 'lit', value: v.v, type: 'TIME64NS', sem: 'ST_NONE' }
  if (v.t === 'str') {
    const d = parseDuration(v.v)
    if (d !== null) {
      if (d > 0) pxlError(pos, `${what} '${v.v}' is in the future; a relative time is negative, e.g. '-${v.v.trim().replace(/^\+/, '')}'`)
      return applyFn(
        "'+'",
        { sig: '', doc: '', type: () => 'TIME64NS', sql: ([a, b]) => `plus(${a}, ${b})` },
        [NOW, { k: 'lit', value: d, type: 'INT64', sem: 'ST_NONE' }],
        pos,
      )
    }
    // Nanoseconds since the epoch are past 2^53: they travel as decimal strings.
    if (/^\d{1,19}$/.test(v.v.trim())) return { k: 'lit', value: v.v.trim(), type: 'TIME64NS', sem: 'ST_NONE' }
    const ms = Date.parse(v.v)
    if (/^\d{4}-\d\d-\d\d/.test(v.v) && Number.isFinite(ms))
      return { k: 'lit', value: (BigInt(ms) * 1_000_000n).toString(), type: 'TIME64NS', sem: 'ST_NONE' }
    pxlError(
      pos,
      `${what} '${v.v}' is neither a relative time ('-5m', '-1h30m') nor an ISO time ('2026-01-02T15:04:05Z') nor nanoseconds since the epoch`,
    )
  }
  if (v.t === 'col' && (v.e.type === 'TIME64NS' || v.e.type === 'INT64') && !v.from) return v.e
  pxlError(pos, `${what} is a string such as '-5m', nanoseconds or px.now() - px.minutes(5); got ${kindOf(v)}`)
}

function arg(a: Args, i: number, name: string): { v: Value; pos: Pos } | undefined {
  return a.kwargs.get(name) ?? a.args[i]
}

function checkArgs(a: Args, fn: string, names: string[]): void {
  if (a.args.length > names.length) pxlError(a.pos, `${fn}() takes at most ${names.length} arguments (${names.join(', ')})`)
  for (const [k, v] of a.kwargs) if (!names.includes(k)) unknownName(v.pos, `argument of ${fn}()`, k, names)
}

function dataFrame(a: Args): Value {
  checkArgs(a, 'px.DataFrame', ['table', 'select', 'start_time', 'end_time'])
  const t = arg(a, 0, 'table')
  if (!t || t.v.t !== 'str') pxlError(t?.pos ?? a.pos, `px.DataFrame needs a table name, e.g. px.DataFrame(table='http_events')`)
  const schema = sourceSchema(t.v.v)
  if (!schema) unknownName(t.pos, 'table', t.v.v, tableNames)
  const start = arg(a, 2, 'start_time')
  const end = arg(a, 3, 'end_time')
  const sel = arg(a, 1, 'select')
  let cols = schema.cols.map(({ name, type, sem }) => ({ name, type, sem }))
  if (sel && sel.v.t !== 'none') {
    if (sel.v.t !== 'list') pxlError(sel.pos, `select is a list of column names, got ${kindOf(sel.v)}`)
    cols = sel.v.items.map((x) => {
      if (x.t !== 'str') pxlError(sel.pos, `select lists column names (strings), got ${kindOf(x)}`)
      const c = cols.find((y) => y.name === x.v)
      if (!c)
        unknownName(
          sel.pos,
          'column',
          x.v,
          schema.cols.map((y) => y.name),
        )
      return c
    })
  }
  if (cols.length === 0) pxlError(sel!.pos, 'select lists at least one column')
  const hidden = schema.hidden.map(({ name, type, sem }) => ({ name, type, sem }))
  const n = node({
    k: 'source',
    table: t.v.v,
    start: start ? timeBound(start.v, 'start_time', start.pos) : null,
    end: end ? timeBound(end.v, 'end_time', end.pos) : null,
    cols,
    hidden,
  })
  return { t: 'df', box: { node: n } }
}

function display(interp: Interp, a: Args, debug: boolean): Value {
  const fn = debug ? 'px.debug' : 'px.display'
  checkArgs(a, fn, ['df', 'name', 'table_name'])
  const df = arg(a, 0, 'df')
  if (!df) pxlError(a.pos, `${fn}(df, 'name') needs a DataFrame`)
  const name = arg(a, 1, 'name') ?? a.kwargs.get('table_name')
  if (name && name.v.t !== 'str') pxlError(name.pos, `the table name is a string, got ${kindOf(name.v)}`)
  interp.display(name?.v.t === 'str' ? name.v.v : 'output', df.v, df.pos, debug)
  return { t: 'none' }
}

/** `px.upid_to_pod_name(df.upid)` and friends: the row's stored metadata. */
function upidMeta(name: string, key: string, a: Args): Value {
  const x = a.args[0]
  if (a.args.length !== 1 || !x) pxlError(a.pos, `px.${name}(upid) takes one argument`)
  if (x.v.t !== 'col' || x.v.e.type !== 'UINT128') pxlError(x.pos, `px.${name} takes a upid column (UINT128), got ${kindOf(x.v)}`)
  const from = x.v.from
  const e = x.v.e
  const c = from && e.k === 'col' && (e.name === 'upid' || e.name === '$ctx.upid') ? findCol(from, `$ctx.${key}`) : undefined
  if (!c)
    pxlError(
      x.pos,
      `px.${name} reads the process metadata stored with each row: apply it to df.upid before an aggregation, or keep 'upid' in the groupby keys`,
    )
  return { t: 'col', e: { k: 'col', name: c.name, type: c.type, sem: c.sem }, from: from! }
}

/** Every name `px.` offers, for suggestions and completion. */
export const pxNames = [
  'DataFrame',
  'display',
  'debug',
  'now',
  'parse_duration',
  ...Object.keys(DURATIONS),
  ...Object.keys(scalarFns),
  ...Object.keys(upidMetadataFns),
  ...Object.keys(aggFns),
  ...TYPES,
]

export function pxAttr(interp: Interp, name: string, pos: Pos): Value {
  const builtin = (call: (a: Args) => Value): Value => ({ t: 'builtin', name: `px.${name}`, call })
  if (name === 'DataFrame') return builtin(dataFrame)
  if (name === 'display' || name === 'debug') return builtin((a) => display(interp, a, name === 'debug'))
  if (name === 'now') return builtin(() => ({ t: 'col', e: NOW }))
  if (name in aggFns) return { t: 'uda', name }
  if (TYPES.includes(name)) return { t: 'type', name: `px.${name}` }
  if (name === 'parse_duration') {
    return builtin((a) => {
      const s = a.args[0]
      if (a.args.length !== 1 || s?.v.t !== 'str') pxlError(a.pos, "px.parse_duration takes a string such as '5m'")
      const d = parseDuration(s.v.v)
      if (d === null) pxlError(s.pos, `'${s.v.v}' is not a duration such as '-5m', '30s' or '1h30m'`)
      return int(d, s.pos)
    })
  }
  const unit = DURATIONS[name]
  if (unit !== undefined) {
    return builtin((a) => {
      const x = a.args[0]
      if (a.args.length !== 1 || !x) pxlError(a.pos, `px.${name}(n) takes one number`)
      if (x.v.t === 'int' || x.v.t === 'float') return int(Math.round(x.v.v * unit), x.pos)
      if (x.v.t === 'col') return binary('*', x.v, int(unit), a.pos)
      pxlError(x.pos, `px.${name} takes a number, got ${kindOf(x.v)}`)
    })
  }
  if (name in upidMetadataFns) return builtin((a) => upidMeta(name, upidMetadataFns[name]!, a))
  if (name in scalarFns) {
    return builtin((a) => {
      if (a.kwargs.size) pxlError(a.pos, `px.${name} takes positional arguments only`)
      // Semantic wrappers keep Python scalars scalar: px.DurationNanos(px.seconds(5)) is still 5e9.
      if (SEMANTIC.includes(name) && a.args.length === 1 && a.args[0]!.v.t !== 'col') return a.args[0]!.v
      const from = a.args.map((x) => (x.v.t === 'col' ? x.v.from : undefined)).find((f) => f)
      const out = callScalar(
        name,
        a.args.map((x) => x.v),
        a.args.map((x) => x.pos),
        a.pos,
      )
      return from && out.t === 'col' ? { ...out, from } : out
    })
  }
  unknownName(
    pos,
    'px function',
    `px.${name}`,
    pxNames.map((n) => `px.${n}`),
  )
}
