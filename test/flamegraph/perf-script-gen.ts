/**
 * Writes a synthetic `perf script` file of about `bytes` bytes, deterministic for a seed: the
 * header and frame layouts perf prints here (cpu-clock with a period, symoffs, kernel, JIT and
 * [unknown] frames), a few thousand distinct stacks sampled with a skew, as real profiles have.
 */
import { openSync, writeSync, closeSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export function writePerfScript(file: string, bytes: number, seed = 1): { samples: number; bytes: number } {
  let s = seed >>> 0
  const rnd = (n: number) => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) % n
  const dsos = [
    '/usr/bin/app',
    '/usr/lib/x86_64-linux-gnu/libc.so.6',
    '/usr/lib/libssl.so.3',
    '[kernel.kallsyms]',
    '/tmp/perf-4242.map',
    '[unknown]',
  ]
  const fn = (i: number) => {
    const d = i % dsos.length
    const name =
      d === 3
        ? `do_sys_call_${i}`
        : d === 4
          ? `JS:*handler_${i} /srv/app/route${i % 37}.js:${i}`
          : d === 5
            ? '[unknown]'
            : i % 3
              ? `ns::Class${i % 50}::method_${i}(int, std::string const&)`
              : `compute_${i}`
    return { name, dso: dsos[d]! }
  }
  const funcs = Array.from({ length: 600 }, (_, i) => fn(i))
  const stacks: string[] = []
  for (let k = 0; k < 3000; k++) {
    const depth = 6 + rnd(30)
    let text = ''
    for (let d = 0; d < depth; d++) {
      // Shallow frames come from a small set, so stacks share prefixes and merge.
      const f = funcs[d < 4 ? d * 7 + rnd(3) : rnd(funcs.length)]!
      text = `\t${(0x7f0000000000 + rnd(1 << 30)).toString(16).padStart(16)} ${f.name}+0x${rnd(4096).toString(16)} (${f.dso})\n` + text
    }
    stacks.push(text)
  }
  const fd = openSync(file, 'w')
  let written = 0
  let samples = 0
  let buf = ''
  let t = 1000
  while (written < bytes) {
    const k = Math.min(rnd(stacks.length), rnd(stacks.length)) // skewed towards low indexes
    t += 0.010101
    buf += `app ${4242 + (k % 4)} [00${k % 4}] ${t.toFixed(6)}:   10101010 cpu-clock:ppp: \n${stacks[k]}\n`
    samples++
    if (buf.length > 1 << 20) {
      written += writeSync(fd, buf, null, 'latin1')
      buf = ''
    }
  }
  if (buf) written += writeSync(fd, buf, null, 'latin1')
  closeSync(fd)
  return { samples, bytes: written }
}

/** For the benchmarks: a generated file of KILN_BENCH_MB (default `mb`) MB under bench/out/. */
export function benchPerfScript(name: string, seed: number, mb = 100): { file: string; samples: number; bytes: number } {
  const dir = join(import.meta.dirname, '..', '..', 'bench', 'out')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, name)
  const gen = writePerfScript(file, Number(process.env.KILN_BENCH_MB ?? mb) * 1e6, seed)
  console.log(`input: ${(gen.bytes / 1e6).toFixed(1)} MB, ${gen.samples} samples`)
  return { file, ...gen }
}

/** The best of three runs, in ms: the least disturbed by other work on the machine. */
export async function bestOf3(f: () => Promise<unknown> | unknown): Promise<number> {
  let best = Infinity
  for (let i = 0; i < 3; i++) {
    const t = performance.now()
    await f()
    best = Math.min(best, performance.now() - t)
  }
  return best
}

/**
 * Writes a folded-stacks file of `count` distinct stacks (sorted, as collapse tools print them),
 * deterministic for a seed: 4-45 frames deep over 800 function names in the shapes profiles
 * have (C++ methods, kernel, JIT, Go), shallow frames shared so stacks merge, counts skewed.
 */
export function writeFolded(file: string, count: number, seed = 1): { stacks: number; bytes: number } {
  let s = seed >>> 0
  const rnd = (n: number) => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) % n
  const shapes = [
    (i: number) => `ns${i % 13}::Class${i % 50}::method_${i}`,
    (i: number) => `do_syscall_${i}_[k]`,
    (i: number) => `LazyCompile:*handler_${i} /srv/app/route${i % 37}.js:${i}_[j]`,
    (i: number) => `main.(*Server).serve${i}`,
    (i: number) => `compute_${i}`,
  ]
  const funcs = Array.from({ length: 800 }, (_, i) => shapes[i % shapes.length]!(i))
  const seen = new Set<string>()
  while (seen.size < count) {
    const depth = 4 + rnd(42)
    const frames = ['app']
    for (let d = 0; d < depth; d++) frames.push(funcs[d < 5 ? d * 9 + rnd(3) : rnd(funcs.length)]!)
    seen.add(frames.join(';'))
  }
  const text = [...seen]
    .sort()
    .map((st) => `${st} ${1 + Math.min(rnd(2000), rnd(2000))}\n`)
    .join('')
  writeFileSync(file, text, 'latin1')
  return { stacks: count, bytes: text.length }
}
