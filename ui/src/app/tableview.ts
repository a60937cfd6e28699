import { type Row, type SortKey, sortRows, filterRows } from '../lib/top.ts'
import { formatValue, formatPercent, formatChange } from '../lib/format.ts'
import { shortName } from '../lib/paint.ts'
import { h, mount } from './dom.ts'

export interface TableViewOptions {
  /** Clicking a row focuses its function in the flame graph. */
  onFocus: (name: string) => void
  onSandwich: (name: string) => void
}

// Rendering every row of a 100,000-function table would stall the page; the filter finds the rest.
const MAX_ROWS = 500

/** The top table: function, self, total (both sides and the change for a diff); sortable and filterable. */
export class TableView {
  readonly el: HTMLDivElement
  private readonly body: HTMLDivElement
  private readonly filter: HTMLInputElement
  private rows: Row[] = []
  private total = 0
  private unit = ''
  private key: SortKey = 'self'
  private dir: 'asc' | 'desc' = 'desc'
  private focused = ''

  /** The handlers, replaceable: one table instance serves several tabs. */
  constructor(public opts: TableViewOptions) {
    this.filter = h('input', { type: 'search', placeholder: 'Filter functions…', class: 'table-filter', 'data-testid': 'table-filter', oninput: () => this.render() })
    this.body = h('div', { class: 'table-scroll' })
    this.el = h('div', { class: 'top-table' }, this.filter, this.body)
  }

  set(rows: Row[], total: number, unit: string, focused = ''): void {
    this.rows = rows
    this.total = total
    this.unit = unit
    this.focused = focused
    this.render()
  }

  private sortBy(k: SortKey): void {
    if (this.key === k) this.dir = this.dir === 'asc' ? 'desc' : 'asc'
    else {
      this.key = k
      this.dir = k === 'name' ? 'asc' : 'desc'
    }
    this.render()
  }

  private render(): void {
    const diff = this.rows.some((r) => r.left)
    const rows = sortRows(filterRows(this.rows, this.filter.value), this.key, this.dir)
    const u = (v: number) => formatValue(v, this.unit)
    const pct = (v: number) => formatPercent(this.total ? v / this.total : 0)
    const head = (k: SortKey, label: string, cls = 'num') =>
      h('th', { class: `${cls} sortable${this.key === k ? ' sorted' : ''}`, onclick: () => this.sortBy(k), 'data-sort': k }, label, this.key === k ? (this.dir === 'asc' ? ' ▲' : ' ▼') : '')
    const cols = diff
      ? [head('name', 'Function', 'name'), h('th', { class: 'num' }, 'Baseline'), h('th', { class: 'num' }, 'Comparison'), head('change', 'Change')]
      : [head('name', 'Function', 'name'), head('self', 'Self'), h('th', { class: 'num' }, 'Self %'), head('total', 'Total'), h('th', { class: 'num' }, 'Total %')]
    const trs = rows.slice(0, MAX_ROWS).map((r) =>
      h(
        'tr',
        { class: r.name === this.focused ? 'focused' : null, onclick: () => this.opts.onFocus(r.name), title: 'Click: focus in the flame graph' },
        h('td', { class: 'name', title: r.name }, h('span', { class: 'fn' }, shortName(r.name)), h('button', { class: 'mini', title: 'Sandwich view: callers and callees', onclick: (e: Event) => (e.stopPropagation(), this.opts.onSandwich(r.name)) }, '⇅')),
        diff
          ? [h('td', { class: 'num' }, u(r.left!.self)), h('td', { class: 'num' }, u(r.right!.self)), h('td', { class: `num ${r.change! > 0 ? 'more' : r.change! < 0 ? 'less' : ''}` }, formatChange(r.change!))]
          : [h('td', { class: 'num' }, u(r.self)), h('td', { class: 'num' }, pct(r.self)), h('td', { class: 'num' }, u(r.total)), h('td', { class: 'num' }, pct(r.total))],
      ),
    )
    mount(
      this.body,
      h('table', { 'data-testid': 'top-table' }, h('thead', null, h('tr', null, cols)), h('tbody', null, trs)),
      rows.length > MAX_ROWS ? h('div', { class: 'muted small' }, `${rows.length - MAX_ROWS} more functions: filter to find them.`) : null,
      rows.length === 0 ? h('div', { class: 'muted small' }, 'No function matches the filter.') : null,
    )
  }
}
