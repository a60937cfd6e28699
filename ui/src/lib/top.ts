import { topTable } from '../../../src/model/tree.ts'
import { type Flame, flameToTree } from './flame.ts'
import { shareChange } from './color.ts'
import { formatChange, formatPercent } from './format.ts'

/** One top-table row; for a diff, the two sides, their totals, and the change in share of total. */
export interface Row {
  name: string
  self: number
  total: number
  left?: { self: number; total: number }
  right?: { self: number; total: number }
  /** Change in the function's share of its side's total (its total, recursion once): what the diff flame graph's colour shows. */
  change?: number
  /** Change in that share in absolute terms (right share − left share, 0.1 = 10 points): the diff table's default order, by size. */
  delta?: number
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
  for (const r of out) {
    r.change = shareChange(r.left!.total, r.right!.total, d.leftTicks, d.rightTicks)
    r.delta = (d.rightTicks ? r.right!.total / d.rightTicks : 0) - (d.leftTicks ? r.left!.total / d.leftTicks : 0)
  }
  return sortRows(out, 'self', 'desc')
}

/** Columns to sort by; `lself`… are a diff's sides (a side's share orders as its value). */
export type SortKey = 'name' | 'self' | 'total' | 'change' | 'delta' | 'lself' | 'ltotal' | 'rself' | 'rtotal'

function sortValue(r: Row, key: Exclude<SortKey, 'name'>): number {
  switch (key) {
    case 'change':
      return r.change ?? 0
    case 'delta':
      // By size: a function that went from 30% to 50% comes before one that went from 0 to 0.1%.
      return Math.abs(r.delta ?? 0)
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

/**
 * A diff row's change as the table shows it: the relative change in share (`+66.7%`), and for a
 * function on one side only its share there (`new, 10%`, `gone, 0.1%`), so that a tiny new
 * function does not read like a big one.
 */
export function changeText(r: Row, sides: { left: number; right: number }): string {
  const share = (v: number, t: number) => formatPercent(t ? v / t : 0)
  if (r.change === Infinity) return `new, ${share(r.right!.total, sides.right)}`
  if (r.change !== undefined && r.change <= -1) return `gone, ${share(r.left!.total, sides.left)}`
  return formatChange(r.change ?? 0)
}

/** A difference of two shares in percentage points: `+20 pp`, `-0.1 pp`, `±0 pp`. */
export function formatPoints(delta: number): string {
  if (delta === 0) return '±0 pp'
  return `${delta > 0 ? '+' : '-'}${formatPercent(Math.abs(delta)).replace('%', '')} pp`
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
