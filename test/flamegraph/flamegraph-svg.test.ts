import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readFolded } from '../../src/flamegraph/folded.ts'
import { renderFrames, renderSvg } from '../../src/flamegraph/svg.ts'
import { Latin1Writer } from '../../src/flamegraph/lines.ts'
import { Writable } from 'node:stream'
import { flowFolded } from '../../src/flamegraph/flow.ts'
import { frameBoxes, layoutFrames, minFrameValue } from '../../src/flamegraph/svg-layout.ts'
import { kiln } from './cli.ts'
import { frameNamed, framesOf, rgb } from './svg.ts'

const FOLDED = 'app;main;alpha;work 60\napp;main;beta;work 20\napp;main;beta 10\napp;idle 10\n'
const svgOf = (args: string[], input = FOLDED) => {
  const r = kiln(['flamegraph', ...args], input)
  assert.equal(r.status, 0, r.stderr)
  return r.stdout
}

test('flamegraph draws one frame per merged node, widths proportional to counts, flamegraph.pl titles', () => {
  const svg = svgOf([])
  const frames = framesOf(svg)
  // all, app, main, idle, alpha, beta, work (under alpha), work (under beta)
  assert.equal(frames.length, 8)
  const all = frameNamed(frames, 'all')
  assert.equal(all.title, 'all (100 samples, 100.00%)')
  assert.equal(all.w, 1180)
  assert.equal(frameNamed(frames, 'alpha').title, 'alpha (60 samples, 60.00%)')
  for (const f of frames) {
    const n = Number(/\(([\d,]+) samples/.exec(f.title)![1]!.replace(/,/g, ''))
    assert.ok(Math.abs(f.w - (1180 * n) / 100) < 0.02, `${f.title}: width ${f.w}`)
  }
  // Children left to right by name, inside their parent; the root at the bottom.
  assert.ok(frameNamed(frames, 'alpha').x < frameNamed(frames, 'beta').x)
  assert.ok(frameNamed(frames, 'all').y > frameNamed(frames, 'app').y)
  assert.equal(frameNamed(frames, 'alpha').text, 'alpha')
  assert.match(svg, /<text id="title"[^>]*>Flame Graph<\/text>/)
  assert.match(svg, /<script type="text\/ecmascript">/)
})

test('flamegraph options are honoured', () => {
  const svg = svgOf([
    '--title',
    'T & <x>',
    '--subtitle',
    'Sub',
    '--width',
    '600',
    '--height',
    '20',
    '--fonttype',
    'Courier',
    '--fontsize',
    '10',
    '--countname',
    'bytes',
    '--nametype',
    'Frame:',
    '--notes',
    'run 42',
  ])
  const frames = framesOf(svg)
  assert.match(svg, /<text id="title"[^>]*>T &amp; &lt;x&gt;<\/text>/)
  assert.match(svg, /<text id="subtitle"[^>]*>Sub<\/text>/)
  assert.match(svg, /<svg [^>]*width="600"/)
  assert.match(svg, /font-family: Courier; font-size: 10px/)
  assert.match(svg, /data-nametype="Frame:"/)
  assert.match(svg, /<!-- NOTES: run 42 -->/)
  assert.equal(frameNamed(frames, 'all').w, 580)
  assert.equal(frameNamed(frames, 'all').h, 19)
  assert.equal(frameNamed(frames, 'alpha').title, 'alpha (60 bytes, 60.00%)')

  // --minwidth in % and px prunes narrow frames.
  assert.equal(framesOf(svgOf(['--minwidth', '15%'])).filter((f) => f.name === 'idle').length, 0)
  assert.equal(
    framesOf(svgOf(['--minwidth', '400'])).some((f) => f.name === 'beta'),
    false,
  )
  assert.equal(
    framesOf(svgOf(['--minwidth', '100'])).some((f) => f.name === 'beta'),
    true,
  )

  // --total draws against a larger total; --factor scales the displayed counts.
  assert.equal(frameNamed(framesOf(svgOf(['--total', '200'])), 'all').w, 590)
  assert.equal(frameNamed(framesOf(svgOf(['--factor', '1000'])), 'alpha').title, 'alpha (60,000 samples, 60.00%)')

  // --inverted puts the root on top and says so; --reverse merges from the leaves.
  const inv = svgOf(['--inverted'])
  assert.ok(frameNamed(framesOf(inv), 'all').y < frameNamed(framesOf(inv), 'app').y)
  assert.match(inv, />Icicle Graph</)
  const rev = framesOf(svgOf(['--reverse']))
  assert.deepEqual(
    rev.filter((f) => f.depth === 1).map((f) => f.name),
    ['beta', 'idle', 'work'],
  )

  // --flamechart keeps input order and merges only adjacent frames.
  const chart = svgOf(['--flamechart'], 'x;b 1\nx;a 1\nx;b 1\n')
  assert.deepEqual(
    framesOf(chart)
      .filter((f) => f.depth === 2)
      .map((f) => f.name),
    ['b', 'a', 'b'],
  )
  assert.match(chart, />Flame Chart</)
})

test('flamegraph palettes, background, --hash and --cp', () => {
  const java = framesOf(svgOf(['--colors', 'java'], 'java;Interpreter_[j] 5\njava;JVM::run 5\njava;do_sys_[k] 5\njava;start 5\n'))
  const [jr, jg] = rgb(frameNamed(java, 'Interpreter_[j]').fill)
  assert.ok(jg > jr, 'JIT frames are green')
  const [yr, yg, yb] = rgb(frameNamed(java, 'JVM::run').fill)
  assert.ok(yr > yb && yg > yb, 'C++ frames are yellow')
  const [or, og, ob] = rgb(frameNamed(java, 'do_sys_[k]').fill)
  assert.ok(or > og && og > ob, 'kernel frames are orange')
  for (const f of framesOf(svgOf(['--colors', 'blue']))) {
    const [r, g, b] = rgb(f.fill)
    assert.ok(b > r && b > g, `${f.name} is blue`)
  }
  assert.match(svgOf(['--colors', 'mem']), /stop-color="#eef2ee"/)
  assert.match(svgOf(['--bgcolors', '#123456']), /stop-color="#123456"/)
  // --hash: the same name gets the same colour whatever else is in the graph.
  const h1 = frameNamed(framesOf(svgOf(['--hash'])), 'alpha').fill
  const h2 = frameNamed(framesOf(svgOf(['--hash'], 'z;alpha 3\n')), 'alpha').fill
  assert.equal(h1, h2)
  // --cp: palette.map in the working directory is written, then reused.
  const dir = mkdtempSync(join(tmpdir(), 'kiln-cp-'))
  const run = (input: string) => {
    const cwd = process.cwd()
    process.chdir(dir)
    try {
      return kiln(['flamegraph', '--cp'], input).stdout
    } finally {
      process.chdir(cwd)
    }
  }
  run('a;b 1\n')
  assert.ok(existsSync(join(dir, 'palette.map')))
  writeFileSync(join(dir, 'palette.map'), readFileSync(join(dir, 'palette.map'), 'latin1').replace(/^b->rgb\(.*\)$/m, 'b->rgb(1,2,3)'))
  assert.equal(frameNamed(framesOf(run('a;b 1\nc 1\n')), 'b').fill, 'rgb(1,2,3)')
  assert.match(readFileSync(join(dir, 'palette.map'), 'latin1'), /^c->rgb\(\d+,\d+,\d+\)$/m)
})

test('two counts per line draw a differential flame graph: widths from after, red grew, blue shrank', () => {
  const input = 'm;grew 10 30\nm;shrank 30 10\nm;same 10 10\n'
  const frames = framesOf(svgOf([], input))
  assert.equal(frameNamed(frames, 'all').title, 'all (50 samples, 100.00%; 0.00%)')
  assert.ok(Math.abs(frameNamed(frames, 'grew').w - (1180 * 30) / 50) < 0.02)
  assert.match(frameNamed(frames, 'grew').title, /^grew \(30 samples, 60.00%; \+40.00%\)$/)
  const [gr, , gb] = rgb(frameNamed(frames, 'grew').fill)
  const [sr, , sb] = rgb(frameNamed(frames, 'shrank').fill)
  assert.ok(gr > gb && sb > sr)
  const neg = framesOf(svgOf(['--negate'], input))
  const [nr, , nb] = rgb(frameNamed(neg, 'grew').fill)
  assert.ok(nb > nr, '--negate swaps the hues')
})

test('flamegraph input errors: ignored lines counted, empty input gives an error SVG and exit 2 (as flamegraph.pl), bad options', () => {
  const r = kiln(['flamegraph'], 'a;b 1\nnot a stack\n')
  assert.equal(r.status, 0)
  assert.match(r.stderr, /ignored 1 lines with invalid format/)
  const e = kiln(['flamegraph'], 'nothing here\n')
  assert.equal(e.status, 2)
  assert.match(e.stdout, /ERROR: No valid input/)
  assert.match(e.stderr, /no stack counts found/)
  assert.equal(kiln(['flamegraph', '--colors', 'pink'], FOLDED).status, 2)
  assert.equal(kiln(['flamegraph', '--width', 'wide'], FOLDED).status, 2)
  assert.equal(kiln(['flamegraph', '--notes', '<b>'], FOLDED).status, 2)
  assert.equal(kiln(['flamegraph', '-title', 'Old style'], FOLDED).status, 0, 'flamegraph.pl single-dash options work')
})

test('folded reader fuzz: random lines never crash, widths stay within the image', () => {
  let seed = 7
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n
  const alphabet = 'ab;; 0129.\t\r-_[k]()<&"'
  for (let i = 0; i < 200; i++) {
    let text = ''
    for (let l = rnd(20); l > 0; l--) {
      for (let c = rnd(30); c > 0; c--) text += alphabet[rnd(alphabet.length)]
      text += rnd(2) ? ` ${rnd(1000)}` : ''
      text += '\n'
    }
    const { fg, stacks } = readFolded(text)
    if (!stacks) continue
    const frames = framesOf(renderSvg(fg))
    for (const f of frames) assert.ok(f.x >= 10 - 1e-6 && f.x + f.w <= 1190.02, `${f.name} at ${f.x}+${f.w}`)
  }
})

test('layout: frames in px from flame graph levels, drawn as ASCII art (root at the bottom, inverted at the top)', () => {
  const { fg } = readFolded('a;b 2\na;c 1\nd 1\n')
  // 40 px per count between 10 px margins; one character per 5 px.
  const draw = (inverted: boolean) => {
    const L = layoutFrames(fg, { width: 180, inverted })
    const rows = new Map<number, string>()
    for (const f of frameBoxes(L)) {
      const row = (rows.get(f.y) ?? '').padEnd((f.x - 10) / 5, ' ')
      rows.set(f.y, row + `[${f.name}`.padEnd(f.w / 5 - 1, '/') + ']')
    }
    return [...rows.entries()].sort((p, q) => p[0] - q[0]).map((e) => e[1])
  }
  const flame = ['[b/////////////][c/////]', '[a/////////////////////][d/////]', '[all///////////////////////////]']
  assert.deepEqual(draw(false), flame)
  assert.deepEqual(draw(true), [...flame].reverse())
})

test('merging sorted stacks directly (flowFolded) draws the same SVG as the call tree, byte for byte', async () => {
  let seed = 11
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n
  // Names that are prefixes of each other and sort around ";" and " ", empty frames, repeats.
  const names = ['b', 'b!', 'bc', 'a', '', 'B', 'b b', 'x<y>', 'z&1', '\u00ff']
  let compared = 0
  for (let i = 0; i < 300; i++) {
    const lines: string[] = []
    for (let l = 1 + rnd(40); l > 0; l--) {
      const depth = 1 + rnd(6)
      lines.push(`${Array.from({ length: depth }, () => names[rnd(names.length)]).join(';')} ${rnd(4) ? rnd(500) : 0}`)
    }
    if (rnd(5) === 0) lines.push(lines[rnd(lines.length)]!) // a stack twice
    if (rnd(7) === 0) lines.push('not a stack')
    // Separators and counts of every shape the line rule takes or refuses (no fractions: those go to the tree).
    const odd = ['a\t3', 'a  3', 'a;b\v2', 'a 1.', 'b 2.00', ' 4', 'a .5', 'a 1x', '7', 'a 3 ', 'a\r', 'a;b 3\r']
    if (rnd(3) === 0) lines.push(odd[rnd(odd.length)]!)
    const reverse = rnd(3) === 0
    const options = { minWidth: rnd(2) ? '0.1' : '3%', width: 600 + rnd(800) }
    // Half the time with the frames too narrow to draw left out while merging, as the CLI does.
    const flow = flowFolded(lines, reverse, rnd(2) ? (real) => minFrameValue(real, options) : undefined)!
    const tree = readFolded(lines.join('\n'), { reverse })
    assert.equal(flow.stacks, tree.stacks)
    assert.equal(flow.ignored, tree.ignored)
    if (!tree.stacks) continue
    const svg = renderSvg(tree.fg, options)
    assert.equal(renderFrames(flow.frames, flow.total, options), svg, `input ${i}: ${lines.join(' | ')}`)
    // And as the CLI writes it: numbers formatted into the bytes, through a small buffer flushed often.
    if (i % 10 === 0) assert.equal(await writtenBytes((w) => renderFrames(flow.frames, flow.total, options, w)), svg, `bytes ${i}`)
    compared++
  }
  assert.ok(compared > 250)
  // What it leaves to the tree: differential lines, fractional counts.
  assert.equal(flowFolded(['a;b 1 2']), null)
  assert.equal(flowFolded(['a;b 1.5']), null)
})

/** What `draw` writes through a Latin1Writer of 100 bytes, as latin1 text. */
async function writtenBytes(draw: (w: Latin1Writer) => void): Promise<string> {
  const chunks: Buffer[] = []
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(Buffer.from(chunk))
      done()
    },
  })
  const w = new Latin1Writer(out, 100)
  draw(w)
  await w.end()
  return Buffer.concat(chunks).toString('latin1')
}
