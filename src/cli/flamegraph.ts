import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { bool, parseCommand, str, type CommandSpec, type Parsed } from './args.ts'
import { KilnError } from '../model/errors.ts'
import { FoldedReader } from '../flamegraph/folded.ts'
import { Latin1Writer, readBytes, writeLatin1 } from '../flamegraph/lines.ts'
import { PALETTES, formatPaletteMap, parsePaletteMap, type Palette } from '../flamegraph/palette.ts'
import { emptySvg, renderFrames, renderSvg, type SvgOptions } from '../flamegraph/svg.ts'
import { flowFoldedBytes } from '../flamegraph/flow.ts'
import { minFrameValue } from '../flamegraph/svg-layout.ts'

export const spec: CommandSpec = {
  name: 'flamegraph',
  usage: 'kiln flamegraph [OPTIONS] [FOLDED|-] > out.svg',
  summary: 'Draw an interactive SVG flame graph from folded stacks (flamegraph.pl).',
  description:
    'Reads `frame;frame;… count` lines (FOLDED, or stdin) and writes an SVG: click a frame to zoom,\n' +
    'Ctrl-F to search by regular expression (the matched share is shown). Lines with two counts\n' +
    '(`stack before after`, as `kiln diff-folded` prints) draw a differential flame graph: widths\n' +
    "from 'after', red where it grew, blue where it shrank. flamegraph.pl's single-dash options\n" +
    '(-title …) are accepted too.',
  options: {
    title: { type: 'string', arg: 'TEXT', help: 'title (default: Flame Graph, Icicle Graph, Flame Chart)' },
    subtitle: { type: 'string', arg: 'TEXT', help: 'second heading' },
    width: { type: 'string', arg: 'PX', default: '1200', help: 'image width' },
    height: { type: 'string', arg: 'PX', default: '16', help: 'frame height' },
    minwidth: { type: 'string', arg: 'PX|N%', default: '0.1', help: 'omit frames narrower than this (px, or % of the total)' },
    fonttype: { type: 'string', arg: 'FONT', default: 'Verdana', help: 'font family' },
    fontsize: { type: 'string', arg: 'PX', default: '12', help: 'font size' },
    fontwidth: { type: 'string', arg: 'EM', default: '0.59', help: 'average character width, in font sizes' },
    countname: { type: 'string', arg: 'TEXT', default: 'samples', help: 'what a count is' },
    nametype: { type: 'string', arg: 'TEXT', default: 'Function:', help: 'label of the details line' },
    colors: { type: 'string', arg: 'PALETTE', default: 'hot', help: PALETTES.join(', ') },
    bgcolors: { type: 'string', arg: 'COLOR', help: 'background: yellow, blue, green, grey or #rrggbb (default: after the palette)' },
    hash: { type: 'boolean', help: 'colour by a hash of the name (similar names look alike)' },
    cp: { type: 'boolean', help: 'consistent palette: read and extend palette.map in the current directory' },
    reverse: { type: 'boolean', help: 'reverse each stack (merge from the leaves)' },
    inverted: { type: 'boolean', help: 'icicle graph (root at the top)' },
    flamechart: { type: 'boolean', help: 'flame chart: keep input (time) order, merge only adjacent frames' },
    negate: { type: 'boolean', help: 'swap red and blue in a differential graph' },
    notes: { type: 'string', arg: 'TEXT', help: 'notes put into the SVG as a comment' },
    total: { type: 'string', arg: 'N', help: 'draw widths against this total (when larger than the real one)' },
    factor: { type: 'string', arg: 'F', help: 'multiply displayed counts by F' },
  },
  examples: [
    'kiln collapse perf perf.txt | kiln flamegraph --title "My app" > app.svg',
    'kiln diff-folded before.folded after.folded | kiln flamegraph > diff.svg',
    'kiln flamegraph --colors java --hash --minwidth 0.5% app.folded > app.svg',
  ],
}

const num = (p: Parsed, name: string, min: number): number | undefined => {
  const v = str(p, name)
  if (v === undefined) return undefined
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n) || n < min) throw new KilnError('KILN_USAGE', `--${name} ${v}: expected a number ≥ ${min}`)
  return n
}

/** flamegraph.pl takes `-title`; parseArgs wants `--title`. */
const normalize = (argv: string[]): string[] => argv.map((a) => (/^-[a-z]{2,}/.test(a) ? '-' + a : a))

export function svgOptions(p: Parsed): SvgOptions {
  const colors = str(p, 'colors') ?? 'hot'
  if (!(PALETTES as readonly string[]).includes(colors))
    throw new KilnError('KILN_USAGE', `--colors ${colors}: unknown palette; choose one of ${PALETTES.join(', ')}`)
  const bg = str(p, 'bgcolors')
  if (bg !== undefined && !/^(yellow|blue|green|grey|#[0-9a-fA-F]{6})$/.test(bg))
    throw new KilnError('KILN_USAGE', `--bgcolors ${bg}: expected yellow, blue, green, grey or #rrggbb`)
  const minwidth = str(p, 'minwidth') ?? '0.1'
  if (!/^\d+(\.\d*)?%?$/.test(minwidth))
    throw new KilnError('KILN_USAGE', `--minwidth ${minwidth}: expected pixels (0.1) or a percentage (0.5%)`)
  const o: SvgOptions = {
    width: num(p, 'width', 1)!,
    frameHeight: num(p, 'height', 1)!,
    minWidth: minwidth,
    fontType: str(p, 'fonttype')!,
    fontSize: num(p, 'fontsize', 1)!,
    fontWidth: num(p, 'fontwidth', 0.01)!,
    countName: str(p, 'countname')!,
    nameType: str(p, 'nametype')!,
    colors: colors as Palette,
    hash: bool(p, 'hash'),
    inverted: bool(p, 'inverted'),
    flamechart: bool(p, 'flamechart'),
    negate: bool(p, 'negate'),
  }
  const title = str(p, 'title')
  if (title !== undefined) o.title = title
  const subtitle = str(p, 'subtitle')
  if (subtitle !== undefined) o.subtitle = subtitle
  if (bg !== undefined) o.bgColors = bg
  const notes = str(p, 'notes')
  if (notes !== undefined) o.notes = notes
  const total = num(p, 'total', 0)
  if (total !== undefined) o.total = total
  const factor = num(p, 'factor', 0)
  if (factor !== undefined) o.factor = factor
  return o
}

export async function run(argv: string[]): Promise<number> {
  const p = parseCommand(spec, normalize(argv))
  if (!p) return 0
  if (p.positionals.length > 1) throw new KilnError('KILN_USAGE', `flamegraph: one input file at most, got ${p.positionals.length}`)
  const options = svgOptions(p)
  const bytes = await readBytes(p.positionals[0])
  // The common case (one count per line, not a flame chart) merges the sorted stacks directly;
  // flame charts and differential graphs go through the call tree.
  const flow = bool(p, 'flamechart') ? null : flowFoldedBytes(bytes, bool(p, 'reverse'), (real) => minFrameValue(real, options))
  const out = new Latin1Writer()
  let read: { ignored: number; stacks: number; draw: (o: SvgOptions) => void }
  if (flow) read = { ...flow, draw: (o) => renderFrames(flow.frames, flow.total, o, out) }
  else {
    const reader = new FoldedReader({ reverse: bool(p, 'reverse'), flamechart: bool(p, 'flamechart') })
    // Lines as Perl's <> reads them: split on "\n", a last line without one still counts.
    const lines = bytes.toString('latin1').split('\n')
    if (lines[lines.length - 1] === '') lines.pop()
    for (const l of lines) reader.line(l)
    read = { ignored: reader.ignored, stacks: reader.stacks, draw: (o) => out.text(renderSvg(reader.result().fg, o)) }
  }
  if (read.ignored) process.stderr.write(`kiln: ignored ${read.ignored} lines with invalid format (expected 'frame;frame;… count')\n`)
  if (read.stacks === 0) {
    // As flamegraph.pl: an SVG that says so (a pipeline still produces a file), and exit status 2.
    await writeLatin1(emptySvg('ERROR: No valid input provided to flamegraph', options.width))
    process.stderr.write(
      "kiln: no stack counts found in the input; expected folded stacks ('frame;frame;… count', as kiln collapse perf prints)\n",
    )
    return 2
  }
  const mapFile = 'palette.map'
  if (bool(p, 'cp')) options.paletteMap = existsSync(mapFile) ? parsePaletteMap(readFileSync(mapFile, 'latin1')) : new Map()
  read.draw(options)
  if (options.paletteMap) writeFileSync(mapFile, formatPaletteMap(options.paletteMap), 'latin1')
  await out.end()
  return 0
}
