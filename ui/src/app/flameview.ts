import { type Flame, pathOf, nodeByPath } from '../lib/flame.ts'
import { type Viewport, type Matches, layout, fullViewport, zoomTo, hitTest, graphHeight, nodeRect } from '../lib/layout.ts'
import { toSvg, HEADING, textFill } from '../lib/paint.ts'
import { paintFlame } from './flamepaint.ts'
import type { ToWorker, FromWorker } from './flame.worker.ts'
import { shareChange, type Theme } from '../lib/color.ts'
import { formatValue, formatPercent, formatChange } from '../lib/format.ts'
import { h } from './dom.ts'
import { nameParts, displayName } from '../lib/names.ts'

export interface FlameViewOptions {
  /** Called with the zoomed frame's stack ([] = reset) when the user clicks a frame. */
  onZoom: (path: string[]) => void
  /** Called when the user asks for a function's sandwich (right click). */
  onSandwich?: (name: string) => void
}

/** What one draw shows. */
export interface FlameViewState {
  flame: Flame
  unit: string
  theme: Theme
  orientation: 'flame' | 'icicle'
  zoom: string[]
  matches: Matches | null
}

const ROW = 18
const newCanvas = () =>
  h('canvas', {
    class: 'flame-canvas',
    'data-testid': 'flame-canvas',
    role: 'img',
    'aria-label': 'Flame graph: hover a frame for its values, click to zoom',
  })

/**
 * The canvas flame graph: a thin layer over the pure layout (rectangles for a viewport) and
 * hit-testing. A worker paints it on an OffscreenCanvas when the data, zoom or width change (on
 * the page where workers cannot); hovering moves a box over it and never repaints.
 */
export class FlameView {
  readonly el: HTMLDivElement
  canvas: HTMLCanvasElement
  private readonly tip: HTMLDivElement
  private readonly tipText = new TooltipText()
  private s: FlameViewState | null = null
  private vp: Viewport | null = null
  private hover = -1
  private tipNode = -1
  private zoomNode = 0
  private frame = 0
  /** The painting worker and what it holds (null: painting on the page). */
  private worker: Worker | null = null
  private sent: { flame: Flame | null; matches: Matches | null | undefined } = { flame: null, matches: undefined }
  private drawSeq = 0
  private pngSeq = 0
  private readonly pngs = new Map<number, (b: Blob | null) => void>()
  /** The hover outline: a positioned box over the canvas, so hovering never touches a canvas. */
  private readonly outline: HTMLDivElement
  private painted = false
  private readonly resize: ResizeObserver
  /** The wrapper's width as the ResizeObserver last saw it: reading clientWidth after a DOM change would force a layout in the click that zooms. */
  private width = 0

  /** The handlers, replaceable: one view instance serves several tabs. */
  constructor(public opts: FlameViewOptions) {
    this.canvas = newCanvas()
    this.tip = h('div', { class: 'tooltip', hidden: true, 'data-testid': 'tooltip' }, ...this.tipText.els)
    this.outline = h('div', { class: 'flame-outline', hidden: true })
    this.el = h('div', { class: 'flame-wrap' }, this.canvas, this.outline, this.tip)
    this.startWorker()
    // On the wrapper: the canvas may be replaced (see startWorker); the box and tooltip let pointers through.
    this.el.addEventListener('mousemove', (e) => this.onMove(e))
    this.el.addEventListener('mouseleave', () => this.setHover(-1, null))
    this.el.addEventListener('click', (e) => this.onClick(e))
    this.el.addEventListener('contextmenu', (e) => {
      const i = this.nodeAt(e)
      if (i > 0 && this.opts.onSandwich && this.s) {
        e.preventDefault()
        this.opts.onSandwich(this.s.flame.names[this.s.flame.name[i]!]!)
      }
    })
    this.resize = new ResizeObserver((es) => {
      this.width = es[0]!.contentRect.width
      if (this.width) this.relayout()
    })
    this.resize.observe(this.el)
  }

  /** Shows a flame graph (or the same one with other options). */
  set(s: FlameViewState): void {
    this.s = s
    this.tipNode = -1
    const z = nodeByPath(s.flame, s.zoom)
    this.zoomNode = z > 0 ? z : 0
    this.relayout()
  }

  /** The frame index currently zoomed to (0 = root). */
  get zoomed(): number {
    return this.zoomNode
  }

  destroy(): void {
    this.resize.disconnect()
    this.worker?.terminate()
  }

  private relayout(): void {
    const s = this.s
    if (!s) return
    // Not in the page yet (a tab being built): its width is unknown, and a canvas laid out at a
    // guess would be painted for one width and shown at another. The ResizeObserver lays it out
    // once it is placed.
    if (!this.el.isConnected) {
      // In case it is placed at the width the observer saw last (which then reports nothing).
      this.vp = null
      requestAnimationFrame(() => this.el.isConnected && !this.vp && this.relayout())
      return
    }
    if (!this.width) this.width = this.el.clientWidth
    const width = Math.max(100, this.width)
    const base = fullViewport(s.flame, width, { rowHeight: ROW, orientation: s.orientation, minWidth: 2 })
    this.vp = this.zoomNode > 0 ? zoomTo(s.flame, base, this.zoomNode) : base
    this.painted = false
    this.schedule()
  }

  private schedule(): void {
    if (!this.frame) this.frame = requestAnimationFrame(() => ((this.frame = 0), this.draw()))
  }

  /** Sends the graph to a painting worker when the browser can hand a canvas to one. */
  private startWorker(): void {
    if (typeof Worker === 'undefined' || !('transferControlToOffscreen' in this.canvas)) return
    try {
      const w = new Worker(new URL('./flame.worker.ts', import.meta.url), { type: 'module' })
      const offscreen = this.canvas.transferControlToOffscreen()
      w.postMessage({ t: 'canvas', canvas: offscreen } satisfies ToWorker, [offscreen])
      w.onmessage = (e: MessageEvent<FromWorker>) => {
        const m = e.data
        if (m.t === 'drawn') {
          // The bitmap of this size is on its way to the screen: only now does the box take that
          // size, so the canvas never shows a bitmap stretched to another width (issue 15 §2).
          this.sizeCanvas(m.width, m.height)
          if (m.seq === this.drawSeq) this.canvas.removeAttribute('data-pending')
        } else if (m.t === 'png') {
          this.pngs.get(m.seq)?.(m.blob)
          this.pngs.delete(m.seq)
        }
      }
      // A worker that fails to load (no module workers) leaves a canvas nobody paints: paint on the page, on a fresh one.
      w.onerror = () => {
        w.terminate()
        this.worker = null
        for (const done of this.pngs.values()) done(null)
        this.pngs.clear()
        const fresh = newCanvas()
        this.canvas.replaceWith(fresh)
        this.canvas = fresh
        this.painted = false
        this.schedule()
      }
      this.worker = w
    } catch {
      this.worker = null
    }
  }

  private post(m: ToWorker): void {
    this.worker!.postMessage(m)
  }

  /** Paints when the view changed (on the worker, or here), and places the hover box; devicePixelRatio is read here, at draw time. */
  draw(): void {
    const s = this.s
    const vp = this.vp
    if (!s || !vp) return
    const dpr = window.devicePixelRatio || 1
    if (!this.painted) {
      const input = { vp, zoomNode: this.zoomNode, theme: s.theme, dpr }
      if (this.worker) {
        // The graph crosses once per data (a structured clone of its typed arrays), not per zoom.
        if (this.sent.flame !== s.flame) this.post({ t: 'flame', flame: (this.sent.flame = s.flame) })
        if (this.sent.matches !== s.matches) this.post({ t: 'matches', matches: (this.sent.matches = s.matches) })
        this.canvas.setAttribute('data-pending', '')
        this.post({ t: 'draw', seq: ++this.drawSeq, input })
      } else {
        paintFlame(this.canvas, { ...input, flame: s.flame, matches: s.matches })
        this.sizeCanvas(vp.width, graphHeight(s.flame, vp))
      }
      this.painted = true
    }
    const r = this.hover >= 0 ? nodeRect(s.flame, vp, this.hover) : null
    this.outline.hidden = !r
    if (r)
      Object.assign(this.outline.style, {
        transform: `translate(${r.x}px, ${r.y}px)`,
        width: `${Math.max(r.w - 1, 1)}px`,
        height: `${ROW - 1}px`,
      })
  }

  /** Gives the canvas box the CSS size its bitmap was painted for. */
  private sizeCanvas(width: number, height: number): void {
    if (this.canvas.style.width !== `${width}px` || this.canvas.style.height !== `${height}px`) {
      this.canvas.style.width = `${width}px`
      this.canvas.style.height = `${height}px`
    }
  }

  /** The graph as drawn, as a PNG image, under a title line when `heading` is given. */
  async png(heading = ''): Promise<Blob | null> {
    const graph = await (this.worker
      ? new Promise<Blob | null>((resolve) => {
          const seq = ++this.pngSeq
          this.post({ t: 'png', seq })
          this.pngs.set(seq, resolve)
        })
      : new Promise<Blob | null>((resolve) => this.canvas.toBlob(resolve)))
    if (!graph || !heading || !this.s) return graph
    const img = await createImageBitmap(graph)
    // The graph's bitmap is in device pixels: the title line is drawn at the same scale.
    const scale = this.vp ? img.width / this.vp.width : 1
    const c = new OffscreenCanvas(img.width, img.height + Math.round(HEADING * scale))
    const ctx = c.getContext('2d')!
    ctx.fillStyle = this.s.theme === 'light' ? '#ffffff' : '#17171c'
    ctx.fillRect(0, 0, c.width, c.height)
    ctx.scale(scale, scale)
    ctx.fillStyle = textFill[this.s.theme]
    ctx.font = 'bold 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace'
    ctx.fillText(heading, 3, 16)
    ctx.setTransform(1, 0, 0, 1, 0, 0)
    ctx.drawImage(img, 0, Math.round(HEADING * scale))
    return c.convertToBlob({ type: 'image/png' })
  }

  /** The frame under the pointer and the pointer in canvas px (the canvas sits at the wrapper's top-left). */
  private pointer(e: MouseEvent): { node: number; x: number; y: number } {
    if (!this.s || !this.vp) return { node: -1, x: 0, y: 0 }
    const b = this.canvas.getBoundingClientRect()
    const x = e.clientX - b.left
    const y = e.clientY - b.top
    return { node: hitTest(this.s.flame, this.vp, x, y), x, y }
  }

  private nodeAt(e: MouseEvent): number {
    return this.pointer(e).node
  }

  private onMove(e: MouseEvent): void {
    const p = this.pointer(e)
    this.setHover(p.node, p)
  }

  private setHover(i: number, at: { x: number; y: number } | null): void {
    if (i !== this.hover) {
      this.hover = i
      this.schedule()
    }
    if (i < 0 || !at || !this.s || !this.vp) {
      this.tip.hidden = true
      this.tipNode = -1
      return
    }
    if (this.tipNode !== i) {
      this.tipText.show(tooltipLines(this.s, i))
      this.tipNode = i
    }
    this.tip.hidden = false
    // Right of the pointer on the left part of the graph, left of it on the right part: placed
    // without measuring the tooltip (a read that would force a layout on every move).
    // (A percentage in translate is of the tooltip's own width: no measuring.)
    const x = at.x > this.vp.width * 0.6 ? `calc(${at.x - 14}px - 100%)` : `${at.x + 14}px`
    this.tip.style.transform = `translate(${x}, ${at.y + 16}px)`
  }

  private onClick(e: MouseEvent): void {
    const i = this.nodeAt(e)
    if (i < 0 || !this.s) return
    this.opts.onZoom(i === this.zoomNode ? pathOf(this.s.flame, Math.max(0, this.s.flame.parent[i]!)) : pathOf(this.s.flame, i))
  }

  /** The current view as an SVG document, under a title line when `heading` is given. */
  toSvg(heading = ''): string {
    if (!this.s || !this.vp) return ''
    const s = this.s
    return toSvg(
      s.flame,
      layout(s.flame, this.vp),
      { width: this.vp.width, height: graphHeight(s.flame, this.vp), rowHeight: ROW, heading },
      { theme: s.theme, matches: s.matches },
      (i) => tooltipText(s, i),
    )
  }
}

function tooltipText(s: FlameViewState, i: number): string {
  return tooltipLines(s, i)
    .map(([k, v]) => (k ? `${k}: ${v}` : displayName(v)))
    .join('\n')
}

/**
 * The tooltip's elements, made once: moving to another frame changes their text (a few text nodes)
 * rather than building a dozen elements per frame the pointer crosses.
 */
class TooltipText {
  private readonly name = h('div', { class: 'tip-name' })
  private readonly file = h('div', { class: 'tip-file' })
  private readonly rows = h('tbody')
  readonly els = [
    this.name,
    this.file,
    h('table', null, this.rows),
    h('div', { class: 'tip-hint' }, 'Click to zoom · right-click for the sandwich view'),
  ]

  show(lines: [string, string][]): void {
    const [[, full], ...rest] = lines as [[string, string], ...[string, string][]]
    const { fn, file } = nameParts(full)
    this.name.textContent = fn
    this.file.textContent = file
    this.file.hidden = !file
    // Two rows for a profile, three for a diff: rows are added once and then reused.
    while (this.rows.children.length < rest.length) this.rows.append(h('tr', null, h('th'), h('td')))
    while (this.rows.children.length > rest.length) this.rows.lastElementChild!.remove()
    rest.forEach(([k, v], n) => {
      const tr = this.rows.children[n]!
      if (tr.firstChild!.textContent !== k) tr.firstChild!.textContent = k
      tr.lastChild!.textContent = v
    })
  }
}

/** The tooltip's content: the function, then self and total in units and % of total (both sides for a diff). */
function tooltipLines(s: FlameViewState, i: number): [string, string][] {
  const f = s.flame
  const u = (v: number) => formatValue(v, s.unit)
  const lines: [string, string][] = [['', f.names[f.name[i]!]!]]
  if (f.diff) {
    const d = f.diff
    const pct = (v: number, t: number) => formatPercent(t ? v / t : 0)
    lines.push(['Baseline', `${u(d.lTotal[i]!)} total (${pct(d.lTotal[i]!, d.leftTicks)}), ${u(d.lSelf[i]!)} self`])
    lines.push(['Comparison', `${u(d.rTotal[i]!)} total (${pct(d.rTotal[i]!, d.rightTicks)}), ${u(d.rSelf[i]!)} self`])
    lines.push(['Change', formatChange(shareChange(d.lTotal[i]!, d.rTotal[i]!, d.leftTicks, d.rightTicks))])
  } else {
    const t = f.rootTotal || 1
    lines.push(['Self', `${u(f.self[i]!)} (${formatPercent(f.self[i]! / t)})`])
    lines.push(['Total', `${u(f.total[i]!)} (${formatPercent(f.total[i]! / t)})`])
  }
  return lines
}
