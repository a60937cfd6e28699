/**
 * The price of the interrupt handler every VU now has (so `while (true) {}` can be stopped):
 * the same VM work in one QuickJS runtime without and with Kiln's handler (an Atomics.load of
 * the VU's stop word and a clock check), in interleaved pairs, by the process's CPU time; and
 * how often QuickJS polls it. Method: bench/README.md; figures: src/loadtest/README.md.
 */
import { loadavg } from 'node:os'
import { newEngine } from '../src/loadtest/engine/engine.ts'

const PAIRS = Number(process.env.BENCH_ROUNDS ?? 10)
const rt = (await newEngine()).newRuntime()
const ctx = rt.newContext()
const word = new Int32Array(new SharedArrayBuffer(8))
let polls = 0
const work: Record<string, string> = {
  'tight loop': 'let s = 0; for (let i = 0; i < 1e6; i++) s += i; return s',
  'function calls': 'function f(x) { return x + 1 } let s = 0; for (let i = 0; i < 3e5; i++) s = f(s); return s',
  'JSON round trips':
    'let o = { a: [1, 2, 3], b: "x".repeat(50), c: { d: 1.5, e: null } }; for (let i = 0; i < 1e4; i++) o = JSON.parse(JSON.stringify(o)); return 1',
}
const cpuMs = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}
const run = (code: string): number => {
  const t = cpuMs()
  const r = ctx.evalCode(`(function () { ${code} })()`)
  if (r.error) throw new Error(JSON.stringify(ctx.dump(r.error)))
  r.value.dispose()
  return cpuMs() - t
}
const deadline = Infinity
console.log(`load average ${loadavg()[0]!.toFixed(1)}, ${PAIRS} interleaved pairs each`)
for (const [name, code] of Object.entries(work)) {
  run(code)
  const ratios: number[] = []
  let withMs = 0
  const p0 = polls
  for (let i = 0; i < PAIRS; i++) {
    rt.removeInterruptHandler()
    const a = run(code)
    rt.setInterruptHandler(() => (polls++, Atomics.load(word, 1) !== 0 || performance.now() > deadline))
    const b = run(code)
    withMs += b
    ratios.push(b / a)
  }
  rt.removeInterruptHandler()
  ratios.sort((x, y) => x - y)
  console.log(
    `${name}: with/without CPU ratio median ${ratios[ratios.length >> 1]!.toFixed(3)} (${ratios[0]!.toFixed(2)}–${ratios[ratios.length - 1]!.toFixed(2)}); ${((polls - p0) / (withMs / 1000)).toFixed(0)} polls per CPU second`,
  )
}
