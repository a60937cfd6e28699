/** The bar over the timeline (auto-refresh, group by, which diff side a drag chooses) and the diff's marks on it. */
import { type ViewState, type diffSides, userLabels } from '../lib/viewstate.ts'
import { parseTime } from '../../../src/model/time.ts'
import { h } from './dom.ts'

export const refreshes: [string, string][] = [
  ['', 'off'],
  ['5s', 'every 5 s'],
  ['10s', 'every 10 s'],
  ['30s', 'every 30 s'],
  ['1m', 'every minute'],
  ['5m', 'every 5 min'],
]

export type Brush = 'baseline' | 'comparison'

/** "Drag to choose the [Baseline|Comparison] range": which side the next drag sets. */
function brushPicker(brush: Brush, pick: (side: Brush) => void): HTMLElement {
  const seg = (side: Brush, label: string) =>
    h(
      'button',
      {
        class: `seg ${side}${brush === side ? ' active' : ''}`,
        'data-testid': `brush-${side}`,
        'aria-pressed': String(brush === side),
        onclick: () => pick(side),
      },
      label,
    )
  return h(
    'span',
    { class: 'small brush-picker' },
    h('span', { class: 'muted' }, 'Drag on the timeline to choose the '),
    seg('baseline', 'Baseline'),
    seg('comparison', 'Comparison'),
    h('span', { class: 'muted' }, ' range'),
  )
}

/** The bar: what a drag does, auto-refresh and group-by (among the service's own labels). */
export function timelineBar(o: {
  state: ViewState
  labelNames: string[]
  brush: Brush
  pickBrush: (side: Brush) => void
  go: (patch: Partial<ViewState>, replace?: boolean) => void
}): HTMLElement {
  const s = o.state
  return h(
    'div',
    { class: 'timeline-bar' },
    s.view === 'diff' ? brushPicker(o.brush, o.pickBrush) : h('span', { class: 'muted small' }, 'Drag across the timeline to zoom in'),
    h('span', { class: 'spacer' }),
    h(
      'label',
      { class: 'small', title: 'Ask the server again every …; relative ranges (now-1h) move with the clock' },
      'Auto-refresh ',
      h(
        'select',
        { 'data-testid': 'auto-refresh', onchange: (e: Event) => o.go({ refresh: (e.target as HTMLSelectElement).value }, true) },
        refreshes.map(([v, l]) => h('option', { value: v, selected: v === s.refresh }, l)),
      ),
    ),
    h(
      'label',
      { class: 'small' },
      'Group by ',
      h(
        'select',
        { 'data-testid': 'group-by', onchange: (e: Event) => o.go({ groupBy: (e.target as HTMLSelectElement).value }) },
        h('option', { value: '' }, '(none)'),
        userLabels(o.labelNames, s.service).map((n) => h('option', { value: n, selected: n === s.groupBy }, n)),
      ),
    ),
  )
}

/** The diff's two ranges as timeline marks (unreadable times are left out: the diff view reports them). */
export function diffMarks(d: ReturnType<typeof diffSides>, now: number): { from: number; until: number; cls: string; label: string }[] {
  const mark = (from: string, until: string, cls: string, label: string) => {
    try {
      return [{ from: parseTime(from, now), until: parseTime(until, now), cls, label }]
    } catch {
      return []
    }
  }
  return [...mark(d.lfrom, d.luntil, 'baseline', 'Baseline'), ...mark(d.rfrom, d.runtil, 'comparison', 'Comparison')]
}
