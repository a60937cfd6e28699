/** The profiles page's header: service, profile type, label selector and time range pickers. */
import type { ViewState } from '../lib/viewstate.ts'
import { profileTypeLabel, timeText } from '../lib/format.ts'
import { typeGroups } from '../lib/types.ts'
import type { ProfileType } from './api.ts'
import { h } from './dom.ts'
import { selectorEditor } from './selector.ts'
import type { Ctx } from './views.ts'

const presets: [string, string][] = [
  ['now-5m', 'Last 5 minutes'],
  ['now-15m', 'Last 15 minutes'],
  ['now-1h', 'Last 1 hour'],
  ['now-6h', 'Last 6 hours'],
  ['now-24h', 'Last 24 hours'],
  ['now-7d', 'Last 7 days'],
]

export interface PickerInput {
  state: ViewState
  services: string[]
  types: ProfileType[]
  /** Why the URL's range cannot be read ('' when it can): the field is marked. */
  rangeError: string
  /** Label names and values for the selector, within the chosen service. */
  suggest: Ctx['suggest']
  go: (patch: Partial<ViewState>) => void
  /** Called while the selector is edited (stale errors go). */
  onEdit: () => void
}

/** The pickers between the page links and the header's buttons. */
export function profilePickers(o: PickerInput): HTMLElement[] {
  const s = o.state
  const preset = presets.some(([v]) => v === s.from) && s.until === 'now' ? s.from : ''
  const bad = o.rangeError
  const from = h('input', {
    class: `time${bad ? ' invalid' : ''}`,
    value: timeText(s.from),
    'data-testid': 'from',
    title: bad ? `${bad} — showing the last hour meanwhile` : 'From: now-1h, unix seconds/ms, or an ISO date',
    'aria-invalid': bad ? 'true' : null,
  })
  const until = h('input', { class: 'time', value: timeText(s.until), 'data-testid': 'until', title: 'Until' })
  const applyTime = () => o.go({ from: from.value.trim() || 'now-1h', until: until.value.trim() || 'now' })
  from.addEventListener('keydown', (e) => e.key === 'Enter' && applyTime())
  until.addEventListener('keydown', (e) => e.key === 'Enter' && applyTime())
  return [
    h(
      'select',
      {
        'data-testid': 'service',
        title: 'Service',
        onchange: (e: Event) => o.go({ service: (e.target as HTMLSelectElement).value, zoom: '', fn: '' }),
      },
      [
        ...(o.services.includes(s.service)
          ? []
          : [h('option', { value: s.service, selected: true, disabled: true }, s.service || 'Service…')]),
        ...o.services.map((v) => h('option', { value: v, selected: v === s.service }, v)),
      ],
    ),
    h(
      'select',
      {
        'data-testid': 'profile-type',
        title: `Profile type: ${profileTypeLabel(s.type)}`,
        onchange: (e: Event) => o.go({ type: (e.target as HTMLSelectElement).value, zoom: '', fn: '' }),
      },
      typeGroups(o.types).map((g) =>
        h(
          'optgroup',
          { label: g.name },
          g.options.map((t) =>
            h('option', { value: t.type.id, selected: t.type.id === s.type, title: t.type.id }, `${g.name} · ${t.label}`),
          ),
        ),
      ),
    ),
    selectorEditor({ value: s.query, suggest: o.suggest, onApply: (q) => q !== s.query && o.go({ query: q, zoom: '' }), onEdit: o.onEdit }),
    h(
      'div',
      { class: 'timepick' },
      h(
        'select',
        { 'data-testid': 'preset', onchange: (e: Event) => o.go({ from: (e.target as HTMLSelectElement).value, until: 'now' }) },
        h('option', { value: '', selected: !preset, disabled: true }, 'Custom range'),
        presets.map(([v, l]) => h('option', { value: v, selected: v === preset }, l)),
      ),
      from,
      h('span', { class: 'muted' }, '→'),
      until,
      h('button', { onclick: applyTime, title: 'Apply the time range' }, 'Go'),
      bad
        ? h('span', { class: 'field-error-inline', 'data-testid': 'range-error', title: bad }, 'unreadable time: showing the last hour')
        : null,
    ),
  ]
}
