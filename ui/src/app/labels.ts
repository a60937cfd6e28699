import type { Breakdown } from './api.ts'
import { formatValue, formatPercent } from '../lib/format.ts'
import { valueColor } from '../lib/series.ts'
import { h } from './dom.ts'

/** The label explorer's body: the share of each value of one label as bars and a table; a click filters by the value. */
export function labelBreakdown(b: Breakdown, unit: string, onPick: (value: string) => void): HTMLElement {
  const values = [...b.values].sort((x, y) => y.total - x.total)
  const max = values[0]?.share ?? 1
  return h(
    'div',
    { class: 'breakdown', 'data-testid': 'label-breakdown' },
    h(
      'div',
      { class: 'bars' },
      values.map((v) =>
        h(
          'div',
          { class: 'bar-row', onclick: () => onPick(v.value), title: `Filter by ${b.name}="${v.value}"` },
          h('span', { class: 'bar-label' }, v.value || '(none)'),
          h(
            'span',
            { class: 'bar-track' },
            h('span', {
              class: 'bar',
              style: {
                width: `${(v.share / (max || 1)) * 100}%`,
                background: valueColor(
                  values.map((x) => x.value),
                  v.value,
                ),
              },
            }),
          ),
          h('span', { class: 'bar-share' }, formatPercent(v.share)),
        ),
      ),
    ),
    h(
      'table',
      null,
      h(
        'thead',
        null,
        h('tr', null, h('th', { class: 'name' }, b.name), h('th', { class: 'num' }, 'Total'), h('th', { class: 'num' }, 'Share')),
      ),
      h(
        'tbody',
        null,
        values.map((v) =>
          h(
            'tr',
            { onclick: () => onPick(v.value) },
            h('td', { class: 'name' }, v.value || '(none)'),
            h('td', { class: 'num' }, formatValue(v.total, unit)),
            h('td', { class: 'num' }, formatPercent(v.share)),
          ),
        ),
      ),
    ),
  )
}
