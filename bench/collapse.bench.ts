/**
 * `kiln collapse perf` throughput on a ~100 MB generated `perf script` file, as a ratio to the
 * limit: reading and splitting the same file into lines in Node (latin1, the way collapse reads).
 * Method: bench/README.md, "Flame-graph tools".
 */
import { rmSync } from 'node:fs'
import { forEachLine } from '../src/flamegraph/lines.ts'
import { PerfCollapser } from '../src/flamegraph/collapse-perf.ts'
import { benchPerfScript, bestOf3 as time } from '../test/flamegraph/perf-script-gen.ts'

const { file, ...gen } = benchPerfScript('collapse-perf-script.txt', 1)

let lines = 0
const bare = await time(() => forEachLine(file, () => void lines++))
let stacks = 0
const collapse = await time(async () => {
  const c = new PerfCollapser()
  await forEachLine(file, (l) => c.line(l))
  stacks = c.folded().split('\n').length - 1
})
const mbps = (ms: number) => ((gen.bytes / 1e6) / (ms / 1000)).toFixed(0)
console.log(`read + split lines (limit): ${bare.toFixed(0)} ms, ${mbps(bare)} MB/s (${lines / 3} lines)`)
console.log(`kiln collapse perf:         ${collapse.toFixed(0)} ms, ${mbps(collapse)} MB/s (${stacks} folded stacks)`)
console.log(`ratio collapse / read+split: ${(collapse / bare).toFixed(2)}x (best of 3 each)`)
rmSync(file)
