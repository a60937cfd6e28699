/**
 * `kiln collapse perf` end to end (a whole process, as a user runs it) against
 * stackcollapse-perf.pl and against the repository's own Perl statement of the same rules
 * (test/flamegraph/collapse-rules.pl), on a generated ~50 MB `perf script` file, in interleaved
 * rounds; then where Kiln's time goes, in-process. Method: bench/README.md, "collapse".
 */
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { forEachChunk } from '../src/flamegraph/lines.ts'
import { PerfCollapser } from '../src/flamegraph/collapse-perf.ts'
import { benchPerfScript, bestOf3 } from '../test/flamegraph/perf-script-gen.ts'
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
const ROUNDS = Number(process.env.RUNS ?? 5)
const { file, ...gen } = benchPerfScript(`collapse-perf-script-${process.pid}.txt`, 1, 50)
const out = (name: string) => join(root, 'bench', 'out', `collapse-${name}-${process.pid}.folded`)
const rules = join(root, 'test', 'flamegraph', 'collapse-rules.pl')
const contenders: Contender[] = [
  { name: 'kiln collapse perf', cmd: process.execPath, args: [kilnBin, 'collapse', 'perf', file], out: out('kiln') },
  // collapse-rules.pl reads stdin; sh execs perl, so the timing is perl's.
  { name: 'collapse-rules.pl', cmd: 'sh', args: ['-c', 'exec perl "$0" < "$1"', rules, file], out: out('rules') },
]
// Floors: a Node process that only reads the file in 256 KiB chunks into one reused buffer, and
// one that also finds each sample's end (a native search for the blank line). No collapser can
// cost less than the second, so peer / floor is the most any Node tool could reach here.
const READ_ONLY = `const fs = require('fs'); const fd = fs.openSync(process.argv[1], 'r'); const b = Buffer.allocUnsafe(1 << 18)
while (fs.readSync(fd, b, 0, b.length, null) > 0);`
const FIND_SAMPLES = `const fs = require('fs'); const fd = fs.openSync(process.argv[1], 'r'); const b = Buffer.allocUnsafe(1 << 18)
let n = 0, keep = 0, samples = 0
while ((n = fs.readSync(fd, b, keep, b.length - keep, null)) > 0) {
  const end = keep + n; let at = 0
  for (let j = b.indexOf('\\n\\n', at); j >= 0 && j + 1 < end; j = b.indexOf('\\n\\n', at)) { samples++; at = j + 2 }
  keep = end - at; b.copy(b, 0, at, end)
}
if (samples === 0) process.exitCode = 1`
contenders.push(
  { name: 'node: read only', cmd: process.execPath, args: ['-e', READ_ONLY, file], out: out('read') },
  { name: 'node: read, find samples', cmd: process.execPath, args: ['-e', FIND_SAMPLES, file], out: out('find') },
)
const baseline = process.env.KILN_BENCH_BASELINE // another checkout's bin/kiln.js, timed alongside
if (baseline)
  contenders.push({ name: 'baseline kiln', cmd: process.execPath, args: [baseline, 'collapse', 'perf', file], out: out('baseline') })
const perlTool = findPerlTool('stackcollapse-perf.pl')
if (perlTool) contenders.push({ name: 'stackcollapse-perf.pl', cmd: 'perl', args: [perlTool, file], out: out('perl') })
else console.log(`stackcollapse-perf.pl not found (${howToGetPerlTools}); comparing with collapse-rules.pl only`)

console.log(`${ROUNDS} interleaved rounds, load ${load()}`)
const results = interleave(contenders, ROUNDS)
report(results, 'kiln collapse perf')
if (perlTool) {
  const perl = results.find((r) => r.name === 'stackcollapse-perf.pl')!
  for (const floor of results.filter((r) => r.name.startsWith('node: ')))
    console.log(
      `ceiling (stackcollapse-perf.pl / ${floor.name}): ${(perl.wall / floor.wall).toFixed(2)}× wall, ${(perl.cpu / floor.cpu).toFixed(2)}× CPU`,
    )
}
const kilnOut = readFileSync(out('kiln'))
console.log(
  `kiln output = collapse-rules.pl output: ${kilnOut.equals(readFileSync(out('rules')))} (${kilnOut.length} bytes, ${kilnOut.toString('latin1').split('\n').length - 1} stacks)`,
)
if (perlTool) console.log(`kiln output = stackcollapse-perf.pl output: ${kilnOut.equals(readFileSync(out('perl')))}`)

// Where Kiln's time goes, in this process (no start-up): reading the file, then collapsing it.
const read = await bestOf3(() => forEachChunk(file, () => {}))
const collapse = await bestOf3(async () => {
  const c = new PerfCollapser()
  await forEachChunk(file, (chunk) => c.push(chunk))
  c.end()
  c.folded()
})
const node = interleave([{ name: 'node -e 0', cmd: process.execPath, args: ['-e', '0'], out: out('node') }], ROUNDS)[0]!
const mbps = (ms: number) => (gen.bytes / 1e6 / (ms / 1000)).toFixed(0)
console.log(
  `in-process, best of 3: read ${read.toFixed(0)} ms (${mbps(read)} MB/s); read + collapse ${collapse.toFixed(0)} ms (${mbps(collapse)} MB/s); node -e 0 ${node.wall.toFixed(0)} ms wall, ${node.cpu.toFixed(0)} ms CPU`,
)
for (const f of [file, ...contenders.map((c) => c.out), out('node')]) rmSync(f, { force: true })
