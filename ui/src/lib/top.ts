import { topTable } from '../../../src/model/tree.ts'
import { type Flame, flameToTree } from './flame.ts'
import { shareChange } from './color.ts'

/** One top-table row; for a diff, the two sides, their totals, and the change in share of total. */
export interface Row {
  name: string
  self: number
  total: number
  left?: { self: number; total: number }
  right?: { self: number; total: number }
  /** Change in the function's share of its side's total (its total, recursion once): what the diff flame graph's colour shows. */
  change?: number
}

/** The top table of a flame graph (recursion counted once in total), both sides for a diff. */
export function topRows(f: Flame): Row[] {
  if (!f.diff) return topTable(flameToTree(f))
  const d = f.diff
  const rows = new Map<string, Row>()
  const zero = { self: 0, total: 0 }
  for (const side of ['left', 'right'] as const) {
    for (const r of topTable(flameToTree(f, side))) {
      let row = rows.get(r.name)
      if (!row) rows.set(r.name, (row = { name: r.name, self: 0, total: 0, left: zero, right: zero }))
      row[side] = { self: r.self, total: r.total }
      row.self += r.self
      row.total += r.total
    }
  }
  const out = [...rows.values()]
  for (const r of out) r.change = shareChange(r.left!.total, r.right!.total, d.leftTicks, d.rightTicks)
  return sortRows(out, 'self', 'desc')
}

/** Columns to sort by; `lself`… are a diff's sides (a side's share orders as its value). */
export type SortKey = 'name' | 'self' | 'total' | 'change' | 'lself' | 'ltotal' | 'rself' | 'rtotal'

function sortValue(r: Row, key: Exclude<SortKey, 'name'>): number {
  switch (key) {
    case 'change':
      return r.change ?? 0
    case 'lself':
      return r.left?.self ?? 0
    case 'ltotal':
      return r.left?.total ?? 0
    case 'rself':
      return r.right?.self ?? 0
    case 'rtotal':
      return r.right?.total ?? 0
    default:
      return r[key]
  }
}

/** Rows sorted by a column (ties by name), as a new array. */
export function sortRows(rows: readonly Row[], key: SortKey, dir: 'asc' | 'desc'): Row[] {
  const s = dir === 'asc' ? 1 : -1
  const val = (r: Row): number => (key === 'name' ? 0 : sortValue(r, key))
  return [...rows].sort((a, b) => {
    const c = key === 'name' ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : val(a) === val(b) ? 0 : val(a) < val(b) ? -1 : 1
    return c * s || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  })
}

/** Rows whose name contains `text` (case-insensitive). */
export function filterRows(rows: readonly Row[], text: string): Row[] {
  const t = text.trim().toLowerCase()
  return t ? rows.filter((r) => r.name.toLowerCase().includes(t)) : [...rows]
}

/**
 * The rows to render in a virtualised table: those in view at `scrollTop` (px, below the header)
 * in a viewport `height` px tall, plus `overscan` rows each side, as [start, end).
 */
export function rowWindow(o: { scrollTop: number; height: number; rowHeight: number; count: number; overscan: number }): [number, number] {
  const first = Math.floor(Math.max(0, o.scrollTop) / o.rowHeight)
  const start = Math.max(0, Math.min(o.count, first - o.overscan))
  const end = Math.min(o.count, first + Math.ceil(Math.max(0, o.height) / o.rowHeight) + o.overscan)
  return [start, Math.max(start, end)]
}
