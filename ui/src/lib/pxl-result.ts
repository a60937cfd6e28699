/**
 * The run API's tables and how the Live view shows them: cell text by PxL type and column name,
 * sorting, and the widgets a table gets — a service graph when it has source and destination
 * columns, a time-series chart when it has `time_`, and always the table itself.
 */
import { formatDuration, formatBytes, formatCount, formatPercent } from '../../../src/model/units.ts'
import type { DisplaySpec } from './pxl-args.ts'

export interface PxlColumn {
  name: string
  /** TIME64NS, INT64, FLOAT64, STRING, BOOLEAN, UINT128. */
  type: string
  /** Pixie's semantic type when the compiler knows it: ST_DURATION_NS, ST_PERCENT, ST_BYTES … */
  semanticType?: string
}
export interface PxlTable {
  name: string
  columns: PxlColumn[]
  rows: unknown[][]
  /** More rows matched than were sent. */
  truncated?: boolean
}
export interface PxlResult {
  tables: PxlTable[]
  compileMs?: number
  runMs?: number
}

/** What a number in a column measures, read from its type and name. */
export type ColumnUnit = 'time' | 'ns' | 'ms' | 'bytes' | 'fraction' | 'rate' | 'number' | 'text' | 'bool'

const numericTypes = new Set(['INT64', 'FLOAT64', 'UINT128', 'TIME64NS'])

export function columnUnit(c: PxlColumn): ColumnUnit {
  const n = c.name.toLowerCase()
  if (c.type === 'TIME64NS') return 'time'
  if (c.type === 'BOOLEAN') return 'bool'
  if (c.type !== 'INT64' && c.type !== 'FLOAT64') return 'text'
  if (/(^|_)ms$|_ms_|milli/.test(n)) return 'ms'
  // The compiler's semantic type, then the name as Pixie's and the seed's scripts spell it.
  const sem = ({ ST_DURATION_NS: 'ns', ST_PERCENT: 'fraction', ST_BYTES: 'bytes' } as const)[c.semanticType ?? '']
  if (sem) return sem
  // A latency the compiler does not mark as nanoseconds has been divided (latency_ms / 1e6 …): milliseconds.
  if (/latency|duration|(^|_)ns$|_time_ns|elapsed/.test(n)) return c.semanticType === undefined || /(^|_)ns$/.test(n) ? 'ns' : 'ms'
  if (/bytes|(^|_)size$/.test(n) && !/per_s|_rate/.test(n)) return 'bytes'
  if (/error_rate|err_rate|ratio|fraction|_share$|percent|pct/.test(n)) return 'fraction'
  // Rates are divisions (FLOAT64); an INT64 named rps is a count (the seed's rps=('time_', px.count)).
  if (c.type === 'FLOAT64' && /(^|_)rps$|per_s(ec(ond)?)?$|_rate$|throughput/.test(n)) return 'rate'
  return 'number'
}

/** A number from a cell (numbers, numeric strings such as 64-bit integers sent as text, booleans); NaN otherwise. */
export function cellNumber(v: unknown): number {
  if (typeof v === 'number') return v
  if (typeof v === 'boolean') return v ? 1 : 0
  if (typeof v === 'string' && v.trim() !== '' && /^-?[\d.]+(e[+-]?\d+)?$/i.test(v.trim())) return Number(v)
  return NaN
}

/** Unix ms of a time cell: nanoseconds (number or digits), or an ISO date. */
export function cellTimeMs(v: unknown): number {
  if (typeof v === 'string' && !/^-?\d+(\.\d+)?$/.test(v.trim())) return Date.parse(v)
  const n = cellNumber(v)
  if (!Number.isFinite(n)) return NaN
  // By magnitude: ns since 1973 are > 1e17; µs > 1e14; ms > 1e11; else seconds.
  const a = Math.abs(n)
  return a > 1e17 ? n / 1e6 : a > 1e14 ? n / 1e3 : a > 1e11 ? n : n * 1000
}

/** The text of a cell, by its column's unit. */
export function formatCell(v: unknown, c: PxlColumn): string {
  if (v === null || v === undefined) return ''
  const unit = columnUnit(c)
  if (unit === 'text') return typeof v === 'object' ? JSON.stringify(v) : String(v)
  if (unit === 'bool') return v === true || v === 1 || v === 'true' ? 'true' : 'false'
  if (unit === 'time') {
    const ms = cellTimeMs(v)
    return Number.isFinite(ms) ? new Date(ms).toISOString().replace('T', ' ').replace('Z', '') : String(v)
  }
  const n = cellNumber(v)
  if (!Number.isFinite(n)) return String(v)
  return formatNumber(n, unit, typeof v === 'string' ? v : '')
}

/** A number in a unit; `exact` is the integer as sent (64-bit values beyond 2^53 keep every digit). */
export function formatNumber(n: number, unit: ColumnUnit, exact = ''): string {
  switch (unit) {
    case 'ns':
      return formatDuration(n)
    case 'ms':
      return formatDuration(n * 1e6)
    case 'bytes':
      return formatBytes(n)
    case 'fraction':
      return formatPercent(n)
    case 'rate':
      return `${formatCount(n)}/s`
    default:
      if (exact && /^-?\d+$/.test(exact)) return exact
      if (Number.isInteger(n)) return String(n)
      return String(Math.abs(n) >= 1000 ? Number(n.toFixed(1)) : Number(n.toPrecision(4)))
  }
}

/** Rows sorted by one column: numbers and times by value, text by locale, empty cells last either way. */
export function sortTable(rows: readonly unknown[][], col: number, type: string, dir: 'asc' | 'desc'): unknown[][] {
  const numeric = numericTypes.has(type) || type === 'BOOLEAN'
  const sign = dir === 'asc' ? 1 : -1
  const key = (v: unknown) => (type === 'TIME64NS' ? cellTimeMs(v) : cellNumber(v))
  return rows
    .map((r, k) => ({ r, k }))
    .sort((a, b) => {
      const x = a.r[col]
      const y = b.r[col]
      const ex = x === null || x === undefined || x === ''
      const ey = y === null || y === undefined || y === ''
      if (ex || ey) return ex === ey ? a.k - b.k : ex ? 1 : -1
      let c: number
      if (numeric) {
        const [p, q] = [key(x), key(y)]
        c = p - q
        // 64-bit integers sent as digits compare exactly when they tie as doubles.
        if (!c && digits(x) && digits(y)) {
          const d = BigInt(x) - BigInt(y)
          c = d > 0n ? 1 : d < 0n ? -1 : 0
        }
        if (Number.isNaN(c)) c = 0
      } else c = String(x).localeCompare(String(y))
      return sign * c || a.k - b.k
    })
    .map((e) => e.r)
}

const digits = (v: unknown): v is string => typeof v === 'string' && /^-?\d+$/.test(v)

export type Widget =
  | { kind: 'table' }
  | { kind: 'chart'; time: number; values: number[]; series: number }
  | { kind: 'graph'; from: number; to: number }

const FROM = /^(source|src|from|requestor|client)(_?)(.*)$/
const TO = ['dest', 'dst', 'destination', 'to', 'responder', 'server']

/** The source and destination columns of a table (`source_service`/`dest_service`, `requestor`/`responder`, …), or null. */
export function edgeColumns(columns: readonly PxlColumn[]): { from: number; to: number } | null {
  const names = columns.map((c) => c.name.toLowerCase())
  for (const [i, n] of names.entries()) {
    const m = FROM.exec(n)
    if (!m || columns[i]!.type !== 'STRING') continue
    for (const t of TO) {
      const j = names.indexOf(`${t}${m[2]}${m[3]}`)
      if (j >= 0 && columns[j]!.type === 'STRING') return { from: i, to: j }
    }
  }
  return null
}

/** The time column of a table: `time_` (or `timestamp`, `window`, `time`) of type TIME64NS; -1 when none. */
export function timeColumn(columns: readonly PxlColumn[]): number {
  for (const n of ['time_', 'timestamp', 'window', 'time', 'bin']) {
    const k = columns.findIndex((c) => c.name === n && (c.type === 'TIME64NS' || n === 'time_'))
    if (k >= 0) return k
  }
  return columns.findIndex((c) => c.type === 'TIME64NS')
}

/** Numeric columns worth charting: not ids, ports or the time itself. */
function valueColumns(columns: readonly PxlColumn[], skip: number): number[] {
  return columns.flatMap((c, k) =>
    k !== skip && (c.type === 'INT64' || c.type === 'FLOAT64') && !/(^|_)(pid|upid|port|id|status|role|version|cmd|code)$/.test(c.name)
      ? [k]
      : [],
  )
}

/** The widgets for a table: the display spec's (from a vis.json), else a graph and/or chart where the columns allow, and the table. */
export function chooseWidgets(t: PxlTable, spec?: DisplaySpec): Widget[] {
  const idx = (name: string | undefined) => (name ? t.columns.findIndex((c) => c.name === name) : -1)
  const type = spec?.['@type'] ?? ''
  if (/TimeseriesChart$/.test(type)) {
    const time = timeColumn(t.columns)
    const values = (spec!.timeseries ?? []).map((s) => idx(s.value)).filter((k) => k >= 0)
    if (time >= 0 && values.length) return [{ kind: 'chart', time, values, series: idx(spec!.timeseries?.[0]?.series) }]
  }
  if (/(Request)?Graph$/.test(type)) {
    const from = idx(spec!.adjacencyList?.fromColumn ?? spec!.requestorServiceColumn ?? spec!.requestorPodColumn)
    const to = idx(spec!.adjacencyList?.toColumn ?? spec!.responderServiceColumn ?? spec!.responderPodColumn)
    if (from >= 0 && to >= 0) return [{ kind: 'graph', from, to }]
  }
  if (/Table$/.test(type)) return [{ kind: 'table' }]
  const out: Widget[] = []
  const edge = edgeColumns(t.columns)
  if (edge) out.push({ kind: 'graph', ...edge })
  const time = timeColumn(t.columns)
  const values = time >= 0 ? valueColumns(t.columns, time) : []
  if (time >= 0 && values.length && t.rows.length) {
    const series = t.columns.findIndex((c, k) => c.type === 'STRING' && k !== edge?.from && k !== edge?.to && distinct(t.rows, k) <= 20)
    out.push({ kind: 'chart', time, values: values.slice(0, 4), series })
  }
  out.push({ kind: 'table' })
  return out
}

function distinct(rows: readonly unknown[][], col: number): number {
  return new Set(rows.map((r) => r[col])).size
}

/** One chart per value column: a line per series value (the 10 largest by sum), points in time order. */
export interface Chart {
  column: PxlColumn
  unit: ColumnUnit
  series: { labels: Record<string, string>; points: [number, number][] }[]
  /** Series left out (more than 10). */
  hidden: number
}

export function chartsOf(t: PxlTable, w: Extract<Widget, { kind: 'chart' }>): { from: number; until: number; charts: Chart[] } {
  let from = Infinity
  let until = -Infinity
  for (const r of t.rows) {
    const ms = cellTimeMs(r[w.time])
    if (Number.isFinite(ms)) (from = Math.min(from, ms)), (until = Math.max(until, ms))
  }
  if (!Number.isFinite(from)) (from = 0), (until = 1)
  if (until <= from) until = from + 1000
  const charts = w.values.map((v) => {
    const by = new Map<string, [number, number][]>()
    for (const r of t.rows) {
      const ms = cellTimeMs(r[w.time])
      const y = cellNumber(r[v])
      if (!Number.isFinite(ms) || !Number.isFinite(y)) continue
      const key = w.series >= 0 ? String(r[w.series] ?? '') : ''
      let pts = by.get(key)
      if (!pts) by.set(key, (pts = []))
      pts.push([ms, y])
    }
    const all = [...by.entries()].map(([key, points]) => ({
      labels: w.series >= 0 ? { [t.columns[w.series]!.name]: key } : {},
      points: points.sort((a, b) => a[0] - b[0]),
      sum: points.reduce((s, p) => s + p[1], 0),
    }))
    all.sort((a, b) => b.sum - a.sum)
    // The 10 largest, listed by name (their colours follow the name too, as on the timeline).
    const kept = all
      .slice(0, 10)
      .sort((a, b) => Object.values(a.labels).join().localeCompare(Object.values(b.labels).join()))
      .map(({ labels, points }) => ({ labels, points }))
    const column = t.columns[v]!
    return { column, unit: columnUnit(column), series: kept, hidden: all.length - kept.length }
  })
  return { from, until, charts }
}
