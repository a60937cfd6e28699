import type { Series } from './api.ts'
import { formatValue } from '../lib/format.ts'
import { fillSeries, valueColor, seriesPath } from '../lib/series.ts'

const NS = 'http://www.w3.org/2000/svg'
const svg = (tag: string, attrs: Record<string, string | number>): SVGElement => {
  const el = document.createElementNS(NS, tag)
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v))
  return el
}

const fmtTime = (ms: number, span: number) => {
  const d = new Date(ms)
  const iso = d.toISOString()
  return span > 2 * 86_400_000 ? iso.slice(5, 16).replace('T', ' ') : span < 600_000 ? iso.slice(11, 19) : iso.slice(11, 16)
}

/**
 * The timeline: one line per series (one per label value with group-by), in UTC. Dragging
 * across it selects a new time range.
 */
export function timeline(opts: {
  series: Series[]
  step: number
  from: number
  until: number
  unit: string /** Formats the axis maximum (default: the profile unit). */
  format?: (v: number) => string /** Drag-to-select; no dragging without it. */
  onRange?: (from: number, until: number) => void /** About the drawn width in px (the text keeps its shape); 1000 by default. */
  width?: number /** Each point holds its value for one step (measurements per step, drawn as steps). */
  steps?: boolean
  groupBy: string /** The drag band's class: "" (zoom), `baseline` or `comparison` (a diff side). */
  band?: string
  marks?: { from: number; until: number; cls: string; label: string }[]
}): HTMLElement {
  const W = opts.width ?? 1000
  const H = 120
  const pad = { l: 56, r: 8, t: 8, b: 20 }
  const root = document.createElement('div')
  root.className = 'timeline'
  const el = svg('svg', {
    viewBox: `0 0 ${W} ${H}`,
    preserveAspectRatio: 'none',
    class: 'timeline-svg',
    'data-testid': 'timeline',
  }) as SVGSVGElement
  root.append(el)
  const span = opts.until - opts.from
  const series = opts.series.map((s) => ({ labels: s.labels, points: fillSeries(s.points, opts.from, opts.until, opts.step * 1000) }))
  let max = 0
  for (const s of series) for (const [, v] of s.points) max = Math.max(max, v)
  const X = (t: number) => pad.l + ((t - opts.from) / span) * (W - pad.l - pad.r)
  const Y = (v: number) => H - pad.b - (max ? (v / max) * (H - pad.t - pad.b) : 0)
  for (let k = 0; k <= 4; k++) {
    const t = opts.from + (span * k) / 4
    el.append(svg('line', { x1: X(t), x2: X(t), y1: pad.t, y2: H - pad.b, class: 'grid' }))
    const label = svg('text', { x: X(t), y: H - 5, class: 'axis', 'text-anchor': k === 0 ? 'start' : k === 4 ? 'end' : 'middle' })
    label.textContent = fmtTime(t, span)
    el.append(label)
  }
  const maxLabel = svg('text', { x: pad.l - 4, y: pad.t + 9, class: 'axis', 'text-anchor': 'end' })
  maxLabel.textContent = opts.format ? opts.format(max) : formatValue(max, opts.unit)
  el.append(maxLabel, svg('line', { x1: pad.l, x2: W - pad.r, y1: H - pad.b, y2: H - pad.b, class: 'base' }))
  const legend = document.createElement('div')
  legend.className = 'legend'
  const names = series.map((s) => s.labels[opts.groupBy] ?? '')
  for (const [k, s] of series.entries()) {
    const name = names[k] || '(none)'
    const color = opts.groupBy ? valueColor(names, names[k]!) : 'var(--accent)'
    // Clamped to the plot: a step may hold past the end of the range.
    const { d, x0, x1 } = seriesPath(s.points, (t) => Math.min(W - pad.r, Math.max(pad.l, X(t))), Y, opts.steps ? opts.step * 1000 : 0)
    if (!opts.groupBy && s.points.length)
      el.append(svg('path', { d: `${d}L${x1.toFixed(1)},${H - pad.b}L${x0.toFixed(1)},${H - pad.b}Z`, class: 'area' }))
    el.append(svg('path', { d, fill: 'none', stroke: color, 'stroke-width': 1.5, 'vector-effect': 'non-scaling-stroke' }))
    if (opts.groupBy) {
      const item = document.createElement('span')
      item.innerHTML = `<i style="background:${color}"></i>`
      item.append(name)
      legend.append(item)
    }
  }
  if (opts.groupBy) root.append(legend)
  // Shaded ranges (the diff's baseline and comparison), clipped to the chart.
  for (const m of opts.marks ?? []) {
    const a = Math.max(pad.l, X(m.from))
    const b = Math.min(W - pad.r, X(m.until))
    if (b <= a) continue
    const r = svg('rect', { x: a, y: pad.t, width: b - a, height: H - pad.t - pad.b, class: `mark ${m.cls}` })
    const t = svg('title', {})
    t.textContent = m.label
    r.append(t)
    el.insertBefore(r, el.firstChild)
  }
  const onRange = opts.onRange
  if (!onRange) {
    el.classList.add('static')
    return root
  }
  // Drag to zoom: a band follows the pointer; releasing selects its range.
  const band = svg('rect', { y: pad.t, height: H - pad.t - pad.b, class: `band ${opts.band ?? ''}`, visibility: 'hidden' })
  el.append(band)
  let start: number | null = null
  const toX = (e: MouseEvent) => {
    const b = el.getBoundingClientRect()
    return Math.min(W - pad.r, Math.max(pad.l, ((e.clientX - b.left) / b.width) * W))
  }
  el.addEventListener('pointerdown', (e) => {
    el.setPointerCapture(e.pointerId)
    start = toX(e)
    band.setAttribute('visibility', 'visible')
    band.setAttribute('x', String(start))
    band.setAttribute('width', '0')
  })
  el.addEventListener('pointermove', (e) => {
    if (start === null) return
    const x = toX(e)
    band.setAttribute('x', String(Math.min(start, x)))
    band.setAttribute('width', String(Math.abs(x - start)))
  })
  el.addEventListener('pointerup', (e) => {
    if (start === null) return
    const x = toX(e)
    const a = Math.min(start, x)
    const b = Math.max(start, x)
    start = null
    band.setAttribute('visibility', 'hidden')
    if (b - a < 3) return
    // Whole minutes over an hour or more (a pixel is ~4 s there), else whole seconds: times that read well.
    const unit = span >= 3_600_000 ? 60_000 : 1000
    const t = (px: number) => Math.round((opts.from + ((px - pad.l) / (W - pad.l - pad.r)) * span) / unit) * unit
    onRange(t(a), t(b))
  })
  return root
}
