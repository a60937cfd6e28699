/**
 * What loadtest-layers-ab.ts and loadtest-vu-ab.ts share: a hello server in its own process (so
 * its CPU is not the bench's), and old/new bursts in turn inside one process, which keeps a shared
 * machine's load about the same for both trees (bench/README.md, "Load testing").
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { loadavg } from 'node:os'

/** A Node server answering 'hello' on 127.0.0.1 in a child process. */
export async function helloServer(): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(
    process.execPath,
    [
      '-e',
      "require('http').createServer((q, r) => r.end('hello')).listen(0, '127.0.0.1', function () { console.log(this.address().port) })",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const port = await new Promise<string>((r) => proc.stdout!.once('data', (d: Buffer) => r(d.toString().trim())))
  return { url: `http://127.0.0.1:${port}/`, proc }
}

/**
 * Runs `warmup` bursts of each tree, then `rounds` pairs (old, new, new, old, …); each burst
 * returns its CPU per unit. Prints `what`'s medians and in how many pairs new was lower.
 */
export async function interleave(
  trees: Record<'old' | 'new', () => Promise<number>>,
  o: { rounds: number; warmup: number; what: string },
): Promise<void> {
  for (let i = 0; i < o.warmup; i++) for (const f of Object.values(trees)) await f()
  const seen: Record<'old' | 'new', number[]> = { old: [], new: [] }
  for (let i = 0; i < o.rounds; i++)
    for (const k of i % 2 ? (['new', 'old'] as const) : (['old', 'new'] as const)) seen[k].push(await trees[k]())
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
  const lower = seen.new.filter((x, i) => x < seen.old[i]!).length
  console.log(
    `${o.what}, median of ${o.rounds} bursts each: old ${med(seen.old).toFixed(1)} µs, new ${med(seen.new).toFixed(1)} µs; new lower in ${lower} of ${o.rounds} pairs; load average ${loadavg()[0]!.toFixed(1)}`,
  )
}
