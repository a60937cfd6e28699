/**
 * `kiln agent`'s own CPU and memory while it samples a busy host: one busy C process per core,
 * the agent at its defaults (19 Hz, 10 s windows) uploading to a real kiln server. Prints agent
 * CPU / wall time, agent CPU / the busy work's CPU, peak RSS, and the same CPU for bare
 * `perf record -a -g -F 19` over as long (the floor: sampling with no symbolizing or upload).
 * Method: bench/README.md. KILN_BENCH_SECONDS sets each phase's length (default 30).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { startKiln } from '../test/server/helpers.ts'
import { fmt, root } from './support.ts'

const seconds = Number(process.env.KILN_BENCH_SECONDS ?? 30)
const tick = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100)
const dir = mkdtempSync(join(tmpdir(), 'kiln-agent-bench-'))

const rssKb = (pid: number): number => {
  try {
    return Number(/^VmRSS:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
  } catch {
    return 0
  }
}

/** A process tree's CPU seconds (its own and its reaped children's) and resident memory. */
function tree(pid: number): { cpu: number; rssKb: number; byComm: Map<string, number> } {
  let cpu = 0
  let rss = 0
  const byComm = new Map<string, number>()
  const visit = (p: number) => {
    let stat: string
    try {
      stat = readFileSync(`/proc/${p}/stat`, 'utf8')
    } catch {
      return // exited between listing and reading
    }
    // Fields after the parenthesised comm: utime, stime, cutime, cstime are 14–17.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const own = (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / tick
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
    cpu += own
    byComm.set(comm, (byComm.get(comm) ?? 0) + own)
    rss += rssKb(p)
    for (const t of readdirSync(`/proc/${p}/task`)) {
      let kids = ''
      try {
        kids = readFileSync(`/proc/${p}/task/${t}/children`, 'utf8')
      } catch {
        continue
      }
      for (const k of kids.split(' ').filter(Boolean)) visit(Number(k))
    }
  }
  visit(pid)
  return { cpu, rssKb: rss, byComm }
}

function busyProgram(): string {
  const src = join(dir, 'busy.c')
  writeFileSync(
    src,
    'volatile double s; __attribute__((noinline)) void kiln_bench_busy(void){for(int i=0;i<100000;i++)s+=i*0.5;} int main(void){for(;;)kiln_bench_busy();}\n',
  )
  const r = spawnSync('gcc', ['-O0', '-fno-omit-frame-pointer', '-o', join(dir, 'kiln_bench_busy'), src], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`gcc failed: ${r.stderr}`)
  return join(dir, 'kiln_bench_busy')
}

/** Runs `child` for the phase with the busy processes, sampling its tree once a second. */
async function phase(name: string, start: () => { child: ChildProcess; ready: Promise<unknown> }, busy: string) {
  const workers = cpus().map(() => spawn(busy, [], { stdio: 'ignore' }))
  const busyCpu = () => workers.reduce((a, w) => a + tree(w.pid!).cpu, 0)
  const { child, ready } = start()
  // Steady state only: the agent's start (loading its TypeScript, perf's first scan of every process) is not counted.
  await ready
  const t0 = performance.now()
  const first = tree(child.pid!)
  const c0 = first.cpu
  const b0 = busyCpu()
  let peakKb = 0
  let ownKb = 0
  for (let i = 0; i < seconds; i++) {
    await sleep(1000)
    const t = tree(child.pid!)
    peakKb = Math.max(peakKb, t.rssKb)
    ownKb = Math.max(ownKb, rssKb(child.pid!))
  }
  const wall = (performance.now() - t0) / 1000
  const last = tree(child.pid!)
  const cpu = last.cpu - c0
  const parts = [...last.byComm].map(([comm, c]) => `${comm} ${fmt(c - (first.byComm.get(comm) ?? 0), 2)} s`).join(', ')
  const busyUsed = busyCpu() - b0
  const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)))
  child.kill('SIGINT')
  const code = await exited
  for (const w of workers) w.kill('SIGKILL')
  console.log(
    `${name.padEnd(22)} CPU ${fmt(cpu, 2)} s over ${fmt(wall, 1)} s = ${fmt((cpu / wall) * 100, 2)}% of one core; ` +
      `busy work used ${fmt(busyUsed, 1)} CPU s → overhead ${fmt((cpu / busyUsed) * 100, 2)}%; peak RSS ${fmt(peakKb / 1024, 1)} MB (whole tree), ${fmt(ownKb / 1024, 1)} MB (${name.startsWith('kiln') ? 'agent process' : 'perf'}); by process: ${parts}`,
  )
  return { cpu, wall, busyUsed, peakKb, code }
}

const probe = spawnSync('perf', ['record', '-q', '-a', '-F', '19', '-o', join(dir, 'probe.data'), '--', 'true'], { encoding: 'utf8' })
if (probe.error || probe.status !== 0) {
  console.log(`skipped: perf cannot sample the whole host here (${probe.error?.message ?? probe.stderr.trim()}); run as root`)
  process.exit(0)
}
const busy = busyProgram()
const kiln = await startKiln()
try {
  console.log(`${cpus().length} busy processes (one per core), ${seconds} s per phase, 19 Hz, 10 s windows`)
  let log = ''
  const agent = await phase(
    'kiln agent',
    () => {
      const child = spawn(process.execPath, [join(root, 'bin', 'kiln.js'), 'agent', '--server', kiln.url], {
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      const ready = new Promise<void>((resolve) =>
        child.stderr!.on('data', (d: Buffer) => {
          log += d.toString()
          if (log.includes('kiln agent: window ')) resolve()
        }),
      )
      return { child, ready }
    },
    busy,
  )
  const floor = await phase(
    'bare perf record -a -g',
    () => ({
      child: spawn('perf', ['record', '-a', '-g', '-F', '19', '-o', join(dir, 'bare.data')], { stdio: 'ignore' }),
      ready: sleep(3000),
    }),
    busy,
  )
  const sent = /stopped: (\d+) profiles \((\d+) samples\) sent/.exec(log)
  if (agent.code !== 0 || !sent) throw new Error(`the agent did not stop cleanly:\n${log}`)
  console.log(`agent uploaded ${sent[1]} profiles (${sent[2]} samples)`)
  // /proc counts CPU in 1/CLK_TCK s ticks: bare perf may use less than one tick in a phase.
  console.log(
    `ratio agent CPU / bare perf record CPU: ${floor.cpu > 0 ? fmt(agent.cpu / floor.cpu, 1) : `over ${fmt(agent.cpu * tick, 0)} (perf used under one ${1000 / tick} ms tick)`}`,
  )
  console.log(`ratio agent CPU / busy work CPU: ${fmt(agent.cpu / agent.busyUsed, 4)}`)
} finally {
  await kiln.dispose()
  rmSync(dir, { recursive: true, force: true })
}
