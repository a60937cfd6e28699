/**
 * `kiln --help` start-up, whole process, against its floor: `node -e 0` (Node's own start) and,
 * for the record, the same CLI run through tsx (how bin/kiln.js ran before the compiled build).
 * Interleaved (A B C A B C …) so a machine whose speed drifts hurts each alike; medians quoted.
 */
import { spawnSync } from 'node:child_process'
import { writeFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { cpus, loadavg } from 'node:os'

const root = join(import.meta.dirname, '..')
const RUNS = Number(process.env.RUNS ?? 20)
const viaTsx = join(root, 'bin', '.kiln-tsx-startup.js')
writeFileSync(
  viaTsx,
  `import { register } from 'tsx/esm/api'\nregister()\nawait import(${JSON.stringify(join(root, 'src/cli/main.ts'))})\n`,
)
// A smoke test: `kiln run` of one iteration of an empty function (engine, VU init, summary, exit).
const smoke = join(root, 'bin', '.kiln-smoke-startup.js')
writeFileSync(smoke, 'export default function () {}\n')
const cases: [string, string[]][] = [
  ['kiln --help (dist/)', [join(root, 'bin/kiln.js'), '--help']],
  ['node -e 0', ['-e', '0']],
  ['kiln --help (tsx)', [viaTsx, '--help']],
  ['kiln run -i 1', [join(root, 'bin/kiln.js'), 'run', '-q', '--no-summary', '-i', '1', smoke]],
]
const times = cases.map(() => [] as number[])
try {
  for (let i = 0; i < RUNS + 1; i++) {
    cases.forEach(([, args], c) => {
      const t0 = process.hrtime.bigint()
      const r = spawnSync(process.execPath, args, { stdio: 'ignore' })
      if (r.status !== 0) throw new Error(`${cases[c]![0]} exited ${r.status}`)
      if (i > 0) times[c]!.push(Number(process.hrtime.bigint() - t0) / 1e6) // run 0 warms the caches
    })
  }
} finally {
  rmSync(viaTsx, { force: true })
  rmSync(smoke, { force: true })
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
const m = times.map(median)
console.log(`${RUNS} interleaved runs each, ${cpus().length} cores, load ${loadavg()[0]!.toFixed(1)}`)
cases.forEach(([name], c) => console.log(`${name.padEnd(22)} median ${m[c]!.toFixed(0)} ms`))
console.log(
  `kiln --help / node -e 0: ${(m[0]! / m[1]!).toFixed(2)}× (+${(m[0]! - m[1]!).toFixed(0)} ms); compiled / tsx: ${(m[0]! / m[2]!).toFixed(2)}×`,
)
console.log(`kiln run -i 1 / node -e 0: ${(m[3]! / m[1]!).toFixed(2)}× (+${(m[3]! - m[1]!).toFixed(0)} ms)`)
