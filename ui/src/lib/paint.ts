import type { Flame } from './flame.ts'
import type { Matches, Rect } from './layout.ts'
import { diffColor, frameColor, shareChange, type Theme } from './color.ts'
import { fitName } from './names.ts'

/** How blocks are filled: by package, or dimmed except search matches; diffs by change in share. */
export interface PaintOptions {
  theme: Theme
  matches?: Matches | null
}

const mergedFill: Record<Theme, string> = { light: '#c8c8d0', dark: '#4a4a55' }
const dimFill: Record<Theme, string> = { light: '#e4e4e8', dark: '#2e2e36' }
export const textFill: Record<Theme, string> = { light: '#1b1b22', dark: '#eeeef2' }

/** The fill of one block (shared by the canvas and the SVG export, so both look the same). */
export function fillOf(f: Flame, r: Rect, o: PaintOptions): string {
  if (r.count > 1) return mergedFill[o.theme]
  const i = r.node
  if (o.matches && !o.matches.hit[i]) return dimFill[o.theme]
  // The synthetic root (name 0, "total") is grey; a sandwich's root is a real function, coloured.
  if (i === 0 && f.name[0] === 0) return mergedFill[o.theme]
  if (f.diff) {
    const d = f.diff
    return diffColor(shareChange(d.lTotal[i]!, d.rTotal[i]!, d.leftTicks, d.rightTicks), o.theme)
  }
  return frameColor(f.names[f.name[i]!]!, o.theme)
}

/** Blocks of one fill (faded or not), so that the canvas sets each colour once. */
export interface FillBatch {
  fill: string
  faded: boolean
  blocks: number[]
}

/**
 * The blocks grouped by fill and fading, in first-seen order: a canvas `fillStyle` assignment
 * parses a CSS colour, and one per block (~4,000 on a 100,000-node graph) cost more than the fills.
 */
export function fillBatches(fills: readonly string[], faded: (k: number) => boolean): FillBatch[] {
  const by = new Map<string, FillBatch>()
  for (let k = 0; k < fills.length; k++) {
    const fade = faded(k)
    const key = fade ? `~${fills[k]}` : fills[k]!
    let b = by.get(key)
    if (!b) by.set(key, (b = { fill: fills[k]!, faded: fade, blocks: [] }))
    b.blocks.push(k)
  }
  return [...by.values()]
}

/** The label drawn in a block `w` px wide (`charWidth` px per char), or "": see `fitName`. */
export function labelFor(name: string, w: number, charWidth: number): string {
  return fitName(name, Math.floor((w - 6) / charWidth))
}

/** The height of an export's title line, px. */
export const HEADING = 24

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/** The laid-out flame graph as a standalone SVG document (the "SVG" export), with a tooltip per frame. */
export function toSvg(
  f: Flame,
  rects: readonly Rect[],
  size: { width: number; height: number; rowHeight: number /** A title line above the graph (what, which range). */; heading?: string },
  o: PaintOptions,
  title = (i: number) => f.names[f.name[i]!]!,
): string {
  const top = size.heading ? HEADING : 0
  const height = size.height + top
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size.width}" height="${height}" viewBox="0 0 ${size.width} ${height}" font-family="ui-monospace, monospace" font-size="12">`,
    `<rect width="100%" height="100%" fill="${o.theme === 'light' ? '#ffffff' : '#17171c'}"/>`,
  ]
  if (size.heading) {
    out.push(
      `<title>${esc(size.heading)}</title>`,
      `<text x="3" y="16" font-weight="bold" fill="${textFill[o.theme]}">${esc(size.heading)}</text>`,
      `<g transform="translate(0,${top})">`,
    )
  }
  for (const r of rects) {
    const name = r.count > 1 ? `${r.count} small frames` : title(r.node)
    const label = r.count > 1 ? '' : labelFor(f.names[f.name[r.node]!]!, r.w, 7.2)
    out.push(
      `<g><title>${esc(name)}</title><rect x="${r.x.toFixed(1)}" y="${r.y}" width="${Math.max(0.5, r.w - 0.5).toFixed(1)}" height="${size.rowHeight - 1}" fill="${fillOf(f, r, o)}"/>` +
        (label
          ? `<text x="${(r.x + 3).toFixed(1)}" y="${r.y + size.rowHeight - 5}" fill="${textFill[o.theme]}">${esc(label)}</text>`
          : '') +
        '</g>',
    )
  }
  if (size.heading) out.push('</g>')
  out.push('</svg>')
  return out.join('\n')
}
