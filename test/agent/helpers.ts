/** Busy programs and a running `kiln agent` for the agent's end-to-end tests. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const bin = join(import.meta.dirname, '..', '..', 'bin', 'kiln.js')
export const work = mkdtempSync(join(tmpdir(), 'kiln-agent-test-'))
process.on('exit', () => rmSync(work, { recursive: true, force: true }))

/** Why perf cannot sample the whole host here, or null when it can. */
export function perfUnavailable(): string | null {
  if (!existsSync('/sys/kernel/tracing/events')) {
    mkdirSync('/sys/kernel/tracing', { recursive: true })
    spawnSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing'])
  }
  const r = spawnSync('perf', ['record', '-q', '-a', '-g', '-F', '19', '-o', join(work, 'probe.data'), '--', 'true'], {
    encoding: 'utf8',
    timeout: 20000,
  })
  if (r.error) return `perf is not installed (${r.error.message}); apt-get install linux-perf`
  if (r.status !== 0) return `perf record -a fails here: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`
  return null
}

// A hot function no other process on the machine has; frame pointers kept for perf's unwinder.
const C_SOURCE = `
#include <stdlib.h>
#include <time.h>
volatile double sink;
__attribute__((noinline)) void kiln_agent_hot_spin(void) { for (int i = 0; i < 100000; i++) sink += i * 0.5; }
int main(int argc, char **argv) {
  time_t end = time(0) + (argc > 1 ? atoi(argv[1]) : 30);
  while (time(0) < end) kiln_agent_hot_spin();
  return 0;
}
`

/** Compiles the busy C program under `name` (its comm) and returns its path. */
export function busyProgram(name: string): string {
  const path = join(work, name)
  if (!existsSync(path)) {
    writeFileSync(join(work, 'busy.c'), C_SOURCE)
    const r = spawnSync('gcc', ['-O0', '-fno-omit-frame-pointer', '-o', path, join(work, 'busy.c')], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`gcc failed: ${r.stderr}`)
  }
  return path
}

/** Starts a process that is killed when the test ends. */
export function startBusy(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: 'ignore' })
  process.on('exit', () => c.kill('SIGKILL'))
  return c
}

export interface AgentRun {
  status: number | null
  signal: NodeJS.Signals | null
  log: string
}

/**
 * Runs `kiln agent ARGS` until `windows` windows have been logged and the log matches every
 * pattern of `until`, then sends `stopWith`; SIGKILL after `limitMs`.
 */
export function runAgent(
  args: string[],
  opts: { windows: number; until?: RegExp[]; stopWith?: NodeJS.Signals; limitMs?: number },
): Promise<AgentRun> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [bin, 'agent', ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    let log = ''
    let stopped = false
    // Bounded: a stuck agent fails the test rather than hanging it.
    const guard = setTimeout(() => c.kill('SIGKILL'), opts.limitMs ?? 60_000)
    c.stderr.setEncoding('utf8')
    c.stderr.on('data', (t: string) => {
      log += t
      if (
        !stopped &&
        (log.match(/^kiln agent: window /gm)?.length ?? 0) >= opts.windows &&
        (opts.until ?? []).every((re) => re.test(log))
      ) {
        stopped = true
        c.kill(opts.stopWith ?? 'SIGINT')
      }
    })
    c.on('error', reject)
    c.on('close', (status, signal) => {
      clearTimeout(guard)
      resolve({ status, signal, log })
    })
  })
}

/** Seeded random edits (delete, insert, replace up to `maxEdits` characters from `alphabet`) for fuzz tests. */
export function mutator(seed: number, alphabet: string, maxEdits: number) {
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n)
  const mutate = (text: string): string => {
    const chars = [...text]
    for (let m = 0, k = 1 + rand(maxEdits); m < k; m++) {
      const at = rand(chars.length + 1)
      const op = rand(3)
      if (op === 0) chars.splice(at, 1)
      else if (op === 1) chars.splice(at, 0, alphabet[rand(alphabet.length)]!)
      else chars[at] = alphabet[rand(alphabet.length)]!
    }
    return chars.join('')
  }
  return { rand, mutate }
}
