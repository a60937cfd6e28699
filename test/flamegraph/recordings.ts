/**
 * Real `perf record -g` recordings made on this machine for the tests: a C program, Node with
 * --perf-basic-prof and Java with a perf map. Each is made once per process and cached.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync, existsSync, mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const work = mkdtempSync(join(tmpdir(), 'kiln-fg-'))
process.on('exit', () => rmSync(work, { recursive: true, force: true }))

/** Why perf cannot record here, or null when it can. */
export function perfUnavailable(): string | null {
  if (!existsSync('/sys/kernel/tracing/events')) {
    mkdirSync('/sys/kernel/tracing', { recursive: true })
    spawnSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing'])
  }
  const r = spawnSync('perf', ['record', '-q', '-g', '-o', join(work, 'probe.data'), '--', 'true'], { encoding: 'utf8', timeout: 20000 })
  if (r.error) return `perf is not installed (${r.error.message}); apt-get install linux-perf`
  if (r.status !== 0) return `perf record fails here: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`
  return null
}

const script = (data: string): string => {
  const r = spawnSync('perf', ['script', '-i', data], { encoding: 'latin1', maxBuffer: 1 << 28, timeout: 60000 })
  if (r.status !== 0) throw new Error(`perf script failed: ${r.stderr}`)
  return r.stdout
}

const record = (name: string, cmd: string[]): string => {
  const data = join(work, `${name}.data`)
  const r = spawnSync('perf', ['record', '-q', '-F', '499', '-g', '-o', data, '--', ...cmd], { encoding: 'utf8', timeout: 60000 })
  if (r.status !== 0) throw new Error(`perf record ${name} failed: ${r.stderr}`)
  return script(data)
}

const cache = new Map<string, string>()
const once = (name: string, make: () => string): string => {
  if (!cache.has(name)) cache.set(name, make())
  return cache.get(name)!
}

export const C_SOURCE = `
#include <stdlib.h>
volatile unsigned long sink;
__attribute__((noinline)) void leaf_work(unsigned long n) { for (unsigned long i = 0; i < n; i++) sink += i * i; }
__attribute__((noinline)) void spin_alpha(void) { leaf_work(3000000); }
__attribute__((noinline)) void spin_beta(void) { leaf_work(1000000); }
int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 60;
  for (int r = 0; r < rounds; r++) { spin_alpha(); spin_beta(); }
  return 0;
}
`

/** Compiles the C program (frame pointers kept, so `perf record -g` walks its stack). */
export function cProgram(): string {
  const bin = join(work, 'spin')
  if (!existsSync(bin)) {
    writeFileSync(join(work, 'spin.c'), C_SOURCE)
    const r = spawnSync('gcc', ['-O0', '-fno-omit-frame-pointer', '-o', bin, join(work, 'spin.c')], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`gcc failed: ${r.stderr}`)
  }
  return bin
}

/** `perf script` of the C program: spin_alpha does 3× the work of spin_beta. */
export const cRecording = (): string => once('c', () => record('c', [cProgram(), '60']))

/** `perf script` of Node running a hot JS function, with --perf-basic-prof JIT symbols. */
export const nodeRecording = (): string =>
  once('node', () =>
    record('node', [
      process.execPath,
      '--perf-basic-prof',
      '-e',
      'function kilnHotLoop(n){let s=0;for(let i=0;i<n;i++)s+=Math.sqrt(i)*i;return s}const t=Date.now();while(Date.now()-t<700)kilnHotLoop(1e5)',
    ]),
  )

/** `perf script` of a Java program, with JIT symbols from the JVM's own perf map at exit. */
export const javaRecording = (): string =>
  once('java', () => {
    const dir = join(work, 'java')
    mkdirSync(dir, { recursive: true })
    writeFileSync(
      join(dir, 'KilnHot.java'),
      'public class KilnHot { static double burn(int n) { double s = 0; for (int i = 0; i < n; i++) s += Math.sqrt(i) * (i & 7); return s; }\n' +
        '  public static void main(String[] a) { long t = System.currentTimeMillis(); double s = 0; while (System.currentTimeMillis() - t < 1500) s += burn(100000); System.out.println(s > 0 ? "" : "x"); } }\n',
    )
    const c = spawnSync('javac', ['-d', dir, join(dir, 'KilnHot.java')], { encoding: 'utf8', timeout: 60000 })
    if (c.status !== 0) throw new Error(`javac failed: ${c.stderr}`)
    return record('java', [
      'java',
      '-XX:+UnlockDiagnosticVMOptions',
      '-XX:+DumpPerfMapAtExit',
      '-XX:+PreserveFramePointer',
      '-cp',
      dir,
      'KilnHot',
    ])
  })
