/**
 * `perf script` → SVG flame graph throughput (collapse, merge into flame graph levels, render) on
 * a ~100 MB generated `perf script` file, as a ratio to the limit: reading and splitting the same
 * file into lines in Node. Method: bench/README.md, "Flame-graph tools".
 */
import { rmSync } from 'node:fs'
import { forEachLine } from '../src/flamegraph/lines.ts'
import { PerfCollapser } from '../src/flamegraph/collapse-perf.ts'
import { FoldedReader } from '../src/flamegraph/folded.ts'
import { renderSvg } from '../src/flamegraph/svg.ts'
import { benchPerfScript, bestOf3 as time } from '../test/flamegraph/perf-script-gen.ts'

const { file, ...gen } = benchPerfScript('svg-perf-script.txt', 2)

let lines = 0
const bare = await time(() => forEachLine(file, () => void lines++))
let folded = ''
let svgBytes = 0
let frames = 0
const render = (text: string) => {
  const r = new FoldedReader()
  for (const l of text.split('\n')) r.line(l)
  const svg = renderSvg(r.result().fg)
  svgBytes = svg.length
  frames = (svg.match(/<g data-d=/g) ?? []).length
}
const pipeline = await time(async () => {
  const c = new PerfCollapser()
  await forEachLine(file, (l) => c.line(l))
  folded = c.folded()
  render(folded)
})
const svgOnly = await time(() => render(folded))
const mbps = (ms: number) => ((gen.bytes / 1e6) / (ms / 1000)).toFixed(0)
console.log(`read + split lines (limit):       ${bare.toFixed(0)} ms, ${mbps(bare)} MB/s`)
console.log(`perf script → SVG (whole):        ${pipeline.toFixed(0)} ms, ${mbps(pipeline)} MB/s`)
console.log(`  of which folded → SVG:          ${svgOnly.toFixed(0)} ms (${(folded.length / 1e6).toFixed(1)} MB folded, ${frames} frames, ${(svgBytes / 1e6).toFixed(1)} MB SVG)`)
console.log(`ratio perf script → SVG / read+split: ${(pipeline / bare).toFixed(2)}x (best of 3 each)`)
rmSync(file)
