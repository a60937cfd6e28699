import { type PxlTable, type Widget, type ColumnUnit, formatCell, formatNumber, sortTable, chartsOf } from '../lib/pxl-result.ts'
import { serviceGraph, layeredLayout, edgePath, errorColor, edgeWidth, layoutFor, type GraphEdge } from '../lib/pxl-graph.ts'
import { formatBytes, formatCount, formatDuration, formatPercent } from '../lib/format.ts'
import { valueColor } from '../lib/series.ts'
import { timeline } from './timeline.ts'
import { h, mount } from './dom.ts'

/** Sort state of each displayed table by name, kept across re-runs and auto-refreshes. */
const sorts = new Map<string, { col: number; dir: 'asc' | 'desc' }>()

// Enough for any screen; a larger result says how many rows it left out.
const MAX_ROWS = 2000

/** The widget for one display: a sortable table, time-series charts or a service graph. */
export function widget(t: PxlTable, w: Widget, key: string): HTMLElement {
  if (w.kind === 'chart') return chartWidget(t, w)
  if (w.kind === 'graph') return graphWidget(t, w)
  return tableWidget(t, key)
}

function tableWidget(t: PxlTable, key: string): HTMLElement {
  const wrap = h('div', { class: 'table-scroll pxl-table-scroll' })
  const draw = () => {
    const s = sorts.get(key)
    const rows = s ? sortTable(t.rows, s.col, t.columns[s.col]?.type ?? 'STRING', s.dir) : t.rows
    const head = t.columns.map((c, k) => {
      const on = s?.col === k
      const numeric = c.type === 'INT64' || c.type === 'FLOAT64'
      return h(
        'th',
        {
          class: `sortable${numeric ? ' num' : ''}${on ? ' sorted' : ''}`,
          title: `${c.name}: ${c.type}`,
          'data-col': c.name,
          onclick: () => {
            sorts.set(key, { col: k, dir: on && s!.dir === 'desc' ? 'asc' : on ? 'desc' : numeric ? 'desc' : 'asc' })
            draw()
          },
        },
        c.name,
        on ? (s!.dir === 'asc' ? ' ▲' : ' ▼') : '',
      )
    })
    const body = rows.slice(0, MAX_ROWS).map((r) =>
      h(
        'tr',
        null,
        t.columns.map((c, k) => {
          const text = formatCell(r[k], c)
          const numeric = c.type === 'INT64' || c.type === 'FLOAT64'
          return h(
            'td',
            {
              class: numeric ? 'num' : c.type === 'STRING' ? 'text' : null,
              title: text.length > 40 || numeric ? String(r[k] ?? '') : null,
            },
            text,
          )
        }),
      ),
    )
    mount(
      wrap,
      h('table', { class: 'pxl-table', 'data-testid': 'pxl-table' }, h('thead', null, h('tr', null, head)), h('tbody', null, body)),
      t.rows.length === 0 ? h('div', { class: 'muted small table-note' }, 'No rows.') : null,
      t.rows.length > MAX_ROWS || t.truncated
        ? h(
            'div',
            { class: 'muted small table-note', 'data-testid': 'pxl-truncated' },
            `First ${Math.min(MAX_ROWS, t.rows.length)} rows of more; add .head(n) or a filter to the script.`,
          )
        : null,
    )
  }
  draw()
  return wrap
}

/** The y-axis text of a unit. */
function unitFormat(unit: ColumnUnit): (v: number) => string {
  return (v) => formatNumber(v, unit === 'time' || unit === 'text' || unit === 'bool' ? 'number' : unit)
}

function chartWidget(t: PxlTable, w: Extract<Widget, { kind: 'chart' }>): HTMLElement {
  const { from, until, charts } = chartsOf(t, w)
  const groupBy = w.series >= 0 ? t.columns[w.series]!.name : ''
  return h(
    'div',
    { class: 'pxl-charts', 'data-testid': 'pxl-chart' },
    charts.map((c) =>
      h(
        'figure',
        { class: 'run-chart pxl-chart', 'data-column': c.column.name },
        h(
          'figcaption',
          null,
          c.column.name,
          c.hidden ? h('span', { class: 'muted' }, ` (10 largest of ${c.series.length + c.hidden})`) : null,
        ),
        // Points are drawn where the script put them (px.bin windows or single events): no step filling.
        timeline({
          series: c.series,
          step: 0,
          from,
          until,
          unit: '',
          format: unitFormat(c.unit),
          groupBy: groupBy && c.series.length ? groupBy : '',
          width: 620,
        }),
      ),
    ),
  )
}

const NS = 'http://www.w3.org/2000/svg'
const svg = (tag: string, attrs: Record<string, string | number>, ...children: (Node | string)[]): SVGElement => {
  const el = document.createElementNS(NS, tag)
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v))
  el.append(...children)
  return el
}

/** An edge's label, two lines: requests (or their rate, or bytes), then error share and latency. */
export function edgeLabel(e: GraphEdge): [string, string] {
  const first: string[] = []
  if (e.rps !== null) first.push(`${formatCount(e.rps)} req/s`)
  else if (e.bytes === null) first.push(`${formatCount(e.requests)} req`)
  if (e.bytes !== null) first.push(formatBytes(e.bytes))
  const second: string[] = []
  if (e.errorRate !== null) second.push(`${formatPercent(e.errorRate)} err`)
  if (e.latencyNs !== null) second.push(`${e.latencyLabel} ${formatDuration(e.latencyNs)}`)
  return [first.join(' · '), second.join(' · ')]
}

function graphWidget(t: PxlTable, w: Extract<Widget, { kind: 'graph' }>): HTMLElement {
  const g = serviceGraph(t, w.from, w.to)
  const o = layoutFor(g.nodes.map((n) => n.id))
  const l = layeredLayout(
    g.nodes.map((n) => n.id),
    g.edges,
    o,
  )
  const weight = (e: GraphEdge) => e.rps ?? e.bytes ?? e.requests
  const max = Math.max(0, ...g.edges.map(weight))
  // Room under the boxes for edges that loop back (cycles).
  const loops = g.edges.some((e) => e.from !== e.to && l.nodes.get(e.to)!.rank <= l.nodes.get(e.from)!.rank)
  const height = l.height + (loops ? o.gapY * 1.5 : 0)
  const root = svg('svg', {
    class: 'pxl-graph-svg',
    viewBox: `0 0 ${l.width} ${height}`,
    width: l.width,
    height,
    'data-testid': 'pxl-graph-svg',
  })
  const defs = svg('defs', {})
  const arrows = new Set<string>()
  const arrow = (color: string) => {
    const id = `arrow-${color.replace(/[^a-z0-9]/gi, '')}`
    if (!arrows.has(id)) {
      arrows.add(id)
      defs.append(
        svg(
          'marker',
          {
            id,
            viewBox: '0 0 10 10',
            refX: 9,
            refY: 5,
            markerWidth: 7,
            markerHeight: 7,
            orient: 'auto-start-reverse',
            markerUnits: 'userSpaceOnUse',
          },
          svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: color }),
        ),
      )
    }
    return `url(#${id})`
  }
  root.append(defs)
  const labels: SVGElement[] = []
  for (const e of g.edges) {
    const a = l.nodes.get(e.from)!
    const b = l.nodes.get(e.to)!
    if (a === b) continue
    const { d, mid } = edgePath(a, b, o)
    const color = errorColor(e.errorRate)
    const [l1, l2] = edgeLabel(e)
    root.append(
      svg(
        'path',
        {
          d,
          class: 'edge',
          stroke: color,
          'stroke-width': edgeWidth(weight(e), max),
          fill: 'none',
          'marker-end': arrow(color),
          'data-edge': `${e.from}→${e.to}`,
        },
        svg('title', {}, `${e.from} → ${e.to}\n${[l1, l2].filter(Boolean).join(' · ')}`),
      ),
    )
    labels.push(
      svg(
        'text',
        { x: mid[0], y: mid[1] - (l2 ? 18 : 6), class: 'edge-label', 'text-anchor': 'middle' },
        svg('tspan', { x: mid[0], dy: 0 }, l1),
        l2 ? svg('tspan', { x: mid[0], dy: 13 }, l2) : '',
      ),
    )
  }
  // Labels over every edge, nodes over everything.
  root.append(...labels)
  const ids = g.nodes.map((n) => n.id)
  for (const n of g.nodes) {
    const p = l.nodes.get(n.id)!
    const name = n.id.length > 26 ? `${n.id.slice(0, 25)}…` : n.id || '(none)'
    const sub = n.requestsIn
      ? `${formatCount(n.requestsIn)} in${n.errorRateIn ? ` · ${formatPercent(n.errorRateIn)} err` : ''}`
      : n.requestsOut
        ? `${formatCount(n.requestsOut)} out`
        : ''
    root.append(
      svg(
        'g',
        { class: 'node', transform: `translate(${p.x},${p.y})`, 'data-node': n.id },
        svg(
          'title',
          {},
          `${n.id}\nin: ${formatCount(n.requestsIn)} · out: ${formatCount(n.requestsOut)}${n.errorRateIn !== null ? ` · errors in: ${formatPercent(n.errorRateIn)}` : ''}`,
        ),
        svg('rect', { width: o.nodeW, height: o.nodeH, rx: 6, class: 'node-box' }),
        svg('rect', { width: 4, height: o.nodeH, rx: 2, fill: valueColor(ids, n.id) }),
        svg('text', { x: 12, y: sub ? 17 : 24, class: 'node-name' }, name),
        sub ? svg('text', { x: 12, y: 32, class: 'node-sub' }, sub) : '',
      ),
    )
  }
  const legend = h(
    'div',
    { class: 'legend graph-legend' },
    h('span', null, h('i', { style: { background: errorColor(0) } }), 'errors < 1%'),
    h('span', null, h('i', { style: { background: errorColor(0.02) } }), '1–5%'),
    h('span', null, h('i', { style: { background: errorColor(0.1) } }), '≥ 5%'),
    h(
      'span',
      null,
      'width: ',
      g.edges.some((e) => e.rps !== null) ? 'requests per second' : g.edges.some((e) => e.bytes !== null) ? 'bytes' : 'requests',
    ),
  )
  return h('div', { class: 'pxl-graph', 'data-testid': 'pxl-graph' }, h('div', { class: 'pxl-graph-scroll' }, root), legend)
}
