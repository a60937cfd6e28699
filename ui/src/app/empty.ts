import type { ViewState } from '../lib/viewstate.ts'
import { firstProfileCommand, noDataText, rangeAround } from '../lib/empty.ts'
import { ApiError } from './api.ts'
import { h } from './dom.ts'

/** What the store holds over all time (Pyroscope's GetProfileStats, over Connect JSON): unix ms, 0 when empty. */
export async function profileStats(): Promise<{ oldest: number; newest: number }> {
  const res = await fetch('/querier.v1.QuerierService/GetProfileStats', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  })
  if (!res.ok) throw new ApiError(`HTTP_${res.status}`, await res.text(), res.status)
  const b = (await res.json()) as { dataIngested?: boolean; oldestProfileTime?: string | number; newestProfileTime?: string | number }
  return b.dataIngested ? { oldest: Number(b.oldestProfileTime ?? 0), newest: Number(b.newestProfileTime ?? 0) } : { oldest: 0, newest: 0 }
}

/** The content when the store has data, but not in the chosen range (the header's pickers stay). */
export function noDataInRange(o: {
  from: number
  until: number
  newest: number
  service: string
  go: (p: Partial<ViewState>) => void
}): HTMLElement {
  return h(
    'div',
    { class: 'empty', 'data-testid': 'no-data' },
    h('h2', null, o.service ? `No profiles of ${o.service} in this range` : 'No profiles in this range'),
    h('p', { 'data-testid': 'no-data-text' }, noDataText(o.from, o.until, o.newest)),
    h(
      'button',
      { 'data-testid': 'go-latest', onclick: () => o.go({ ...rangeAround(o.newest), zoom: '' }) },
      'Show the hour up to the latest data',
    ),
    ' ',
    h('button', { onclick: () => o.go({ from: 'now-7d', until: 'now', zoom: '' }) }, 'Last 7 days'),
    h('p', { class: 'muted small' }, 'Or choose another service, profile type or range above.'),
  )
}

/** The content when the store is empty: the server's own profile is on its way; how to send one. */
export function emptyStore(o: { origin: string; refresh: () => void }): HTMLElement {
  const cmd = firstProfileCommand(o.origin)
  return h(
    'div',
    { class: 'empty', 'data-testid': 'empty' },
    h('h2', null, 'No profiles yet'),
    h(
      'p',
      { 'data-testid': 'collecting' },
      'Collecting: unless started with ',
      h('code', null, '--no-self-profile'),
      ', the server profiles itself and its own service, ',
      h('code', null, 'kiln'),
      ', shows up here within a few seconds. This page looks again every 2 s.',
    ),
    h(
      'p',
      null,
      'Send profiles of your own — from a Pyroscope SDK, ',
      h('code', null, '@kiln/node'),
      ', ',
      h('code', null, 'kiln agent'),
      ', or by hand:',
    ),
    h('pre', { class: 'command' }, h('code', null, cmd)),
    h(
      'button',
      { onclick: (e: Event) => void navigator.clipboard?.writeText(cmd).then(() => ((e.target as HTMLElement).textContent = 'Copied')) },
      'Copy command',
    ),
    ' ',
    h('button', { onclick: () => o.refresh() }, 'Refresh'),
  )
}
