/**
 * The price of reporting unhandled rejections: engine/loop.js makes the global Promise a
 * subclass that observes its own rejection and marks then() as handling it. Peer: the same
 * promise work in a context of the same runtime without that subclass (the engine's Promise),
 * in interleaved pairs, by the process's CPU time. A synchronous iteration (`http.get`) makes no
 * promise and pays nothing; this measures what async code pays per promise.
 * Method and figures: src/loadtest/README.md, "Unhandled rejections".
 */
import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { newEngine } from '../src/loadtest/engine/engine.ts'
import { root } from './support.ts'

const PAIRS = Number(process.env.BENCH_ROUNDS ?? 10)
const N = 20_000
const rt = (await newEngine()).newRuntime()
const loopJs = readFileSync(join(root, 'src', 'loadtest', 'engine', 'loop.js'), 'utf8')

/** A context with loop.js's stubs; `tracked` evaluates loop.js itself (the tracker and timers). */
function context(tracked: boolean) {
  const ctx = rt.newContext()
  const stub = ctx.evalCode(`globalThis.__kh = { rejection() {}, loopFailed() {} }; globalThis.__k6mods = {}; ''`)
  if (stub.error) throw new Error('stub')
  stub.value.dispose()
  if (tracked) {
    const r = ctx.evalCode(loopJs, 'loop.js')
    if (r.error) throw new Error(JSON.stringify(ctx.dump(r.error)))
    r.value.dispose()
  }
  return ctx
}
const plain = context(false)
const tracked = context(true)

const work: Record<string, string> = {
  'then chain': `let p = Promise.resolve(0); for (let i = 0; i < ${N}; i++) p = p.then((x) => x + 1)`,
  'async/await': `(async () => { let s = 0; for (let i = 0; i < ${N}; i++) s += await Promise.resolve(i) })()`,
  'new Promise + resolve': `const a = []; for (let i = 0; i < ${N}; i++) a.push(new Promise((r) => r(i))); Promise.all(a)`,
  'caught rejections': `for (let i = 0; i < ${N}; i++) Promise.reject(i).catch(() => {})`,
}
const cpuMs = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}
function run(ctx: typeof plain, code: string): number {
  const t = cpuMs()
  const r = ctx.evalCode(`(function () { ${code} })()`)
  if (r.error) throw new Error(JSON.stringify(ctx.dump(r.error)))
  r.value.dispose()
  const jobs = rt.executePendingJobs()
  if (jobs.error) throw new Error(JSON.stringify(ctx.dump(jobs.error)))
  return cpuMs() - t
}

console.log(`load average ${loadavg()[0]!.toFixed(1)}, ${PAIRS} interleaved pairs of ${N.toLocaleString('en')} promises each`)
for (const [name, code] of Object.entries(work)) {
  run(plain, code)
  run(tracked, code)
  const ratios: number[] = []
  let trackedMs = 0
  let plainMs = 0
  for (let i = 0; i < PAIRS; i++) {
    const a = run(plain, code)
    const b = run(tracked, code)
    plainMs += a
    trackedMs += b
    ratios.push(b / a)
  }
  ratios.sort((x, y) => x - y)
  const perPromiseUs = ((trackedMs - plainMs) / PAIRS / N) * 1000
  console.log(
    `${name}: tracked/plain CPU ratio median ${ratios[ratios.length >> 1]!.toFixed(2)} (${ratios[0]!.toFixed(2)}–${ratios[ratios.length - 1]!.toFixed(2)}); +${perPromiseUs.toFixed(2)} µs per promise`,
  )
}
