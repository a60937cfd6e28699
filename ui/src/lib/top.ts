import { topTable } from '../../../src/model/tree.ts'
import { type Flame, flameToTree } from './flame.ts'
import { shareChange } from './color.ts'

/** One top-table row; for a diff, the two sides and the change in share of total. */
export interface Row {
  name: string
  self: number
  total: number
  left?: { self: number; total: number }
  right?: { self: number; total: number }
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
  for (const r of out) r.change = shareChange(r.left!.self, r.right!.self, d.leftTicks, d.rightTicks)
  return sortRows(out, 'self', 'desc')
}

export type SortKey = 'name' | 'self' | 'total' | 'change'

/** Rows sorted by a column (ties by name), as a new array. */
export function sortRows(rows: readonly Row[], key: SortKey, dir: 'asc' | 'desc'): Row[] {
  const s = dir === 'asc' ? 1 : -1
  const val = (r: Row): number => (key === 'change' ? (r.change ?? 0) : key === 'name' ? 0 : r[key])
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
