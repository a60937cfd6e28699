import type { Flame } from '../lib/flame.ts'
import { type Viewport, type Matches, layout, graphHeight } from '../lib/layout.ts'
import { fillOf, fillBatches, labelFor, textFill } from '../lib/paint.ts'
import type { Theme } from '../lib/color.ts'

/** What one paint of a flame graph shows: the same on the page and in the painting worker. */
export interface PaintInput {
  flame: Flame
  vp: Viewport
  /** The zoomed frame (0 = root): its ancestors are drawn faded. */
  zoomNode: number
  theme: Theme
  matches: Matches | null
  dpr: number
}

// The page background (--bg in style.css), painted under the blocks of the opaque canvas.
const pageFill: Record<Theme, string> = { light: '#ffffff', dark: '#17171c' }
const FONT = '12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace'

/**
 * Lays out and paints a flame graph on a canvas, sizing its pixels for `dpr`: blocks batched by
 * fill (a `fillStyle` assignment parses a colour), then the labels of the frames wide enough.
 */
export function paintFlame(canvas: HTMLCanvasElement | OffscreenCanvas, p: PaintInput): void {
  const { flame: f, vp, dpr } = p
  const height = graphHeight(f, vp)
  const pw = Math.round(vp.width * dpr)
  const ph = Math.round(height * dpr)
  if (canvas.width !== pw || canvas.height !== ph) {
    canvas.width = pw
    canvas.height = ph
  }
  // Opaque: the browser composites it without blending (measurably cheaper without a GPU).
  const ctx = canvas.getContext('2d', { alpha: false }) as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null
  if (!ctx) return
  const rects = layout(f, vp)
  const zoomLevel = f.level[p.zoomNode] ?? 0
  const paint = { theme: p.theme, matches: p.matches }
  const batches = fillBatches(
    rects.map((r) => fillOf(f, r, paint)),
    (k) => rects[k]!.level < zoomLevel,
  )
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0)
  ctx.globalAlpha = 1
  ctx.fillStyle = pageFill[p.theme]
  ctx.fillRect(0, 0, vp.width, height)
  ctx.font = FONT
  ctx.textBaseline = 'middle'
  const charW = ctx.measureText('M').width
  const row = vp.rowHeight
  for (const b of batches) {
    ctx.fillStyle = b.fill
    // Ancestors of a zoomed frame are drawn faded: they are context, not part of the view.
    ctx.globalAlpha = b.faded ? 0.55 : 1
    for (const k of b.blocks) {
      const r = rects[k]!
      ctx.fillRect(r.x, r.y, Math.max(r.w - 1, 0.5), row - 1)
    }
  }
  ctx.globalAlpha = 1
  ctx.fillStyle = textFill[p.theme]
  for (const r of rects) {
    if (r.count !== 1 || r.w < 3 * charW) continue
    const label = labelFor(f.names[f.name[r.node]!]!, r.w, charW)
    if (label) ctx.fillText(label, r.x + 3, r.y + row / 2)
  }
}
