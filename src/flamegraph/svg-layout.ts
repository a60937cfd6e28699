import { decodeLevels, type FlameGraph, type FlameGraphDiff } from '../model/flamegraph.ts'

/** Geometry options of flamegraph.pl that decide where frames go. */
export interface LayoutOptions {
  /** Image width in px (1200). */
  width?: number
  /** Frame height in px (16). */
  frameHeight?: number
  /** Frames narrower than this are pruned: px, or "N%" of the total (0.1 px). */
  minWidth?: string | number
  fontSize?: number
  /** Icicle graph: root at the top. */
  inverted?: boolean
  /** A subtitle takes a line more at the top. */
  subtitle?: boolean
  /** Width is drawn against this total when it is larger than the real one. */
  total?: number
}

/** One frame to draw: its place in px and its values. */
export interface FrameBox {
  name: string
  depth: number
  /** Width in counts (the "after" side for a differential graph) and x offset in counts. */
  value: number
  offset: number
  /** after − before, for a differential graph. */
  delta?: number
  x: number
  y: number
  w: number
  h: number
}

export interface Layout {
  frames: FrameBox[]
  width: number
  height: number
  /** The total the widths are drawn against. */
  total: number
  maxDepth: number
  xpad: number
  ypadTop: number
  ypadBottom: number
}

export const XPAD = 10
const FRAME_PAD = 1

/** Parses `--minwidth`: a px number or "N%" of the total, as counts. */
export function minWidthCounts(minWidth: string | number, total: number, countsPerPx: number): number {
  const s = String(minWidth)
  if (s.endsWith('%')) return (Number(s.slice(0, -1)) / 100) * total
  return Number(s) * countsPerPx
}

/** A frame before placing: its depth, name and width and offset in counts. */
export interface RawFrame {
  name: string
  depth: number
  value: number
  offset: number
  delta?: number
}

/** The narrowest frame drawn, in counts, for a graph whose counts sum to `real`. */
export function minFrameValue(real: number, options: Pick<LayoutOptions, 'width' | 'minWidth' | 'total'> = {}): number {
  const total = Math.max(real, options.total ?? 0)
  if (!(total > 0)) return 0
  const pxPerCount = ((options.width ?? 1200) - 2 * XPAD) / total
  return minWidthCounts(options.minWidth ?? 0.1, total, 1 / pxPerCount)
}

/** Lays out a flame graph's levels as flamegraph.pl draws them (root "all" at the bottom). */
export function layoutFrames(fg: FlameGraph | FlameGraphDiff, options: LayoutOptions = {}): Layout {
  const diff = 'leftTicks' in fg
  const raw: RawFrame[] = []
  const levels = decodeLevels(fg.levels, diff)
  for (let d = 0; d < levels.length; d++) {
    for (const n of levels[d]!) {
      const f: RawFrame = {
        name: d === 0 ? 'all' : fg.names[n.name]!,
        depth: d,
        value: diff ? n.rTotal! : n.total,
        offset: diff ? n.rx! : n.x,
      }
      if (diff) f.delta = n.rTotal! - n.total
      raw.push(f)
    }
  }
  return placeFrames(raw, diff ? fg.rightTicks : fg.total, options)
}

/**
 * Places frames (depth by depth, each depth in x order) in px: widths against the total (or a
 * larger `total` option), frames narrower than `minWidth` left out, the root at the bottom.
 */
export function placeFrames(raw: readonly RawFrame[], real: number, options: LayoutOptions = {}): Layout {
  const width = options.width ?? 1200
  const fh = options.frameHeight ?? 16
  const fontSize = options.fontSize ?? 12
  const total = Math.max(real, options.total ?? 0)
  const pxPerCount = total > 0 ? (width - 2 * XPAD) / total : 0
  const minCounts = minFrameValue(real, options)
  const ypadTop = fontSize * 3 + (options.subtitle ? fontSize * 2 : 0)
  const ypadBottom = fontSize * 2 + 10
  const frames: FrameBox[] = []
  let maxDepth = 0
  for (const f of raw) {
    if (f.value <= 0 || f.value < minCounts) continue
    const box: FrameBox = {
      name: f.name,
      depth: f.depth,
      value: f.value,
      offset: f.offset,
      x: XPAD + f.offset * pxPerCount,
      y: 0,
      w: f.value * pxPerCount,
      h: fh - FRAME_PAD,
    }
    if (f.delta !== undefined) box.delta = f.delta
    frames.push(box)
    if (f.depth > maxDepth) maxDepth = f.depth
  }
  const height = (maxDepth + 1) * fh + ypadTop + ypadBottom
  for (const b of frames) b.y = options.inverted ? ypadTop + b.depth * fh : height - ypadBottom - (b.depth + 1) * fh + FRAME_PAD
  return { frames, width, height, total, maxDepth, xpad: XPAD, ypadTop, ypadBottom }
}

/** The label that fits in `w` px: the name, or its start and "..", or nothing when too narrow. */
export function fitText(name: string, w: number, fontSize: number, fontWidth: number): string {
  const chars = Math.floor(w / (fontSize * fontWidth))
  if (chars < 3) return ''
  return chars < name.length ? name.slice(0, chars - 2) + '..' : name
}
