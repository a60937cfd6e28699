import type { FlameGraph, FlameGraphDiff } from '../model/flamegraph.ts'
import { KilnError } from '../model/errors.ts'
import { background, diffColor, frameColor, type Palette, type Rgb } from './palette.ts'
import { SVG_SCRIPT } from './svg-script.ts'
import { fitText, frameH, frameY, layoutFrames, placeFrames, type FrameTable, type Layout, type LayoutOptions } from './svg-layout.ts'

/** flamegraph.pl's options, as renderSvg takes them. */
export interface SvgOptions extends Omit<LayoutOptions, 'subtitle'> {
  title?: string
  subtitle?: string
  fontType?: string
  fontWidth?: number
  /** What a count is ("samples"). */
  countName?: string
  /** The label before a frame's details ("Function:"). */
  nameType?: string
  colors?: Palette
  /** yellow, blue, green, grey or #rrggbb. */
  bgColors?: string
  /** Colour by a hash of the name weighted to its start (similar names look alike). */
  hash?: boolean
  /** A consistent palette, read and extended (`--cp`): name → colour. */
  paletteMap?: Map<string, Rgb>
  /** Swap red and blue in a differential graph. */
  negate?: boolean
  /** A flame chart: the title says so (the layout is the caller's input order). */
  flamechart?: boolean
  /** Put into the SVG as a comment. */
  notes?: string
  /** Multiply displayed counts and percentages' counts by this. */
  factor?: number
}

const SPECIAL = /[&<>"\x00-\x08\x0b\x0c\x0e-\x1f]/
const SPECIALS = /[&<>"\x00-\x08\x0b\x0c\x0e-\x1f]/g
const ENTITY: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }
// XML 1.0 forbids most control characters even as references; they show as '?'.
const esc = (s: string): string => (SPECIAL.test(s) ? s.replace(SPECIALS, (c) => ENTITY[c] ?? '?') : s)

/** "1234567" → "1,234,567" (the integer part only). */
const commas = (n: number): string => {
  const s = Number.isInteger(n) ? String(n) : String(Number(n.toFixed(6)))
  const dot = s.indexOf('.')
  const int = dot < 0 ? s : s.slice(0, dot)
  if (int.length <= 3) return s
  let out = ''
  const neg = int[0] === '-' ? 1 : 0
  for (let i = neg; i < int.length; i++) {
    if (i > neg && (int.length - i) % 3 === 0) out += ','
    out += int[i]
  }
  return (neg ? '-' : '') + out + (dot < 0 ? '' : s.slice(dot))
}

/**
 * A coordinate to 2 decimals: `String(Math.round(n * 100) / 100)`, printed from the integer of
 * hundredths (up to 15 digits, which print the same) instead of formatting a double: 6 per frame,
 * and formatting doubles was a fifth of drawing 95,761 frames.
 */
const px = (n: number): string => {
  const v = Math.round(n * 100)
  if (!(v >= 0 && v < 1e15)) return String(v / 100)
  const int = Math.floor(v / 100)
  const f = v - int * 100
  return f === 0 ? String(int) : f % 10 === 0 ? `${int}.${f / 10}` : `${int}.${f < 10 ? '0' : ''}${f}`
}

/** Where SVG text goes: pieces of text, and numbers formatted as they go (`Latin1Writer` is one). */
export interface SvgSink {
  text(s: string): void
  /** A number as String(n) prints it. */
  int(n: number): void
  /** A coordinate rounded to 2 decimals, as px() prints it. */
  hundredths(n: number): void
}

/** The SVG as strings, for callers that want it whole. */
class StringSink implements SvgSink {
  readonly parts: string[] = []
  text(s: string): void {
    this.parts.push(s)
  }
  int(n: number): void {
    this.parts.push(String(n))
  }
  hundredths(n: number): void {
    this.parts.push(px(n))
  }
}

/**
 * An interactive SVG flame graph (flamegraph.pl's look: frames with titles "name (N samples,
 * P%)", click to zoom, Ctrl-F search) drawn from Kiln's flame graph levels. A `FlameGraphDiff`
 * draws a differential graph: widths from the second ("after") profile, red where it grew and
 * blue where it shrank.
 */
export function renderSvg(fg: FlameGraph | FlameGraphDiff, options: SvgOptions = {}): string {
  const out = new StringSink()
  renderLayout((lo) => layoutFrames(fg, lo), options, out)
  return out.parts.join('')
}

/**
 * The same SVG from frames already merged (`flowFolded`): no flame graph levels in between. With
 * a `sink`, the text goes there as it is made (a large graph is never one string) and '' is returned.
 */
export function renderFrames(frames: FrameTable, total: number, options: SvgOptions = {}, sink?: SvgSink): string {
  const out = sink ?? new StringSink()
  renderLayout((lo) => placeFrames(frames, total, lo), options, out)
  return out instanceof StringSink ? out.parts.join('') : ''
}

function renderLayout(layout: (o: LayoutOptions) => Layout, options: SvgOptions, sink: SvgSink): void {
  const o = options
  if (o.notes !== undefined && /[<>]|--/.test(o.notes))
    throw new KilnError('KILN_USAGE', "--notes may not contain '<', '>' or '--' (it goes into an SVG comment)")
  const fontSize = o.fontSize ?? 12
  const fontWidth = o.fontWidth ?? 0.59
  const fontType = o.fontType ?? 'Verdana'
  const countName = o.countName ?? 'samples'
  const palette = o.colors ?? 'hot'
  const factor = o.factor ?? 1
  const L = layout({ ...o, fontSize, subtitle: o.subtitle !== undefined && o.subtitle !== '' })
  const title = o.title ?? (o.inverted ? 'Icicle Graph' : o.flamechart ? 'Flame Chart' : 'Flame Graph')
  const [bg1, bg2] = background(palette, o.bgColors)
  const t = L.table
  let maxDelta = 0
  if (t.delta) for (const i of L.drawn) maxDelta = Math.max(maxDelta, Math.abs(t.delta[i]!))
  const colorOf = (name: string, delta: number | undefined): Rgb => {
    if (delta !== undefined) return diffColor(delta, maxDelta, !!o.negate)
    if (!o.paletteMap) return frameColor(palette, name, o.hash)
    let c = o.paletteMap.get(name)
    if (!c) o.paletteMap.set(name, (c = frameColor(palette, name, o.hash)))
    return c
  }
  const W = L.width
  const H = L.height
  const out = { push: (...parts: string[]) => parts.forEach((p) => sink.text(p)) }
  out.push(
    '<?xml version="1.0" standalone="no"?>\n',
    '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n',
    `<svg version="1.1" width="${W}" height="${H}" onload="init(evt)" viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"`,
    ` data-fontsize="${fontSize}" data-fontwidth="${fontWidth}" data-xpad="${L.xpad}" data-nametype="${esc(o.nameType ?? 'Function:')}">\n`,
    "<!-- Flame graph drawn by Kiln (kiln flamegraph); the layout and interaction follow Brendan Gregg's flamegraph.pl. -->\n",
  )
  if (o.notes !== undefined) out.push(`<!-- NOTES: ${o.notes} -->\n`)
  out.push(
    '<defs>\n',
    `\t<linearGradient id="background" y1="0" y2="1" x1="0" x2="0"><stop stop-color="${esc(bg1)}" offset="5%"/><stop stop-color="${esc(bg2)}" offset="95%"/></linearGradient>\n`,
    '</defs>\n',
    '<style type="text/css">\n',
    `\ttext { font-family: ${esc(fontType)}; font-size: ${fontSize}px; fill: rgb(0,0,0); }\n`,
    `\t#title { text-anchor: middle; font-size: ${fontSize + 5}px; }\n`,
    '\t#subtitle { text-anchor: middle; fill: rgb(160,160,160); }\n',
    '\t#search, #ignorecase { opacity: 0.1; cursor: pointer; }\n',
    '\t#search:hover, #search.show, #ignorecase:hover, #ignorecase.show { opacity: 1; }\n',
    '\t#unzoom { cursor: pointer; }\n',
    '\t#frames > *:hover { stroke: black; stroke-width: 0.5; cursor: pointer; }\n',
    '\t.hide { display: none; }\n',
    '\t.parent { opacity: 0.5; }\n',
    '</style>\n',
    `<script type="text/ecmascript"><![CDATA[${SVG_SCRIPT}]]></script>\n`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="url(#background)"/>\n`,
    `<text id="title" x="${W / 2}" y="${fontSize * 2}">${esc(title)}</text>\n`,
  )
  if (o.subtitle) out.push(`<text id="subtitle" x="${W / 2}" y="${fontSize * 4}">${esc(o.subtitle)}</text>\n`)
  out.push(
    `<text id="details" x="${L.xpad}" y="${H - L.ypadBottom / 2}"> </text>\n`,
    `<text id="unzoom" class="hide" x="${L.xpad}" y="${fontSize * 2}">Reset Zoom</text>\n`,
    `<text id="search" x="${W - L.xpad - 100}" y="${fontSize * 2}">Search</text>\n`,
    `<text id="ignorecase" x="${W - L.xpad - 16}" y="${fontSize * 2}">ic</text>\n`,
    `<text id="matched" class="hide" x="${W - L.xpad - 100}" y="${H - L.ypadBottom / 2}"> </text>\n`,
    '<g id="frames">\n',
  )
  const shown = L.total * factor
  const escCount = esc(countName)
  // A name's escaped text and fill once per name id (a graph has far fewer names than frames).
  const escaped: (string | undefined)[] = []
  const fills: (string | undefined)[] = []
  const fillOf = (c: Rgb) => `rgb(${c[0]},${c[1]},${c[2]})`
  const h = frameH(L)
  for (const i of L.drawn) {
    const id = t.name[i]!
    const fname = t.names[id]!
    const value = t.value[i]!
    const delta = t.delta ? t.delta[i]! : undefined
    const x = L.xpad + t.offset[i]! * L.pxPerCount
    const w = value * L.pxPerCount
    const y = frameY(L, i)
    const samples = value * factor
    const pct = shown > 0 ? ((100 * samples) / shown).toFixed(2) : '0.00'
    const name = (escaped[id] ??= esc(fname))
    const fill = delta !== undefined ? fillOf(colorOf(fname, delta)) : (fills[id] ??= fillOf(colorOf(fname, undefined)))
    const label = fitText(fname, w, fontSize, fontWidth)
    // Pieces and numbers straight to the sink: a template per frame made ~25 strings to join.
    sink.text('<g data-d="')
    sink.int(t.depth[i]!)
    sink.text('" data-name="')
    sink.text(name)
    sink.text('"><title>')
    // Escaping is per character: the escaped name, then the rest (digits, punctuation, the count name).
    sink.text(name)
    sink.text(' (')
    sink.text(commas(samples))
    sink.text(' ')
    sink.text(escCount)
    sink.text(', ')
    sink.text(pct)
    if (delta !== undefined) {
      const d = shown > 0 ? ((100 * delta * factor) / shown).toFixed(2) : '0.00'
      sink.text(`%; ${delta > 0 ? '+' : ''}${d}`)
    }
    sink.text('%)</title><rect x="')
    sink.hundredths(x)
    sink.text('" y="')
    sink.hundredths(y)
    sink.text('" width="')
    sink.hundredths(w)
    sink.text('" height="')
    sink.hundredths(h)
    sink.text('" data-x="')
    sink.hundredths(x)
    sink.text('" data-w="')
    sink.hundredths(w)
    sink.text('" fill="')
    sink.text(fill)
    sink.text('" rx="2" ry="2"/><text x="')
    sink.hundredths(x + 3)
    sink.text('" y="')
    sink.hundredths(y + h / 2 + fontSize / 3)
    sink.text('">')
    sink.text(label === fname ? name : esc(label))
    sink.text('</text></g>\n')
  }
  out.push('</g>\n</svg>\n')
}

/** The SVG flamegraph.pl draws for empty input: a message instead of frames. */
export function emptySvg(message: string, width = 1200): string {
  return (
    '<?xml version="1.0" standalone="no"?>\n' +
    `<svg version="1.1" width="${width}" height="60" viewBox="0 0 ${width} 60" xmlns="http://www.w3.org/2000/svg">\n` +
    `<text x="${width / 2}" y="36" text-anchor="middle" font-family="Verdana" font-size="17">${esc(message)}</text>\n</svg>\n`
  )
}
