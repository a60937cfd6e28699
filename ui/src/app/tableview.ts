import { type Row, type SortKey, sortRows, filterRows, rowWindow, changeText, formatPoints } from '../lib/top.ts'
import { formatValue, formatPercent } from '../lib/format.ts'
import { nameParts } from '../lib/names.ts'
import { h, mount } from './dom.ts'

export interface TableViewOptions {
  /** Clicking a row focuses its function in the flame graph. */
  onFocus: (name: string) => void
  onSandwich: (name: string) => void
}

/** A diff's two side totals: the table shows each side's values as shares of its own total. */
export interface DiffTotals {
  left: number
  right: number
}

// Rows are rendered only where they are in view (a 100,000-function table would take seconds to
// build as DOM); this is the fixed row height (td.height in style.css) the window is computed with.
const ROW = 24
const OVERSCAN = 20

/** The top table: function, self, total (both sides and the change for a diff); sortable, filterable, every row reachable by scrolling. */
export class TableView {
  readonly el: HTMLDivElement
  private readonly scroller: HTMLDivElement
  private readonly filter: HTMLInputElement
  private rows: Row[] = []
  /** The filtered, sorted rows; the DOM holds only a window of them. */
  private shown: Row[] = []
  private total = 0
  private sides: DiffTotals | null = null
  private unit = ''
  private key: SortKey = 'self'
  private dir: 'asc' | 'desc' = 'desc'
  private focused = ''
  private window: [number, number] = [0, 0]
  private frame = 0
  private readonly top = h('div', { class: 'vspace' })
  private readonly bottom = h('div', { class: 'vspace' })
  private readonly tbody = h('tbody')
  private readonly thead = h('thead')
  private readonly note = h('div', { class: 'muted small table-note' })

  /** The handlers, replaceable: one table instance serves several tabs. */
  constructor(public opts: TableViewOptions) {
    this.filter = h('input', {
      type: 'search',
      placeholder: 'Filter functions…',
      class: 'table-filter',
      'data-testid': 'table-filter',
      oninput: () => this.render(),
    })
    this.scroller = h(
      'div',
      { class: 'table-scroll', 'data-testid': 'table-scroll' },
      this.top,
      h('table', { 'data-testid': 'top-table' }, this.thead, this.tbody),
      this.bottom,
      this.note,
    )
    this.scroller.addEventListener('scroll', () => {
      if (!this.frame) this.frame = requestAnimationFrame(() => ((this.frame = 0), this.renderWindow()))
    })
    this.el = h('div', { class: 'top-table' }, this.filter, this.scroller)
  }

  /** Shows rows; `sides` makes it a diff table (both sides as shares of their totals, and the change). */
  set(rows: Row[], total: number, unit: string, focused = '', sides: DiffTotals | null = null): void {
    this.rows = rows
    this.total = total
    this.unit = unit
    this.focused = focused
    this.sides = sides
    if (!sides && this.key !== 'name' && this.key !== 'self' && this.key !== 'total') this.key = 'self'
    if (sides && (this.key === 'self' || this.key === 'total')) this.key = 'delta'
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
    this.shown = sortRows(filterRows(this.rows, this.filter.value), this.key, this.dir)
    const head = (k: SortKey, label: string, title = '', cls = 'num') =>
      h(
        'th',
        { class: `${cls} sortable${this.key === k ? ' sorted' : ''}`, onclick: () => this.sortBy(k), 'data-sort': k, title: title || null },
        label,
        this.key === k ? (this.dir === 'asc' ? ' ▲' : ' ▼') : '',
      )
    if (this.sides) {
      // Two header rows: the side over its self and total (shares of that side's total).
      const group = (label: string, cls: string) => h('th', { class: `num group ${cls}`, colspan: 2 }, label)
      mount(
        this.thead,
        h('tr', null, h('th', { class: 'name' }), group('Baseline', 'lside'), group('Comparison', 'rside'), h('th'), h('th')),
        h(
          'tr',
          null,
          head('name', 'Function', '', 'name'),
          head('lself', 'Self', 'Baseline self, as a share of the baseline total'),
          head('ltotal', 'Total', 'Baseline total, as a share of the baseline total'),
          head('rself', 'Self', 'Comparison self, as a share of the comparison total'),
          head('rtotal', 'Total', 'Comparison total, as a share of the comparison total'),
          head('delta', 'Δ share', 'Comparison share of total − baseline share, in percentage points (sorted by size)'),
          head('change', 'Change', 'Relative change in the share of total: what the flame graph colours'),
        ),
      )
    } else
      mount(
        this.thead,
        h(
          'tr',
          null,
          head('name', 'Function', '', 'name'),
          head('self', 'Self'),
          h('th', { class: 'num' }, 'Self %'),
          head('total', 'Total'),
          h('th', { class: 'num' }, 'Total %'),
        ),
      )
    this.note.textContent = this.shown.length === 0 ? 'No function matches the filter.' : ''
    this.window = [0, 0]
    this.renderWindow(true)
  }

  /** Renders the rows in view; the spacers above and below keep the scroll height of all rows. */
  private renderWindow(force = false): void {
    const w = rowWindow({
      scrollTop: this.scroller.scrollTop,
      height: this.scroller.clientHeight || 600,
      rowHeight: ROW,
      count: this.shown.length,
      overscan: OVERSCAN,
    })
    if (!force && w[0] === this.window[0] && w[1] === this.window[1]) return
    this.window = w
    this.top.style.height = `${w[0] * ROW}px`
    this.bottom.style.height = `${(this.shown.length - w[1]) * ROW}px`
    mount(
      this.tbody,
      this.shown.slice(w[0], w[1]).map((r) => this.row(r)),
    )
  }

  private row(r: Row): HTMLTableRowElement {
    const u = (v: number) => formatValue(v, this.unit)
    const pct = (v: number, t: number) => formatPercent(t ? v / t : 0)
    const share = (v: number, t: number, side: string) => h('td', { class: 'num', title: `${side}: ${u(v)}` }, pct(v, t))
    const d = this.sides
    return h(
      'tr',
      {
        class: r.name === this.focused ? 'focused' : null,
        onclick: () => this.opts.onFocus(r.name),
        title: 'Click: focus in the flame graph',
      },
      h(
        'td',
        { class: 'name', title: r.name },
        nameCell(r.name),
        h(
          'button',
          {
            class: 'mini',
            title: 'Sandwich view: callers and callees',
            onclick: (e: Event) => (e.stopPropagation(), this.opts.onSandwich(r.name)),
          },
          '⇅',
        ),
      ),
      d
        ? [
            share(r.left!.self, d.left, 'Baseline self'),
            share(r.left!.total, d.left, 'Baseline total'),
            share(r.right!.self, d.right, 'Comparison self'),
            share(r.right!.total, d.right, 'Comparison total'),
            h('td', { class: `num ${r.delta! > 0 ? 'more' : r.delta! < 0 ? 'less' : ''}`, 'data-col': 'delta' }, formatPoints(r.delta!)),
            h('td', { class: `num ${r.change! > 0 ? 'more' : r.change! < 0 ? 'less' : ''}`, 'data-col': 'change' }, changeText(r, d)),
          ]
        : [
            h('td', { class: 'num' }, u(r.self)),
            h('td', { class: 'num' }, pct(r.self, this.total)),
            h('td', { class: 'num' }, u(r.total)),
            h('td', { class: 'num' }, pct(r.total, this.total)),
          ],
    )
  }
}

/** The function, then its file muted: the cell cuts the file side when narrow (CSS ellipsis). */
export function nameCell(name: string): (HTMLElement | string)[] {
  const { fn, file } = nameParts(name)
  return [h('span', { class: 'fn' }, fn), file ? h('span', { class: 'file' }, ' ', file) : '']
}
