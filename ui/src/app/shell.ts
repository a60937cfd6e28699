import { type ViewState, type ViewName, searchToState, stateToSearch, effectiveQuery, diffSides, resolveTime } from '../lib/viewstate.ts'
import type { Theme } from '../lib/color.ts'
import { parseRange, parseDuration } from '../../../src/model/time.ts'
import { ApiCache } from './cache.ts'
import { ApiError, type ProfileType, type TimelineResponse } from './api.ts'
import { h, mount } from './dom.ts'
import { timeline } from './timeline.ts'
import { renderContent, type Ctx } from './views.ts'
import { renderRuns } from './runs.ts'
import { LivePage } from './live.ts'
import { defaultType } from '../lib/types.ts'
import { emptyStore, noDataInRange, profileStats } from './empty.ts'
import { profilePickers } from './header.ts'
import { refreshes, timelineBar, diffMarks, type Brush } from './timelinebar.ts'

const tabs: [ViewName, string][] = [
  ['both', 'Both'],
  ['flame', 'Flame graph'],
  ['table', 'Top table'],
  ['sandwich', 'Sandwich'],
  ['diff', 'Diff'],
  ['labels', 'Labels'],
]

/** The application: header (what to look at), timeline, view tabs and the current view; the URL holds the state. */
export class Shell {
  private state: ViewState = searchToState(location.search)
  private theme: Theme =
    (localStorage.getItem('kiln-theme') as Theme | null) ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light')
  private readonly cache = new ApiCache()
  private readonly header = h('header', { class: 'top' })
  private readonly errors = h('div', { class: 'errors', 'data-testid': 'errors' })
  private readonly timelineEl = h('section', { class: 'timeline-section' })
  private readonly nav = h('nav', { class: 'tabs' })
  private readonly content = h('main', { class: 'content' })
  private keys: Record<string, string> = {}
  private types: ProfileType[] = []
  private services: string[] = []
  private readonly views: Ctx['views'] = {}
  private generation = 0
  /** The clock relative ranges are resolved against: set at load, on Refresh, on each auto-refresh and when the range changes. */
  private now = Date.now()
  private readonly at = (t: string) => resolveTime(t, this.now)
  private timer: { every: string; id: number } | null = null
  /** Why the URL's range cannot be read ('' when it can): the field is marked and the last hour is shown meanwhile. */
  private rangeError = ''
  /** While the store is empty, the next look for the server's first profile. */
  private emptyPoll = 0
  private emptyRetries = 0
  /** In the diff view, which side a drag on the timeline chooses; it moves to the other side after each drag. */
  private brush: Brush = 'baseline'
  /** The Live page (kept while away: its editor keeps the text and caret) and its URL. */
  private live: LivePage | null = null
  private liveSearch = location.search

  constructor(root: HTMLElement) {
    mount(root, this.header, this.errors, this.timelineEl, this.nav, this.content)
    window.addEventListener('popstate', () => {
      // Back/forward wins over an entry not written yet.
      if (this.history) clearTimeout(this.history.timer)
      this.history = null
      this.state = searchToState(location.search)
      this.liveSearch = location.search
      void this.update()
    })
    document.documentElement.dataset.theme = this.theme
    // Keys (outside text fields): Escape resets zoom and search, "/" jumps to the search box.
    document.addEventListener('keydown', (e) => {
      if ((e.target as HTMLElement).closest('input, select, textarea')) return
      if (e.key === 'Escape' && (this.state.zoom || this.state.search)) this.go({ zoom: '', search: '' })
      else if (e.key === '/') {
        const box = document.querySelector<HTMLInputElement>('[data-testid=search]')
        if (box) e.preventDefault(), box.focus()
      }
    })
  }

  /** Changes the view; `replace` edits the current history entry instead of adding one. */
  go(patch: Partial<ViewState>, replace = false): void {
    if ('from' in patch || 'until' in patch) this.now = Date.now()
    this.state = { ...this.state, ...patch }
    // A new view starts without the old view's errors (a lasting one is reported again).
    if (this.errors.firstChild) this.errors.replaceChildren()
    this.writeHistory(stateToSearch(this.state) || location.pathname, replace)
    void this.update()
  }

  private history: { url: string; push: boolean; timer: number } | null = null

  /**
   * Writes the view into the URL once the view has been still for 300 ms, when the page is idle:
   * pushState costs 0.5–10 ms in Chromium (a same-document navigation), which no zoom's frame
   * should pay. A burst of changes (zooming in several steps) becomes one history entry.
   */
  private writeHistory(url: string, replace: boolean): void {
    const push = !replace || (this.history?.push ?? false)
    if (this.history) clearTimeout(this.history.timer)
    this.history = { url, push, timer: window.setTimeout(() => requestIdleCallback(() => this.flushHistory(), { timeout: 500 }), 300) }
  }

  private flushHistory(): void {
    const h = this.history
    this.history = null
    if (!h) return
    if (h.push) history.pushState(null, '', h.url)
    else history.replaceState(null, '', h.url)
  }

  showError(e: unknown): void {
    if ((e as Error).name === 'AbortError') return
    const code = e instanceof ApiError ? e.code : 'ERROR'
    const msg = (e as Error).message ?? String(e)
    if ([...this.errors.children].some((c) => c.textContent?.includes(msg))) return
    this.errors.append(
      h(
        'div',
        { class: 'error', role: 'alert' },
        h('b', null, code),
        ' ',
        msg,
        h(
          'button',
          { class: 'mini', title: 'Dismiss', onclick: (ev: Event) => (ev.currentTarget as HTMLElement).parentElement!.remove() },
          '×',
        ),
      ),
    )
  }

  private changed(part: string, key: string): boolean {
    if (this.keys[part] === key) return false
    this.keys[part] = key
    return true
  }

  /** The selector sent to the API for the main view. */
  get query(): string {
    return effectiveQuery(this.state.service, this.state.query)
  }

  /** Keeps one interval timer that matches the state's auto-refresh setting. */
  private autoRefresh(): void {
    const every = this.state.refresh
    if (this.timer?.every === every) return
    if (this.timer) clearInterval(this.timer.id)
    this.timer = null
    let ms = 0
    try {
      ms = every ? parseDuration(every) : 0
    } catch {
      ms = 0
    }
    // At least 5 s: a 100,000-node graph takes a second or two to query and draw.
    if (ms > 0) this.timer = { every, id: window.setInterval(() => this.refresh(), Math.max(5000, ms)) }
  }

  /** The range as sent to the API: the URL's, resolved; the last hour while it cannot be read. */
  private get apiFrom(): string {
    return this.at(this.rangeError ? 'now-1h' : this.state.from)
  }
  private get apiUntil(): string {
    return this.at(this.rangeError ? 'now' : this.state.until)
  }

  async update(): Promise<void> {
    const s = this.state
    this.autoRefresh()
    try {
      parseRange(s.from, s.until, { now: this.now })
      this.rangeError = ''
    } catch (e) {
      this.rangeError = (e as Error).message
    }
    if (s.page === 'runs') return this.renderRunsPage()
    if (s.page === 'live') return this.renderLivePage()
    try {
      // Both lists come from the cache after the first time, so every update can ask for them.
      this.services = await this.cache.load<string[]>('label-values', { name: 'service_name', from: this.apiFrom, until: this.apiUntil })
      // Pick a service and a type when the URL names none (or a type with no data in range).
      // (A link with a selector of its own, e.g. from a load-test run, keeps it as it is.)
      if (!s.service && this.services.length && /^\{\s*\}$/.test(s.query.trim() || '{}'))
        return this.go({ service: this.services[0]! }, true)
      this.types = await this.cache.load<ProfileType[]>('profile-types', {
        from: this.apiFrom,
        until: this.apiUntil,
        query: effectiveQuery(s.service, '{}'),
      })
      if (s !== this.state) return // a newer update took over while these loaded
      if (!this.types.length) return await this.renderEmpty(s)
      if (!this.types.some((t) => t.id === s.type)) {
        return this.go({ type: defaultType(this.types)!.id }, true)
      }
    } catch (e) {
      this.showError(e)
      return
    }
    this.renderHeader()
    this.renderTabs()
    void this.renderTimeline()
    const gen = ++this.generation
    const stale = () => gen !== this.generation
    const ctx: Ctx = {
      state: s,
      query: this.query,
      theme: this.theme,
      cache: this.cache,
      go: (p, r) => this.go(p, r),
      error: (e) => this.showError(e),
      range: this.range(),
      from: this.apiFrom,
      until: this.apiUntil,
      at: this.at,
      unit: this.unit,
      views: this.views,
      changed: (p, k) => this.changed(p, k),
      suggest: this.suggest(),
      stale,
    }
    // Dim the view only when a response is slow (not for zooms served from the cache).
    const slow = setTimeout(() => this.content.classList.add('loading'), 150)
    await renderContent(this.content, ctx)
    clearTimeout(slow)
    if (!stale()) this.content.classList.remove('loading')
  }

  /** The selected profile type's unit, for formatting before data arrives. */
  private get unit(): string {
    return this.types.find((t) => t.id === this.state.type)?.sampleUnit ?? ''
  }

  private range(): { from: number; until: number } {
    try {
      return parseRange(this.state.from, this.state.until, { now: this.now })
    } catch {
      // Marked on the range fields (see renderHeader); the last hour is shown meanwhile.
      return parseRange('now-1h', 'now', { now: this.now })
    }
  }

  private suggest(query = this.query): Ctx['suggest'] {
    const s = this.state
    return {
      names: () => this.cache.load<string[]>('label-names', { from: this.apiFrom, until: this.apiUntil, query, type: s.type }),
      values: (name) => this.cache.load<string[]>('label-values', { name, from: this.apiFrom, until: this.apiUntil, query, type: s.type }),
    }
  }

  /** Clears what only the profiles page shows; it is drawn again when the profiles come back. */
  private leaveProfiles(): void {
    mount(this.nav)
    mount(this.timelineEl)
    this.keys.content = this.keys.header = this.keys.tabs = this.keys.timeline = this.keys.table = ''
  }

  /** The load-test runs page: its own header, no timeline or tabs. */
  private async renderRunsPage(): Promise<void> {
    this.leaveProfiles()
    mount(
      this.header,
      this.brand(),
      this.pageLinks(),
      h('span', { class: 'spacer' }),
      h('button', { class: 'icon', 'data-testid': 'refresh', title: 'Refresh', onclick: () => this.refresh() }, '⟳'),
      this.themeButton(),
    )
    const gen = ++this.generation
    try {
      await renderRuns(this.content, {
        state: this.state,
        cache: this.cache,
        go: (p, r) => this.go(p, r),
        stale: () => gen !== this.generation,
      })
    } catch (e) {
      this.showError(e)
    }
  }

  /** The Live page: its own header; the page keeps its URL (script, arguments) apart from the profiles' state. */
  private async renderLivePage(): Promise<void> {
    this.leaveProfiles()
    mount(
      this.header,
      this.brand(),
      this.pageLinks(),
      h('span', { class: 'spacer' }),
      h('button', { class: 'icon', 'data-testid': 'refresh', title: 'Run again', onclick: () => this.refresh() }, '⟳'),
      this.themeButton(),
    )
    this.live ??= new LivePage({ navigate: (search, replace) => this.goLive(search, replace), refreshes })
    if (this.content.firstChild !== this.live.el) mount(this.content, this.live.el)
    try {
      await this.live.show(this.liveSearch)
    } catch (e) {
      this.showError(e)
    }
  }

  /** Goes to a Live URL (`?page=live&…`). */
  private goLive(search: string, replace = false): void {
    this.liveSearch = search
    this.state = searchToState(search)
    if (this.errors.firstChild) this.errors.replaceChildren()
    this.writeHistory(search, replace)
    void this.update()
  }

  /** Links between the profiles, the load-test runs and the Live view. */
  private pageLinks(): HTMLElement {
    const page = this.state.page
    const link = (on: boolean, label: string, go: () => void, id: string) =>
      h(
        'a',
        {
          class: `page-link${on ? ' active' : ''}`,
          href: on ? null : '#',
          'data-testid': id,
          onclick: (e: Event) => (e.preventDefault(), on || go()),
        },
        label,
      )
    return h(
      'nav',
      { class: 'page-links' },
      link(page !== 'runs' && page !== 'live', 'Profiles', () => this.go({ page: '', run: '', compare: '', refresh: '' }), 'page-profiles'),
      link(page === 'runs', 'Load tests', () => this.go({ page: 'runs', refresh: '' }), 'page-runs'),
      link(page === 'live', 'Live', () => this.goLive(this.liveSearch.includes('page=live') ? this.liveSearch : '?page=live'), 'page-live'),
    )
  }

  private themeButton(): HTMLElement {
    return h(
      'button',
      {
        class: 'icon',
        'data-testid': 'theme',
        title: `Switch to ${this.theme === 'light' ? 'dark' : 'light'} theme`,
        onclick: () => this.toggleTheme(),
      },
      this.theme === 'light' ? '☾' : '☀',
    )
  }

  /**
   * Nothing in the chosen range. With data elsewhere, the pickers stay and say where the data is;
   * with an empty store, the page shows how to send a first profile and looks again every 2 s for
   * the server's own (self-profiling writes its first after ~3 s).
   */
  private async renderEmpty(s: ViewState): Promise<void> {
    const stats = await profileStats().catch(() => null)
    if (s !== this.state) return
    const r = this.range()
    // Data that arrived in the range after the range was asked about (a fresh server's first
    // self-profile): look again rather than say "no data between".
    if (stats && stats.newest >= r.from && stats.newest <= r.until && !s.service && this.emptyRetries++ < 20) {
      clearTimeout(this.emptyPoll)
      this.emptyPoll = window.setTimeout(() => s === this.state && this.refresh(), 500)
      return
    }
    if (stats && stats.newest > 0) {
      const wide = { from: String(stats.oldest), until: String(stats.newest + 1000) }
      this.services = await this.cache.load<string[]>('label-values', { name: 'service_name', ...wide })
      if (!s.service && this.services.length) return this.go({ service: this.services[0]! }, true)
      this.types = await this.cache.load<ProfileType[]>('profile-types', { ...wide, query: effectiveQuery(s.service, '{}') })
      const newest = s.service && this.types.length ? await this.latestOf(s.service, wide).catch(() => stats.newest) : stats.newest
      if (s !== this.state) return
      this.renderHeader()
      this.leaveProfiles()
      mount(this.content, noDataInRange({ from: r.from, until: r.until, newest, service: s.service, go: (p) => this.go(p) }))
      return
    }
    mount(this.header, this.brand(), this.pageLinks())
    this.leaveProfiles()
    mount(this.content, emptyStore({ origin: location.origin, refresh: () => this.refresh() }))
    clearTimeout(this.emptyPoll)
    this.emptyPoll = window.setTimeout(() => s === this.state && this.refresh(), 2000)
  }

  /** When a service last had data (to the timeline's 10 s step): its busiest type's timeline over all the data, then over its last step. */
  private async latestOf(service: string, wide: { from: string; until: string }): Promise<number> {
    const type = defaultType(this.types)!.id
    const last = async (from: string, until: string) => {
      const tl = await this.cache.load<TimelineResponse>('timeline', { type, query: effectiveQuery(service, '{}'), from, until })
      let t = -1
      for (const sr of tl.series) for (const [ts, v] of sr.points) if (v > 0 && ts > t) t = ts
      return { t, step: tl.step * 1000 }
    }
    const coarse = await last(wide.from, wide.until)
    if (coarse.t < 0) throw new Error('no points')
    const fine = await last(String(coarse.t), String(coarse.t + coarse.step))
    return fine.t >= 0 ? fine.t : coarse.t
  }

  private refresh(): void {
    if (this.state.page === 'live') return this.live?.rerun()
    this.now = Date.now()
    this.cache.clear()
    // Data views draw again; the flame graph and top table views update in place (see placeContent).
    this.keys.table = this.keys.timeline = this.keys.header = ''
    if (!['both', 'flame', 'table'].includes(this.state.view)) this.keys.content = ''
    void this.update()
  }

  private brand(): HTMLElement {
    return h('a', { class: 'brand', href: location.pathname, title: 'Kiln' }, h('span', { class: 'logo' }), 'Kiln')
  }

  private renderHeader(): void {
    const s = this.state
    if (
      !this.changed(
        'header',
        JSON.stringify([s.service, s.type, s.query, s.from, s.until, this.theme, this.services, this.types.length, this.rangeError]),
      )
    )
      return
    mount(
      this.header,
      this.brand(),
      this.pageLinks(),
      ...profilePickers({
        state: s,
        services: this.services,
        types: this.types,
        rangeError: this.rangeError,
        suggest: this.suggest(effectiveQuery(s.service, '{}')),
        go: (p) => this.go(p),
        onEdit: () => this.errors.firstChild && this.errors.replaceChildren(),
      }),
      h('span', { class: 'spacer' }),
      h(
        'button',
        {
          class: 'icon',
          'data-testid': 'refresh',
          title: 'Refresh: ask the server again (relative ranges move to now)',
          onclick: () => this.refresh(),
        },
        '⟳',
      ),
      this.themeButton(),
    )
  }

  private toggleTheme(): void {
    this.theme = this.theme === 'light' ? 'dark' : 'light'
    localStorage.setItem('kiln-theme', this.theme)
    document.documentElement.dataset.theme = this.theme
    void this.update()
  }

  private renderTabs(): void {
    if (!this.changed('tabs', this.state.view)) return
    mount(
      this.nav,
      tabs.map(([v, label]) =>
        h(
          'button',
          { class: `tab${v === this.state.view ? ' active' : ''}`, 'data-testid': `tab-${v}`, onclick: () => this.go({ view: v }) },
          label,
        ),
      ),
    )
  }

  /** A drag on the timeline: the main range, or in the diff view the side being chosen (then the other side). */
  private onRange(a: number, b: number): void {
    if (this.state.view !== 'diff') return this.go({ from: String(a), until: String(b) })
    const side = this.brush
    this.brush = side === 'baseline' ? 'comparison' : 'baseline'
    this.go(side === 'baseline' ? { lfrom: String(a), luntil: String(b), zoom: '' } : { rfrom: String(a), runtil: String(b), zoom: '' })
  }

  private async renderTimeline(): Promise<void> {
    const s = this.state
    const r = this.range()
    const marks = s.view === 'diff' ? diffMarks(diffSides(s, r), this.now) : []
    // A diff's sides may lie outside the range (the default baseline is the same length before
    // it): the timeline then spans both, so that both are seen and can be dragged.
    const span = { from: Math.min(r.from, ...marks.map((m) => m.from)), until: Math.max(r.until, ...marks.map((m) => m.until)) }
    const [tFrom, tUntil] =
      span.from === r.from && span.until === r.until ? [this.apiFrom, this.apiUntil] : [String(span.from), String(span.until)]
    if (
      !this.changed(
        'timeline',
        JSON.stringify([s.type, this.query, tFrom, tUntil, s.groupBy, s.refresh, this.theme, marks, s.view === 'diff' && this.brush]),
      )
    )
      return
    try {
      const [tl, names] = await Promise.all([
        this.cache.load<TimelineResponse>('timeline', { type: s.type, query: this.query, from: tFrom, until: tUntil, groupBy: s.groupBy }),
        this.suggest().names(),
      ])
      mount(
        this.timelineEl,
        timelineBar({
          state: s,
          labelNames: names,
          brush: this.brush,
          pickBrush: (side) => ((this.brush = side), (this.keys.timeline = ''), void this.renderTimeline()),
          go: (p, r) => this.go(p, r),
        }),
        timeline({
          series: tl.series,
          step: tl.step,
          from: span.from,
          until: span.until,
          unit: this.unit,
          groupBy: s.groupBy,
          marks,
          band: s.view === 'diff' ? this.brush : '',
          onRange: (a, b) => this.onRange(a, b),
        }),
      )
    } catch (e) {
      this.keys.timeline = ''
      this.showError(e)
    }
  }
}
