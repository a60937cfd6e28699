/**
 * Shared by collapse.bench.ts and flamegraph-svg.bench.ts: finding FlameGraph's Perl tools,
 * and timing whole processes in interleaved pairs (wall and CPU time, as a user waits for them).
 */
import { spawnSync } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { loadavg } from 'node:os'

export const root = join(import.meta.dirname, '..')
export const kilnBin = join(root, 'bin', 'kiln.js')

/**
 * A FlameGraph script (`stackcollapse-perf.pl`, `flamegraph.pl`): from $KILN_FLAMEGRAPH_DIR (a
 * checkout of brendangregg/FlameGraph) or PATH. Kiln ships none of FlameGraph's code.
 */
export function findPerlTool(name: string): string | undefined {
  const dirs = [process.env.KILN_FLAMEGRAPH_DIR, ...(process.env.PATH ?? '').split(delimiter)].filter((d): d is string => !!d)
  for (const d of dirs) if (existsSync(join(d, name))) return join(d, name)
  return undefined
}

export const howToGetPerlTools =
  'put a checkout of FlameGraph (github.com/brendangregg/FlameGraph) in KILN_FLAMEGRAPH_DIR, or its scripts on PATH'

/** The compiled CLI must exist: the benchmark times `kiln` as users run it. */
export function requireBuild(): void {
  if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
    console.error('bench: dist/ is missing; run `node scripts/build.js` first (the benchmark times the compiled kiln)')
    process.exit(1)
  }
}

// CPU time of waited-for children, from /proc/self/stat (cutime + cstime, in clock ticks).
const TICK_MS = 1000 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100)
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'latin1')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[13]) + Number(f[14])) * TICK_MS
}

export interface Timing {
  wallMs: number
  cpuMs: number
}

/** Runs a command to completion, stdout into `outFile`; its wall and CPU time. */
export function timeProcess(cmd: string, args: string[], outFile: string): Timing {
  const fd = openSync(outFile, 'w')
  const cpu0 = childrenCpuMs()
  const t0 = process.hrtime.bigint()
  const r = spawnSync(cmd, args, { stdio: ['ignore', fd, 'pipe'], maxBuffer: 1 << 26 })
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6
  const cpuMs = childrenCpuMs() - cpu0
  closeSync(fd)
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr?.toString().slice(0, 500)}`)
  }
  return { wallMs, cpuMs }
}

export interface Contender {
  name: string
  cmd: string
  args: string[]
  out: string
}

/**
 * Runs each contender once per round, in turn (A B C A B C …), so drift in the machine's load
 * hurts each alike; round 0 warms the page cache and is not counted. Medians per contender.
 */
export function interleave(contenders: Contender[], rounds: number): { name: string; wall: number; cpu: number }[] {
  const runs = contenders.map(() => [] as Timing[])
  for (let i = 0; i <= rounds; i++) {
    contenders.forEach((c, k) => {
      const t = timeProcess(c.cmd, c.args, c.out)
      if (i > 0) runs[k]!.push(t)
    })
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
  return contenders.map((c, k) => ({
    name: c.name,
    wall: median(runs[k]!.map((t) => t.wallMs)),
    cpu: median(runs[k]!.map((t) => t.cpuMs)),
  }))
}

export const load = (): string => loadavg()[0]!.toFixed(1)

/** Prints medians and each peer's time over Kiln's (the speed-up; above 1, Kiln is faster). */
export function report(results: { name: string; wall: number; cpu: number }[], kiln: string): void {
  const k = results.find((r) => r.name === kiln)!
  for (const r of results) {
    const ratio = r === k ? '' : `   ${r.name} / kiln: ${(r.wall / k.wall).toFixed(2)}× wall, ${(r.cpu / k.cpu).toFixed(2)}× CPU`
    console.log(`${r.name.padEnd(28)} median ${r.wall.toFixed(0).padStart(6)} ms wall ${r.cpu.toFixed(0).padStart(6)} ms CPU${ratio}`)
  }
}
