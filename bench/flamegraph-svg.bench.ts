/**
 * `kiln flamegraph` end to end (a whole process, folded file → SVG file) against flamegraph.pl
 * on 8,000 distinct stacks, in interleaved rounds; then where Kiln's time goes, in-process.
 * Method: bench/README.md, "flamegraph-svg".
 */
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { readFolded } from '../src/flamegraph/folded.ts'
import { renderFrames, renderSvg } from '../src/flamegraph/svg.ts'
import { flowFoldedBytes } from '../src/flamegraph/flow.ts'
import { Latin1Writer } from '../src/flamegraph/lines.ts'
import { Writable } from 'node:stream'
import { bestOf3, writeFolded } from '../test/flamegraph/perf-script-gen.ts'
import {
  findPerlTool,
  howToGetPerlTools,
  interleave,
  kilnBin,
  load,
  report,
  requireBuild,
  root,
  type Contender,
} from './flamegraph-peers.ts'

requireBuild()
const ROUNDS = Number(process.env.RUNS ?? 9)
const STACKS = Number(process.env.KILN_BENCH_STACKS ?? 8000)
const file = join(root, 'bench', 'out', `flamegraph-input-${process.pid}.folded`)
const gen = writeFolded(file, STACKS, 3)
console.log(`input: ${gen.stacks} distinct stacks, ${(gen.bytes / 1e6).toFixed(1)} MB folded`)
const out = (name: string) => join(root, 'bench', 'out', `flamegraph-${name}-${process.pid}.svg`)
const contenders: Contender[] = [
  { name: 'kiln flamegraph', cmd: process.execPath, args: [kilnBin, 'flamegraph', file], out: out('kiln') },
  { name: 'node -e 0 (start-up floor)', cmd: process.execPath, args: ['-e', '0'], out: out('node') },
]
const baseline = process.env.KILN_BENCH_BASELINE // another checkout's bin/kiln.js, timed alongside
if (baseline) contenders.push({ name: 'baseline kiln', cmd: process.execPath, args: [baseline, 'flamegraph', file], out: out('baseline') })
const perlTool = findPerlTool('flamegraph.pl')
if (perlTool) contenders.push({ name: 'flamegraph.pl', cmd: 'perl', args: [perlTool, file], out: out('perl') })
else console.log(`flamegraph.pl not found (${howToGetPerlTools}): Kiln's times only`)

console.log(`${ROUNDS} interleaved rounds, load ${load()}`)
report(interleave(contenders, ROUNDS), 'kiln flamegraph')
const frames = (f: string) => (readFileSync(f, 'latin1').match(/<rect /g) ?? []).length
console.log(`frames drawn: kiln ${frames(out('kiln')) - 1}${perlTool ? `, flamegraph.pl ${frames(out('perl')) - 1}` : ''} (≥ 0.1 px wide)`)

// Where Kiln's time goes, in this process (no start-up): merging the sorted stacks, then drawing
// (what kiln flamegraph does); and the call-tree path differential graphs take, for comparison.
const input = readFileSync(file)
const merge = await bestOf3(() => flowFoldedBytes(input))
const flow = flowFoldedBytes(input)!
let bytes = 0
const counter = new Writable({
  write(chunk: Buffer, _enc, done) {
    bytes += chunk.length
    done()
  },
})
const draw = await bestOf3(async () => {
  const w = new Latin1Writer(counter)
  renderFrames(flow.frames, flow.total, {}, w)
  await w.end()
})
const tree = await bestOf3(() => renderSvg(readFolded(input.toString('latin1')).fg))
console.log(
  `in-process, best of 3: merge ${merge.toFixed(0)} ms; draw ${draw.toFixed(0)} ms (${(bytes / 3e6).toFixed(1)} MB of SVG); the call-tree path ${tree.toFixed(0)} ms`,
)
for (const f of [file, ...contenders.map((c) => c.out)]) rmSync(f, { force: true })
