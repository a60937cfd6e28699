import { type ViewState, effectiveQuery, withMatcher, userLabels, diffSides } from '../lib/viewstate.ts'
import type { Theme } from '../lib/color.ts'
import { type Flame, toFlame, pathOf } from '../lib/flame.ts'
import { search, widestNamed, type Matches } from '../lib/layout.ts'
import { topRows, type Row } from '../lib/top.ts'
import { sandwich } from '../lib/sandwich.ts'
import { formatPercent, timeText } from '../lib/format.ts'
import { exportName, exportTitle, type ExportWhat } from '../lib/exportname.ts'
import type { ApiCache } from './cache.ts'
import { ApiError, apiUrl, type FlameResponse, type DiffResponse, type Breakdown, type TopResponse } from './api.ts'
import { FlameView } from './flameview.ts'
import { TableView, nameCell } from './tableview.ts'
import { labelBreakdown } from './labels.ts'
import { selectorEditor, type Suggest } from './selector.ts'
import { h, mount, download } from './dom.ts'

/** What a view needs from the shell. */
export interface Ctx {
  state: ViewState
  query: string
  theme: Theme
  cache: ApiCache
  go: (patch: Partial<ViewState>, replace?: boolean) => void
  error: (e: unknown) => void
  range: { from: number; until: number }
  /** The range as sent to the API (relative times resolved at the last load or refresh). */
  from: string
  until: string
  /** Resolves a relative time the same way. */
  at: (t: string) => string
  unit: string
  views: { main?: FlameView; table?: TableView; callers?: FlameView; callees?: FlameView }
  changed: (part: string, key: string) => boolean
  suggest: Suggest
  /** True once a newer update started: a slow response must not replace a newer view. */
  stale: () => boolean
}

interface Loaded {
  flame: Flame
  unit: string
  rows: Row[]
}
// A diff's table comes from its flame graph (both sides on one layout); a single profile's table
// comes exact from /api/v1/top, as the flame graph merges small nodes into "other".
const loaded = (r: FlameResponse | DiffResponse): Loaded => {
  const flame = toFlame(r.flamegraph)
  return { flame, unit: r.unit, rows: flame.diff ? topRows(flame) : [] }
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** Renders the current tab into `el`, reusing the canvas and table when only zoom or search changed. */
export async function renderContent(el: HTMLElement, c: Ctx): Promise<void> {
  const s = c.state
  try {
    if (s.view === 'diff') return await diffView(el, c)
    if (s.view === 'labels') return await labelsView(el, c)
    const params = { type: s.type, query: c.query, from: c.from, until: c.until }
    const [graph, top] = await Promise.all([
      c.cache.load<FlameResponse, Loaded>('flamegraph', { ...params, maxNodes: s.maxNodes }, loaded),
      c.cache.load<TopResponse>('top', params),
    ])
    if (c.stale()) return
    const data = { ...graph, rows: top.rows }
    if (s.view === 'sandwich') return sandwichView(el, c, data)
    singleView(el, c, data, ['both', 'flame', 'table'].includes(s.view) ? s.view : 'both')
  } catch (e) {
    c.changed('content', '')
    c.error(e)
  }
}

/** What the data exports (the main range) and the picture exports (the view: a diff's two sides) show. */
function exportsOf(c: Ctx): { data: ExportWhat; picture: ExportWhat } {
  const s = c.state
  const data = { service: s.service, type: s.type, from: Number(c.from) || c.range.from, until: Number(c.until) || c.range.until }
  if (s.view !== 'diff') return { data, picture: data }
  const d = diffSides(s, c.range)
  const t = (x: string) => Number(c.at(x))
  return { data, picture: { ...data, from: t(d.rfrom), until: t(d.runtil), baseline: [t(d.lfrom), t(d.luntil)] } }
}

/** Downloads an export from the API under a name that says what it holds (the server's names carry no service). */
async function saveExport(c: Ctx, href: string, name: string): Promise<void> {
  try {
    const res = await fetch(href)
    if (!res.ok) throw new ApiError(`HTTP_${res.status}`, (await res.text()).slice(0, 300), res.status)
    download(name, await res.blob())
  } catch (e) {
    c.error(e)
  }
}

/** Search box + match share, orientation, reset and export: the flame graph's toolbar. */
function toolbar(c: Ctx, m: Matches | null, badRe: boolean, extra: (Node | string)[] = []): HTMLElement {
  const s = c.state
  const input = h('input', {
    type: 'search',
    class: `search${badRe ? ' invalid' : ''}`,
    placeholder: 'Search (regex)',
    value: s.search,
    'data-testid': 'search',
    title: 'A regular expression over function names',
  })
  input.addEventListener('keydown', (e) => e.key === 'Enter' && c.go({ search: input.value }, true))
  input.addEventListener('search', () => c.go({ search: input.value }, true))
  const dataParams = { type: s.type, query: c.query, from: c.from, until: c.until }
  const what = exportsOf(c)
  const dataName = exportName(what.data)
  const picName = exportName(what.picture)
  const heading = exportTitle(what.picture)
  const ext: Record<string, string> = { pprof: 'pb.gz', folded: 'folded', speedscope: 'speedscope.json' }
  const exp = (format: string, label: string) => {
    const href = apiUrl('export', { format, ...dataParams })
    return h(
      'a',
      {
        class: 'button',
        href,
        download: `${dataName}.${ext[format]}`,
        'data-testid': `export-${format}`,
        onclick: (e: Event) => (e.preventDefault(), void saveExport(c, href, `${dataName}.${ext[format]}`)),
      },
      label,
    )
  }
  return h(
    'div',
    { class: 'toolbar' },
    input,
    m
      ? h('span', { class: 'match-info', 'data-testid': 'match-info' }, `${m.count} frames match · ${formatPercent(m.share)} of total`)
      : badRe
        ? h('span', { class: 'field-error-inline' }, 'invalid regular expression')
        : null,
    h('span', { class: 'spacer' }),
    ...extra,
    h(
      'button',
      {
        'data-testid': 'orientation',
        title: 'Flame: root at the bottom; icicle: root at the top',
        onclick: () => c.go({ orientation: s.orientation === 'icicle' ? 'flame' : 'icicle' }, true),
      },
      s.orientation === 'icicle' ? 'Icicle ⇵' : 'Flame ⇵',
    ),
    h('button', { 'data-testid': 'reset', onclick: () => c.go({ zoom: '', search: '' }) }, 'Reset'),
    h(
      'details',
      { class: 'menu' },
      h('summary', { class: 'button' }, 'Export'),
      h(
        'div',
        // Choosing an item closes the menu.
        { class: 'menu-items', onclick: (e: Event) => (e.currentTarget as HTMLElement).parentElement!.removeAttribute('open') },
        exp('pprof', 'pprof (.pb.gz)'),
        exp('folded', 'Folded stacks'),
        exp('speedscope', 'speedscope JSON'),
        h(
          'button',
          {
            'data-testid': 'export-svg',
            onclick: () => c.views.main && download(`${picName}.svg`, c.views.main.toSvg(heading), 'image/svg+xml'),
          },
          'SVG flame graph',
        ),
        h(
          'button',
          { 'data-testid': 'export-png', onclick: () => void c.views.main?.png(heading).then((b) => b && download(`${picName}.png`, b)) },
          'PNG image',
        ),
      ),
    ),
  )
}

// The last search per graph: zooming must not search 100,000 frames again.
const lastSearch = new WeakMap<Flame, { text: string; m: Matches | null; bad: boolean }>()

function matchesOf(f: Flame, text: string): { m: Matches | null; bad: boolean } {
  if (!text) return { m: null, bad: false }
  const last = lastSearch.get(f)
  if (last && last.text === text) return last
  let r: { text: string; m: Matches | null; bad: boolean }
  try {
    r = { text, m: search(f, new RegExp(text, 'i')), bad: false }
  } catch {
    r = { text, m: null, bad: true }
  }
  lastSearch.set(f, r)
  return r
}

function flameView(c: Ctx, key: 'main' | 'callers' | 'callees', onZoom: (p: string[]) => void): FlameView {
  const v = (c.views[key] ??= new FlameView({ onZoom, onSandwich: (fn) => c.go({ view: 'sandwich', fn }) }))
  v.opts.onZoom = onZoom
  return v
}

function tableView(c: Ctx, onFocus: (name: string) => void): TableView {
  const t = (c.views.table ??= new TableView({ onFocus, onSandwich: (fn) => c.go({ view: 'sandwich', fn }) }))
  t.opts.onFocus = onFocus
  return t
}

/** Clicking a table row: zoom to the function's widest frame and highlight all its frames. */
function focus(c: Ctx, f: Flame, name: string): void {
  const i = widestNamed(f, name)
  c.go({ zoom: i > 0 ? pathOf(f, i).join(';') : '', search: `^${escapeRe(name)}$`, view: c.state.view === 'table' ? 'both' : c.state.view })
}

function singleView(el: HTMLElement, c: Ctx, d: Loaded, view: 'both' | 'flame' | 'table'): void {
  const s = c.state
  const { m, bad } = matchesOf(d.flame, s.search)
  const fv = flameView(c, 'main', (p) => c.go({ zoom: p.join(';') }))
  const tv = tableView(c, (n) => focus(c, d.flame, n))
  fv.set({ flame: d.flame, unit: d.unit, theme: c.theme, orientation: s.orientation, zoom: s.zoom ? s.zoom.split(';') : [], matches: m })
  const focused = /^\^(.*)\$$/.exec(s.search)?.[1]?.replace(/\\(.)/g, '$1') ?? ''
  if (c.changed('table', JSON.stringify([s.type, c.query, c.from, c.until, focused, d.rows.length])))
    tv.set(d.rows, d.flame.rootTotal, d.unit, focused)
  // Not the range: a refresh updates the graph and the table in place (the table keeps its scroll).
  placeContent(
    el,
    c,
    JSON.stringify([view, s.type, c.query]),
    () => toolbar(c, m, bad),
    (bar) => [
      bar,
      h(
        'div',
        { class: `panes ${view}` },
        view !== 'flame' ? h('div', { class: 'pane table-pane' }, tv.el) : null,
        view !== 'table' ? h('div', { class: 'pane flame-pane' }, h('div', { class: 'graph' }, fv.el)) : null,
      ),
    ],
  )
}

/**
 * Mounts a view's content when its data changed; otherwise only swaps the toolbar, and only when
 * what it shows changed, so that zooming a big graph rebuilds no DOM.
 */
function placeContent(
  el: HTMLElement,
  c: Ctx,
  contentKey: string,
  bar: () => HTMLElement,
  content: (bar: HTMLElement) => HTMLElement[],
): void {
  const s = c.state
  // The export links carry the range.
  const barKey = JSON.stringify([s.search, s.orientation, c.theme, c.from, c.until])
  const current = el.querySelector(':scope > .toolbar')
  if (c.changed('content', contentKey) || !current) {
    c.changed('toolbar', barKey)
    mount(el, content(bar()))
  } else if (c.changed('toolbar', barKey)) current.replaceWith(bar())
  // Zooming only enables or disables Reset: an attribute, not a new toolbar.
  const reset = el.querySelector<HTMLButtonElement>(':scope > .toolbar [data-testid=reset]')
  if (reset) reset.disabled = !s.zoom && !s.search
}

function sandwichView(el: HTMLElement, c: Ctx, d: Loaded): void {
  const s = c.state
  const fn = s.fn && d.flame.names.includes(s.fn) ? s.fn : (d.rows[0]?.name ?? '')
  const key = JSON.stringify(['sandwich', s.type, c.query, c.from, c.until, fn, c.theme])
  const tv = tableView(c, (n) => c.go({ fn: n }))
  if (c.changed('table', JSON.stringify(['sw', s.type, c.query, c.from, c.until, fn]))) tv.set(d.rows, d.flame.rootTotal, d.unit, fn)
  if (!c.changed('content', key)) return
  const sw = sandwich(d.flame, fn)
  let zc: string[] = []
  let ze: string[] = []
  const callers = flameView(c, 'callers', (p) => ((zc = p), draw()))
  const callees = flameView(c, 'callees', (p) => ((ze = p), draw()))
  const draw = () => {
    callers.set({ flame: sw.callers, unit: d.unit, theme: c.theme, orientation: 'flame', zoom: zc, matches: null })
    callees.set({ flame: sw.callees, unit: d.unit, theme: c.theme, orientation: 'icicle', zoom: ze, matches: null })
  }
  mount(
    el,
    h(
      'div',
      { class: 'toolbar' },
      h(
        'span',
        null,
        'Sandwich of ',
        h('code', { 'data-testid': 'sandwich-fn', title: fn }, ...nameCell(fn)),
        h('span', { class: 'muted' }, ' — pick another function in the table'),
      ),
    ),
    h(
      'div',
      { class: 'panes both' },
      h('div', { class: 'pane table-pane' }, tv.el),
      h(
        'div',
        { class: 'pane flame-pane sandwich' },
        h('div', { class: 'caption' }, 'Callers ↑'),
        h('div', { 'data-testid': 'callers' }, callers.el),
        h('div', { class: 'caption' }, 'Callees ↓'),
        h('div', { 'data-testid': 'callees' }, callees.el),
      ),
    ),
  )
  draw()
}

async function diffView(el: HTMLElement, c: Ctx): Promise<void> {
  const s = c.state
  const d = diffSides(s, c.range)
  const data = await c.cache.load<DiffResponse, Loaded>(
    'diff',
    {
      type: s.type,
      leftQuery: effectiveQuery(s.service, d.lq),
      leftFrom: c.at(d.lfrom),
      leftUntil: c.at(d.luntil),
      rightQuery: effectiveQuery(s.service, d.rq),
      rightFrom: c.at(d.rfrom),
      rightUntil: c.at(d.runtil),
      maxNodes: s.maxNodes,
    },
    loaded,
  )
  if (c.stale()) return
  const { m, bad } = matchesOf(data.flame, s.search)
  const fv = flameView(c, 'main', (p) => c.go({ zoom: p.join(';') }))
  const tv = tableView(c, (n) => focus(c, data.flame, n))
  fv.set({
    flame: data.flame,
    unit: data.unit,
    theme: c.theme,
    orientation: s.orientation,
    zoom: s.zoom ? s.zoom.split(';') : [],
    matches: m,
  })
  if (c.changed('table', JSON.stringify(['diff', s.type, d, c.query, c.from])))
    tv.set(data.rows, data.flame.rootTotal, data.unit, '', { left: data.flame.diff!.leftTicks, right: data.flame.diff!.rightTicks })
  const side = (
    label: string,
    q: string,
    from: string,
    until: string,
    keys: ['lquery' | 'rquery', 'lfrom' | 'rfrom', 'luntil' | 'runtil'],
  ) => {
    const f = h('input', { class: 'time', value: timeText(from), 'data-testid': `${keys[1]}` })
    const u = h('input', { class: 'time', value: timeText(until), 'data-testid': `${keys[2]}` })
    const apply = () => c.go({ [keys[1]]: f.value.trim(), [keys[2]]: u.value.trim() })
    f.addEventListener('keydown', (e) => e.key === 'Enter' && apply())
    u.addEventListener('keydown', (e) => e.key === 'Enter' && apply())
    return h(
      'div',
      { class: `diff-side ${keys[0]}` },
      h('b', null, label),
      selectorEditor({ value: q, suggest: c.suggest, onApply: (v) => c.go({ [keys[0]]: v }), testid: keys[0] }),
      f,
      h('span', { class: 'muted' }, '→'),
      u,
      h('span', { class: 'muted small' }, 'UTC'),
    )
  }
  const legend = () =>
    h(
      'span',
      { class: 'legend-diff' },
      h('i', { class: 'less' }),
      'less',
      h('i', { class: 'same' }),
      'same',
      h('i', { class: 'more' }),
      'more (share of total)',
    )
  placeContent(
    el,
    c,
    JSON.stringify(['diff', s.type, d, c.query, c.theme, c.from]),
    () => toolbar(c, m, bad, [legend()]),
    (bar) => [
      h(
        'div',
        { class: 'diff-sides' },
        side('Baseline', d.lq, d.lfrom, d.luntil, ['lquery', 'lfrom', 'luntil']),
        side('Comparison', d.rq, d.rfrom, d.runtil, ['rquery', 'rfrom', 'runtil']),
      ),
      bar,
      h(
        'div',
        { class: 'panes both diff' },
        h('div', { class: 'pane table-pane' }, tv.el),
        h('div', { class: 'pane flame-pane' }, h('div', { class: 'graph' }, fv.el)),
      ),
    ],
  )
}

async function labelsView(el: HTMLElement, c: Ctx): Promise<void> {
  const s = c.state
  const names = userLabels(await c.suggest.names(), s.service)
  const label = s.label && names.includes(s.label) ? s.label : (names[0] ?? '')
  const b = label
    ? await c.cache.load<Breakdown>('label-breakdown', { name: label, type: s.type, query: c.query, from: c.from, until: c.until })
    : null
  if (c.stale() || !c.changed('content', JSON.stringify(['labels', s.type, c.query, c.from, c.until, label, c.theme]))) return
  const picker = h(
    'select',
    { 'data-testid': 'label-name', onchange: (e: Event) => c.go({ label: (e.target as HTMLSelectElement).value }) },
    names.map((n) => h('option', { value: n, selected: n === label }, n)),
  )
  if (!b) return mount(el, h('div', { class: 'empty' }, 'These profiles have no labels besides the service.'))
  const pick = (v: string) => c.go({ query: withMatcher(s.query, label, v), view: 'both', zoom: '' })
  mount(
    el,
    h(
      'div',
      { class: 'toolbar' },
      h('label', null, 'Label ', picker),
      h('span', { class: 'muted small' }, 'Share of the total per value — click a value to filter by it'),
    ),
    labelBreakdown(b, c.unit, pick),
  )
}
