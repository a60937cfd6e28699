import type { ViewState } from '../lib/viewstate.ts'
import { searchToState } from '../lib/viewstate.ts'
import {
  type RunInfo,
  type RunDetail,
  type PerSecond,
  runFigures,
  perSecond,
  formatMetric,
  flameLink,
  diffLink,
  compareRuns,
  formatRunChange,
  metricOrder,
  runWindow,
  counterRate,
} from '../lib/runs.ts'
import { formatDuration, formatCount, formatPercent } from '../lib/format.ts'
import { get } from './api.ts'
import type { ApiCache } from './cache.ts'
import { timeline } from './timeline.ts'
import { h, mount } from './dom.ts'
import { firstRunCommand } from '../lib/empty.ts'

/** What the runs page needs from the shell. */
export interface RunsCtx {
  state: ViewState
  cache: ApiCache
  go: (patch: Partial<ViewState>, replace?: boolean) => void
  stale: () => boolean
}

// The list shows the newest runs with their figures (one request each); older ones on demand.
const PAGE = 25
let shownRuns = PAGE
/** Runs ticked for comparison (kept while moving between the list and a run). */
const picked: string[] = []

/** The load-test runs page: the list, one run, or two runs compared (from the URL). */
export async function renderRuns(el: HTMLElement, c: RunsCtx): Promise<void> {
  const s = c.state
  const [a, b] = s.compare.split(',')
  if (a && b) return compareView(el, c, a, b)
  if (s.run) return detailView(el, c, s.run)
  return listView(el, c)
}

const detail = (c: RunsCtx, id: string) => c.cache.load<RunDetail>('runs/get', { run: id })
const utc = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ')
const dur = (ms: number) => (ms ? formatDuration(ms * 1e6) : 'running')
const back = (c: RunsCtx) =>
  h('a', { href: '?page=runs', class: 'back', onclick: (e: Event) => (e.preventDefault(), c.go({ run: '', compare: '' })) }, '← All runs')
const tagChips = (tags: Record<string, string>) => Object.entries(tags).map(([k, v]) => h('span', { class: 'chip' }, `${k}=${v}`))

async function listView(el: HTMLElement, c: RunsCtx): Promise<void> {
  const runs = await get<RunInfo[]>('runs', {})
  const shown = runs.slice(0, shownRuns)
  const details = await Promise.all(shown.map((r) => detail(c, r.id).catch(() => null)))
  if (c.stale()) return
  if (!runs.length) {
    return mount(
      el,
      h(
        'div',
        { class: 'empty', 'data-testid': 'runs-empty' },
        h('h2', null, 'No load-test runs yet'),
        h(
          'p',
          null,
          'Run a k6 script with ',
          h('code', null, 'kiln run'),
          ' and store its results here; ',
          h('code', null, '--profile'),
          " links the run to the target's flame graph for the run's window:",
        ),
        h('pre', { class: 'command' }, h('code', null, firstRunCommand(location.origin))),
      ),
    )
  }
  const compare = h(
    'button',
    {
      'data-testid': 'compare-runs',
      disabled: picked.length !== 2,
      title: 'Tick two runs to compare them',
      onclick: () => c.go({ compare: picked.slice(0, 2).join(',') }),
    },
    'Compare selected',
  )
  const tick = (id: string) => (e: Event) => {
    const on = (e.target as HTMLInputElement).checked
    if (on && !picked.includes(id)) picked.push(id)
    if (!on && picked.includes(id)) picked.splice(picked.indexOf(id), 1)
    // Two at most: ticking a third drops the oldest tick.
    while (picked.length > 2) {
      const old = picked.shift()!
      const box = el.querySelector<HTMLInputElement>(`input[data-run="${old}"]`)
      if (box) box.checked = false
    }
    compare.disabled = picked.length !== 2
  }
  const rows = shown.map((r, k) => {
    const d = details[k]
    const f = d ? runFigures(d) : null
    const th = r.thresholds.length
      ? r.thresholds.every((t) => t.ok)
        ? h('span', { class: 'ok' }, `✓ ${r.thresholds.length}`)
        : h(
            'span',
            { class: 'bad', title: f?.failedThresholds.join('\n') },
            `✗ ${r.thresholds.filter((t) => !t.ok).length} of ${r.thresholds.length}`,
          )
      : h('span', { class: 'muted' }, '—')
    return h(
      'tr',
      { 'data-run': r.id, onclick: (e: Event) => (e.target as HTMLElement).closest('input') || c.go({ run: r.id }) },
      h(
        'td',
        null,
        h('input', { type: 'checkbox', 'data-run': r.id, checked: picked.includes(r.id), onchange: tick(r.id), title: 'Compare' }),
      ),
      h('td', { class: 'name', title: r.id }, r.script || r.id),
      h('td', null, utc(r.started)),
      h('td', { class: 'num' }, dur(f?.durationMs ?? 0)),
      h('td', { class: 'num' }, f ? String(f.vus) : ''),
      h('td', { class: 'num', 'data-col': 'requests' }, f ? String(f.requests) : ''),
      h('td', { class: 'num' }, f ? formatCount(f.rps) : ''),
      h(
        'td',
        { class: 'num', 'data-col': 'duration', title: 'http_req_duration: average / 95th percentile / maximum' },
        f?.requests
          ? [f.avgMs, f.p95Ms, f.maxMs].map((v) => (v === null ? '—' : formatMetric(v, 'http_req_duration', 'trend'))).join(' / ')
          : '',
      ),
      h('td', { class: 'num' }, f ? (f.failedChecks ? h('span', { class: 'bad' }, String(f.failedChecks)) : '0') : ''),
      h('td', { 'data-col': 'thresholds' }, th),
      h('td', { class: 'tags' }, tagChips(r.tags)),
    )
  })
  mount(
    el,
    h(
      'div',
      { class: 'toolbar' },
      h('h2', { class: 'page-title' }, 'Load-test runs'),
      h('span', { class: 'muted small' }, 'stored by ', h('code', null, 'kiln run -o kiln=URL')),
      h('span', { class: 'spacer' }),
      compare,
    ),
    h(
      'div',
      { class: 'table-scroll runs-scroll' },
      h(
        'table',
        { 'data-testid': 'runs-table', class: 'runs' },
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            [
              '',
              'Script',
              'Started (UTC)',
              'Duration',
              'VUs',
              'Requests',
              'Req/s',
              'Duration avg / p95 / max',
              'Failed checks',
              'Thresholds',
              'Tags',
            ].map((t, k) => h('th', { class: k >= 3 && k <= 8 ? 'num' : null }, t)),
          ),
        ),
        h('tbody', null, rows),
      ),
    ),
    runs.length > shownRuns
      ? h(
          'button',
          { class: 'more', onclick: () => ((shownRuns += PAGE), void listView(el, c)) },
          `Show ${Math.min(PAGE, runs.length - shownRuns)} more of ${runs.length - shownRuns}`,
        )
      : null,
  )
}

/** One chart of a run: a metric per second (one line per way of summing it up). */
function chart(d: RunDetail, title: string, metric: string, lines: [string, PerSecond][], format: (v: number) => string): HTMLElement {
  const type = d.metrics[metric]?.type ?? ''
  const series = lines.map(([label, how]) => ({ labels: { stat: label }, points: perSecond(d.points, metric, how) }))
  const { from, until } = runWindow(d)
  return h(
    'figure',
    { class: 'run-chart', 'data-testid': `chart-${metric}` },
    h('figcaption', null, title, type ? null : h('span', { class: 'muted' }, ' (no data)')),
    timeline({ series, step: 1, from, until, unit: '', format, groupBy: lines.length > 1 ? 'stat' : '', width: 620, steps: true }),
  )
}

async function detailView(el: HTMLElement, c: RunsCtx, id: string): Promise<void> {
  const d = await detail(c, id)
  if (c.stale()) return
  const r = d.run
  const f = runFigures(d)
  const ms = (v: number) => formatMetric(v, 'http_req_duration', 'trend')
  const link = d.profile ? `?${flameLink(d.profile).replace(/^\?/, '')}` : ''
  mount(
    el,
    h('div', { class: 'toolbar' }, back(c)),
    h(
      'div',
      { class: 'run-head' },
      h('h2', { class: 'page-title', 'data-testid': 'run-script' }, r.script || r.id),
      h('span', { class: 'muted small' }, r.id),
      h('span', { class: 'spacer' }),
      link
        ? h(
            'a',
            {
              class: 'button primary',
              href: link,
              'data-testid': 'run-flamegraph',
              title: `${d.profile!.query} from ${utc(d.profile!.from)} to ${utc(d.profile!.until)} UTC`,
              onclick: (e: Event) => (e.preventDefault(), c.go(searchToState(link))),
            },
            `Flame graph of ${d.profile!.query} during this run →`,
          )
        : h('span', { class: 'muted small' }, 'Run with ', h('code', null, '--profile SELECTOR'), " to link the target's flame graph"),
    ),
    h(
      'dl',
      { class: 'run-figures' },
      [
        ['Started (UTC)', utc(r.started)],
        ['Duration', dur(f.durationMs)],
        ['VUs (max)', String(f.vus)],
        [
          'Requests',
          h('span', { 'data-testid': 'run-requests' }, `${f.requests} (${counterRate(d, 'http_reqs') ?? `${formatCount(f.rps)}/s`})`),
        ],
        ['Duration avg / p95 / max', f.requests ? `${ms(f.avgMs)} / ${f.p95Ms === null ? '—' : ms(f.p95Ms)} / ${ms(f.maxMs)}` : '—'],
        ['Failed checks', String(f.failedChecks)],
      ].map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v))),
      Object.keys(r.tags).length ? h('div', null, h('dt', null, 'Tags'), h('dd', null, tagChips(r.tags))) : null,
    ),
    r.thresholds.length
      ? h(
          'ul',
          { class: 'thresholds', 'data-testid': 'thresholds' },
          r.thresholds.map((t) => h('li', { class: t.ok ? 'ok' : 'bad' }, t.ok ? '✓ ' : '✗ ', h('code', null, `${t.metric}: ${t.source}`))),
        )
      : null,
    h(
      'div',
      { class: 'run-charts' },
      chart(d, 'Requests per second', 'http_reqs', [['requests', 'sum']], formatCount),
      chart(
        d,
        'Request duration',
        'http_req_duration',
        [
          ['avg', 'avg'],
          ['p95', 'p95'],
          ['max', 'max'],
        ],
        ms,
      ),
      chart(d, 'Virtual users', 'vus', [['VUs', 'max']], formatCount),
      chart(d, 'Checks passed', 'checks', [['passed', 'rate']], formatPercent),
    ),
    metricsTable(d),
  )
}

function metricsTable(d: RunDetail): HTMLElement {
  const fmt = (name: string, type: string, v: number) =>
    type === 'counter' && !name.startsWith('data_') ? formatCount(v) : formatMetric(v, name, type)
  return h(
    'table',
    { class: 'run-metrics', 'data-testid': 'run-metrics' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', { class: 'name' }, 'Metric'),
        ['Type', 'Count', 'Total', 'Rate', 'Avg', 'Min', 'p90', 'p95', 'p99', 'Max'].map((t) => h('th', { class: 'num' }, t)),
      ),
    ),
    h(
      'tbody',
      null,
      metricOrder(Object.keys(d.metrics)).map((name) => {
        const m = d.metrics[name]!
        const trendish = m.type === 'trend' || m.type === 'gauge'
        return h(
          'tr',
          null,
          h('td', { class: 'name' }, name),
          h('td', { class: 'num muted' }, m.type),
          h('td', { class: 'num' }, formatCount(m.count)),
          h('td', { class: 'num' }, m.type === 'counter' ? fmt(name, m.type, m.sum) : '—'),
          h('td', { class: 'num' }, counterRate(d, name) ?? '—'),
          h('td', { class: 'num' }, m.type === 'counter' ? '—' : fmt(name, m.type, m.avg)),
          h('td', { class: 'num' }, trendish ? fmt(name, m.type, m.min) : '—'),
          ([m.p90, m.p95, m.p99] as (number | undefined)[]).map((v) =>
            h('td', { class: 'num' }, v === undefined ? '—' : fmt(name, m.type, v)),
          ),
          h('td', { class: 'num' }, trendish ? fmt(name, m.type, m.max) : '—'),
        )
      }),
    ),
  )
}

async function compareView(el: HTMLElement, c: RunsCtx, a: string, b: string): Promise<void> {
  const [da, db] = await Promise.all([detail(c, a), detail(c, b)])
  if (c.stale()) return
  const side = (label: string, d: RunDetail) => {
    const f = runFigures(d)
    return h(
      'div',
      { class: `run-side ${label === 'A' ? 'lquery' : 'rquery'}` },
      h('b', null, label),
      ' ',
      h(
        'a',
        { href: `?page=runs&run=${d.run.id}`, onclick: (e: Event) => (e.preventDefault(), c.go({ compare: '', run: d.run.id })) },
        d.run.script || d.run.id,
      ),
      h('span', { class: 'muted small' }, ` ${utc(d.run.started)} UTC · ${dur(f.durationMs)} · ${f.vus} VUs · ${f.requests} requests`),
      tagChips(d.run.tags),
    )
  }
  const rows = compareRuns(da, db)
  const val = (v: number | null, name: string, type: string, stat: string) =>
    v === null
      ? '—'
      : (type === 'counter' && !name.startsWith('data_') ? formatCount(v) : formatMetric(v, name, type)) +
        (stat === 'per second' ? '/s' : '')
  const diff = diffLink(da.profile, db.profile)
  mount(
    el,
    h(
      'div',
      { class: 'toolbar' },
      back(c),
      h('span', { class: 'spacer' }),
      diff
        ? h(
            'a',
            {
              class: 'button primary',
              href: diff,
              'data-testid': 'runs-diff',
              title: "The target's profiles: run A's window as the baseline, run B's as the comparison",
              onclick: (e: Event) => (e.preventDefault(), c.go(searchToState(diff))),
            },
            'Diff flame graph A → B',
          )
        : h('span', { class: 'muted small' }, 'Both runs need --profile with the same service for a diff flame graph'),
    ),
    h('div', { class: 'run-sides' }, side('A', da), side('B', db)),
    h(
      'table',
      { class: 'run-metrics', 'data-testid': 'compare-table' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          h('th', { class: 'name' }, 'Metric'),
          h('th', null, ''),
          h('th', { class: 'num' }, 'A'),
          h('th', { class: 'num' }, 'B'),
          h('th', { class: 'num' }, 'Change'),
        ),
      ),
      h(
        'tbody',
        null,
        rows.map((r) =>
          h(
            'tr',
            { 'data-metric': r.metric, 'data-stat': r.stat },
            h('td', { class: 'name' }, r.metric),
            h('td', { class: 'muted small' }, r.stat),
            h('td', { class: 'num' }, val(r.a, r.metric, r.type, r.stat)),
            h('td', { class: 'num' }, val(r.b, r.metric, r.type, r.stat)),
            h(
              'td',
              {
                class: `num ${r.better === true ? 'less' : r.better === false ? 'more' : ''}`,
                title: r.better === null ? '' : r.better ? 'better' : 'worse',
              },
              formatRunChange(r.change),
            ),
          ),
        ),
      ),
    ),
    h(
      'div',
      { class: 'run-charts' },
      chart(
        da,
        `A: request duration`,
        'http_req_duration',
        [
          ['avg', 'avg'],
          ['p95', 'p95'],
          ['max', 'max'],
        ],
        (v) => formatMetric(v, 'http_req_duration', 'trend'),
      ),
      chart(
        db,
        `B: request duration`,
        'http_req_duration',
        [
          ['avg', 'avg'],
          ['p95', 'p95'],
          ['max', 'max'],
        ],
        (v) => formatMetric(v, 'http_req_duration', 'trend'),
      ),
    ),
  )
}
