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

/**
 * Frames before placing, as columns (a typed array per field): depth by depth, each depth in x
 * order. A graph of 100,000 frames makes no object per frame (objects that live until drawing
 * are copied by every young-generation GC and were most of its time).
 */
export interface FrameTable {
  n: number
  /** Names by id; frame i is named `names[name[i]]`. */
  names: readonly string[]
  name: Int32Array
  depth: Int32Array
  /** Width in counts (the "after" side for a differential graph) and x offset in counts. */
  value: Float64Array
  offset: Float64Array
  /** after − before, for a differential graph. */
  delta: Float64Array | null
}

/** An empty table with room for `n` frames (`n` is set by whoever fills it). */
export function frameTable(names: readonly string[], n: number, diff = false): FrameTable {
  const t = { n: 0, names, name: new Int32Array(n), depth: new Int32Array(n), value: new Float64Array(n), offset: new Float64Array(n) }
  return { ...t, delta: diff ? new Float64Array(n) : null }
}

/** Where frames go: frame i of the table is drawn at x = xpad + offset·pxPerCount, w = value·pxPerCount. */
export interface Layout {
  table: FrameTable
  /** The frames wide enough to draw, as table indices in table order. */
  drawn: Int32Array
  width: number
  height: number
  /** The total the widths are drawn against. */
  total: number
  pxPerCount: number
  frameHeight: number
  inverted: boolean
  maxDepth: number
  xpad: number
  ypadTop: number
  ypadBottom: number
}

/** One placed frame in px, for tests and callers that want objects. */
export interface FrameBox {
  name: string
  depth: number
  value: number
  offset: number
  delta?: number
  x: number
  y: number
  w: number
  h: number
}

export const XPAD = 10
const FRAME_PAD = 1

/** Parses `--minwidth`: a px number or "N%" of the total, as counts. */
export function minWidthCounts(minWidth: string | number, total: number, countsPerPx: number): number {
  const s = String(minWidth)
  if (s.endsWith('%')) return (Number(s.slice(0, -1)) / 100) * total
  return Number(s) * countsPerPx
}

/** The narrowest frame drawn, in counts, for a graph whose counts sum to `real`. */
export function minFrameValue(real: number, options: Pick<LayoutOptions, 'width' | 'minWidth' | 'total'> = {}): number {
  const total = Math.max(real, options.total ?? 0)
  if (!(total > 0)) return 0
  const pxPerCount = ((options.width ?? 1200) - 2 * XPAD) / total
  return minWidthCounts(options.minWidth ?? 0.1, total, 1 / pxPerCount)
}

/** A flame graph's levels as a frame table (root "all" at depth 0). */
export function levelsTable(fg: FlameGraph | FlameGraphDiff): FrameTable {
  const diff = 'leftTicks' in fg
  const levels = decodeLevels(fg.levels, diff)
  let n = 0
  for (const l of levels) n += l.length
  const t = frameTable([...fg.names, 'all'], n, diff)
  for (let d = 0; d < levels.length; d++) {
    for (const node of levels[d]!) {
      const i = t.n++
      t.name[i] = d === 0 ? fg.names.length : node.name
      t.depth[i] = d
      t.value[i] = diff ? node.rTotal! : node.total
      t.offset[i] = diff ? node.rx! : node.x
      if (t.delta) t.delta[i] = node.rTotal! - node.total
    }
  }
  return t
}

/** Lays out a flame graph's levels as flamegraph.pl draws them (root "all" at the bottom). */
export function layoutFrames(fg: FlameGraph | FlameGraphDiff, options: LayoutOptions = {}): Layout {
  return placeFrames(levelsTable(fg), 'leftTicks' in fg ? fg.rightTicks : fg.total, options)
}

/**
 * Places frames in px: widths against the total (or a larger `total` option), frames narrower
 * than `minWidth` left out, the root at the bottom (at the top when inverted).
 */
export function placeFrames(t: FrameTable, real: number, options: LayoutOptions = {}): Layout {
  const width = options.width ?? 1200
  const fh = options.frameHeight ?? 16
  const fontSize = options.fontSize ?? 12
  const total = Math.max(real, options.total ?? 0)
  const pxPerCount = total > 0 ? (width - 2 * XPAD) / total : 0
  const minCounts = minFrameValue(real, options)
  const ypadTop = fontSize * 3 + (options.subtitle ? fontSize * 2 : 0)
  const ypadBottom = fontSize * 2 + 10
  const drawn = new Int32Array(t.n)
  let k = 0
  let maxDepth = 0
  for (let i = 0; i < t.n; i++) {
    const v = t.value[i]!
    if (v <= 0 || v < minCounts) continue
    drawn[k++] = i
    if (t.depth[i]! > maxDepth) maxDepth = t.depth[i]!
  }
  const height = (maxDepth + 1) * fh + ypadTop + ypadBottom
  const inverted = !!options.inverted
  return {
    table: t,
    drawn: drawn.subarray(0, k),
    width,
    height,
    total,
    pxPerCount,
    frameHeight: fh,
    inverted,
    maxDepth,
    xpad: XPAD,
    ypadTop,
    ypadBottom,
  }
}

/** Frame i's y and height in px. */
export const frameY = (L: Layout, i: number): number => {
  const d = L.table.depth[i]!
  return L.inverted ? L.ypadTop + d * L.frameHeight : L.height - L.ypadBottom - (d + 1) * L.frameHeight + FRAME_PAD
}
export const frameH = (L: Layout): number => L.frameHeight - FRAME_PAD

/** The drawn frames as objects in px. */
export function frameBoxes(L: Layout): FrameBox[] {
  const t = L.table
  return Array.from(L.drawn, (i) => {
    const box: FrameBox = {
      name: t.names[t.name[i]!]!,
      depth: t.depth[i]!,
      value: t.value[i]!,
      offset: t.offset[i]!,
      x: L.xpad + t.offset[i]! * L.pxPerCount,
      y: frameY(L, i),
      w: t.value[i]! * L.pxPerCount,
      h: frameH(L),
    }
    if (t.delta) box.delta = t.delta[i]!
    return box
  })
}

/** The label that fits in `w` px: the name, or its start and "..", or nothing when too narrow. */
export function fitText(name: string, w: number, fontSize: number, fontWidth: number): string {
  const chars = Math.floor(w / (fontSize * fontWidth))
  if (chars < 3) return ''
  return chars < name.length ? name.slice(0, chars - 2) + '..' : name
}
