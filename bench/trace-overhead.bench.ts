/**
 * The request tracer's cost: nginx requests per second under wrk with and without
 * the BPF capture alone and with `kiln agent --trace-only`, interleaved, plus the agent's own CPU and memory and the
 * capture events it handled per second (with its drops). Method: bench/README.md
 * ("trace-overhead"). Root only; skips with a reason otherwise.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fmt, root } from './support.ts'
import { createServer } from 'node:http'
import { startNginx } from '../test/trace/services.ts'
import { captureUnavailable, startAgent } from '../test/trace/capture/helpers.ts'
import { buildLoader } from '../src/trace/capture/build.ts'

const SECONDS = Number(process.env.KILN_BENCH_SECONDS ?? 5)
const PAIRS = Number(process.env.KILN_BENCH_PAIRS ?? 3)
// Fixed request rates (req/s) for the paced rounds after the saturated ones ('' for none): the
// load Pixie's "2–5 % of a node's CPU" describes, not a loopback benchmark at full speed.
const RATES = (process.env.KILN_BENCH_RATES ?? '2000,10000').split(',').filter(Boolean).map(Number)
// A paced connection sends a request, waits for its response, then PACE_MS more (wrk's Lua delay()).
const PACE_MS = 8
// Another Kiln's bin/kiln.js (a checkout of an earlier commit, say): its agent runs in every round
// too, interleaved with this one, for a before/after on the same machine in the same minutes.
const BASELINE = process.env.KILN_BENCH_BASELINE

const why =
  captureUnavailable() ?? (spawnSync('sh', ['-c', 'command -v wrk']).status === 0 ? null : 'wrk is not installed (apt-get install wrk)')
if (why) {
  console.log(`trace-overhead: skipped: ${why}`)
  process.exit(0)
}

/** utime + stime + reaped children's, in 10 ms ticks, of a pid and its live children. */
function cpuTicks(pid: number): number {
  let sum = 0
  const one = (p: number) => {
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8')
      const v = f.slice(f.lastIndexOf(')') + 2).split(' ')
      sum += Number(v[11]) + Number(v[12]) + Number(v[13]) + Number(v[14])
    } catch {
      // gone
    }
  }
  for (const p of tree(pid)) one(p)
  return sum
}

function tree(pid: number): number[] {
  const out = [pid]
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim()
      if (kids) for (const k of kids.split(' ')) out.push(...tree(Number(k)))
    }
  } catch {
    // gone
  }
  return out
}

/**
 * Memory of a process tree in kB: the sum of VmRSS, and of Pss from smaps_rollup — each shared
 * page divided among the processes mapping it. The RSS sum counts node's binary and the two
 * bpftrace children's LLVM in full, each time (RSS 335 MB against PSS 175 MB for an agent at rest).
 */
function memKb(pids: number[]): { rss: number; pss: number } {
  let rss = 0
  let pss = 0
  for (const p of pids) {
    try {
      const r = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8')
      rss += Number(/^Rss:\s+(\d+)/m.exec(r)?.[1] ?? 0)
      pss += Number(/^Pss:\s+(\d+)/m.exec(r)?.[1] ?? 0)
    } catch {
      // gone
    }
  }
  return { rss, pss }
}

/** wrk for SECONDS against url; requests per second. */
async function wrk(url: string): Promise<number> {
  const out = await new Promise<string>((resolve) => {
    const c = spawn('wrk', ['-t1', '-c16', `-d${SECONDS}s`, url], { stdio: ['ignore', 'pipe', 'inherit'] })
    let s = ''
    c.stdout.setEncoding('utf8').on('data', (t: string) => (s += t))
    c.on('close', () => resolve(s))
  })
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out)
  if (!m) throw new Error(`wrk said: ${out}`)
  return Number(m[1])
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** The kernel's run-time counters (kernel.bpf_stats_enabled) of every BPF program loaded after `sinceId`: [ns, runs]. */
function bpfRunTime(sinceId: number): [ns: number, runs: number] {
  let ns = 0
  let runs = 0
  for (const p of bpfPrograms()) if (p.id > sinceId) [ns, runs] = [ns + (p.run_time_ns ?? 0), runs + (p.run_cnt ?? 0)]
  return [ns, runs]
}
const bpfPrograms = (): { id: number; run_time_ns?: number; run_cnt?: number }[] =>
  JSON.parse(spawnSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout || '[]')
const lastBpfId = () => Math.max(0, ...bpfPrograms().map((p) => p.id))
const STATS = '/proc/sys/kernel/bpf_stats_enabled'

const nginx = await startNginx()
if ('skip' in nginx) {
  console.log(`trace-overhead: skipped: ${nginx.skip}`)
  process.exit(0)
}
// The upload target: a sink that reads each POST and answers 200. A Kiln server's ingest on the
// same 2 cores would take its CPU from nginx and wrk too; its cost is ingest.bench.ts's subject.
const sink = createServer((req, res) => {
  req.on('data', () => undefined)
  req.on('end', () => res.end('{}'))
})
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r))
const sinkUrl = `http://127.0.0.1:${(sink.address() as { port: number }).port}`
const url = `http://127.0.0.1:${nginx.port}/`
const off: number[] = []
const loader = buildLoader()
// The baseline tree's loader too: its BPF programs alone, interleaved with this tree's.
const baseLoader = BASELINE
  ? ((await import(join(dirname(dirname(BASELINE)), 'src/trace/capture/build.ts'))) as { buildLoader: () => string }).buildLoader()
  : undefined
type BpfRun = { rps: number; nsPerEvent: number; nsPerRequest: number }
const bare: BpfRun[] = []
const baseBare: BpfRun[] = []
type AgentRun = {
  rps: number
  cpuS: number
  rssMb: number
  pssMb: number
  events: number
  drops: number
  rows: number
  load: number
  loaderRows: number
  handBacks: number
}
const on: AgentRun[] = []
// The same agent with the loader's HTTP/1 parser off (--http1 off): every transfer parsed in Node.
const nodeParsed: AgentRun[] = []
const base: AgentRun[] = []
const offLoad: number[] = []
const nginxPid = Number(readFileSync(join(nginx.dir, 'nginx.pid'), 'utf8'))
const nginxService = nginx
try {
  await wrk(url) // warm-up: nginx's first connections, the page cache
  for (let i = 0; i < PAIRS; i++) {
    // Alternate which goes first, so a drift of the machine's load falls on both sides.
    const modes = ['off', 'bpf', 'agent', 'agent-node', ...(BASELINE ? ['base-bpf', 'base'] : [])]
    for (const mode of i % 2 ? modes.reverse() : modes) {
      if (mode === 'off') {
        offLoad.push(loadavg()[0]!)
        off.push(await wrk(url))
        continue
      }
      if (mode === 'bpf' || mode === 'base-bpf') {
        // The kernel side alone: the loader with its events thrown away (no parsing, no upload);
        // with the kernel's BPF run-time counters on, the programs' own time per event.
        const since = lastBpfId()
        const l = spawn(mode === 'bpf' ? loader : baseLoader!, [], { stdio: ['pipe', 'ignore', 'ignore'] })
        await sleep(1500)
        writeFileSync(STATS, '1')
        const [ns0] = bpfRunTime(since)
        const rps = await wrk(url)
        const [ns1] = bpfRunTime(since)
        writeFileSync(STATS, '0')
        // 4 capture events per request: a send and a receive on each side (trace-replay's recordings say so).
        ;(mode === 'bpf' ? bare : baseBare).push({
          rps,
          nsPerEvent: (ns1 - ns0) / (rps * SECONDS * 4),
          nsPerRequest: (ns1 - ns0) / (rps * SECONDS),
        })
        l.stdin.end()
        await new Promise((r) => l.on('close', r))
        continue
      }
      const load = loadavg()[0]!
      const agent = await startAgent(
        ['--server', sinkUrl, '--trace-only'],
        mode === 'base' ? { bin: BASELINE } : mode === 'agent-node' ? { env: { KILN_CAPTURE_HTTP1: 'off' } } : {},
      )
      await sleep(500)
      const pid = agent.proc.pid!
      const t0 = cpuTicks(pid)
      let peak = 0
      let peakPss = 0
      const sampler = setInterval(() => {
        const m = memKb(tree(pid))
        peak = Math.max(peak, m.rss)
        peakPss = Math.max(peakPss, m.pss)
      }, 500)
      const rps = await wrk(url)
      const ticks = cpuTicks(pid) - t0
      clearInterval(sampler)
      const r = await agent.stop()
      const stat = (k: string) => Number(new RegExp(`trace source socket: .*\\b${k}=(\\d+)`).exec(r.log)?.[1] ?? NaN)
      const rows = Number(/trace stopped: (\d+) rows sent/.exec(r.log)?.[1] ?? NaN)
      ;(mode === 'base' ? base : mode === 'agent-node' ? nodeParsed : on).push({
        rps,
        cpuS: ticks / 100,
        rssMb: peak / 1024,
        pssMb: peakPss / 1024,
        events: stat('events'),
        drops: stat('ringDrops'),
        rows,
        load,
        loaderRows: stat('loaderRecords'),
        handBacks: stat('http1HandBacks'),
      })
    }
  }
} finally {
  if (!RATES.length) await stopAll()
}

async function stopAll(): Promise<void> {
  await nginxService.stop()
  sink.close()
}

if (PAIRS > 0) summary()
if (RATES.length) await paced()

function summary(): void {
  const offRps = median(off)
  const onRps = median(on.map((x) => x.rps))
  console.log(`nginx under wrk (-t1 -c16, ${SECONDS} s runs, ${PAIRS} interleaved pairs, root ${root}):`)
  console.log(
    `  without tracer: ${off.map((x) => fmt(x, 0)).join(', ')} req/s (median ${fmt(offRps, 0)}; load average before each: ${offLoad.map((x) => fmt(x, 1)).join(', ')})`,
  )
  const describeBpf = (name: string, runs: BpfRun[]) => {
    const rps = median(runs.map((x) => x.rps))
    console.log(
      `  with ${name} alone (events read and discarded): ${runs.map((x) => fmt(x.rps, 0)).join(', ')} req/s (median ${fmt(rps, 0)}, ratio ${(rps / offRps).toFixed(3)}); ` +
        `BPF programs' run time ${runs.map((x) => fmt(x.nsPerRequest, 0)).join(', ')} ns per request (median ${fmt(median(runs.map((x) => x.nsPerEvent)), 0)} ns per event)`,
    )
  }
  describeBpf('the BPF capture', bare)
  if (BASELINE) describeBpf("the baseline's BPF capture", baseBare)
  console.log(`  with kiln agent --trace-only: ${on.map((x) => fmt(x.rps, 0)).join(', ')} req/s (median ${fmt(onRps, 0)})`)
  console.log(`  ratio traced/untraced: ${(onRps / offRps).toFixed(3)} (${fmt((1 - onRps / offRps) * 100)} % fewer requests per second)`)
  const describe = (x: AgentRun) =>
    `${fmt(x.cpuS, 2)} CPU s in ${SECONDS} s (${fmt((x.cpuS / SECONDS) * 100)} % of a core), peak RSS ${fmt(x.rssMb, 0)} MB, PSS ${fmt(x.pssMb, 0)} MB (node, loader, bpftrace), ` +
    `${fmt(x.events / SECONDS, 0)} events/s handled (${fmt((x.cpuS / x.events) * 1e6, 1)} µs each, ${fmt(x.loaderRows || 0, 0)} of them the loader's rows, ${x.handBacks || 0} connections handed back), ` +
    `${x.drops} dropped by the ring buffer, ${fmt(x.rows, 0)} rows uploaded (${fmt(x.rows / (x.rps * SECONDS), 2)} a request: more than 2 means other traffic on the host was traced too; ${fmt((x.cpuS / x.rows) * 1e6, 1)} µs of agent and loader CPU each), load average ${fmt(x.load, 1)} before`
  for (const x of on) console.log(`  agent: ${describe(x)}`)
  const nodeRps = median(nodeParsed.map((x) => x.rps))
  console.log(
    `  with the agent parsing every transfer in Node (--http1 off): ${nodeParsed.map((x) => fmt(x.rps, 0)).join(', ')} req/s (median ${fmt(nodeRps, 0)}, ratio ${(nodeRps / offRps).toFixed(3)})`,
  )
  for (const x of nodeParsed) console.log(`  agent, --http1 off: ${describe(x)}`)
  if (BASELINE) {
    const baseRps = median(base.map((x) => x.rps))
    console.log(
      `  with the baseline agent (${BASELINE}): ${base.map((x) => fmt(x.rps, 0)).join(', ')} req/s (median ${fmt(baseRps, 0)}, ratio ${(baseRps / offRps).toFixed(3)})`,
    )
    for (const x of base) console.log(`  baseline agent: ${describe(x)}`)
  }
}

/** wrk paced at about `rate` req/s: rate × PACE_MS / 1000 connections, each waiting PACE_MS after every response. */
async function wrkPaced(rate: number): Promise<{ rps: number; p50: number; p99: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-wrk-'))
  try {
    writeFileSync(join(dir, 'pace.lua'), `function delay()\n  return ${PACE_MS}\nend\n`)
    const conns = Math.max(1, Math.round((rate * PACE_MS) / 1000))
    const out = await new Promise<string>((resolve) => {
      const args = ['-t1', `-c${conns}`, `-d${SECONDS}s`, '--latency', '-s', join(dir, 'pace.lua'), url]
      const c = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'inherit'] })
      let t = ''
      c.stdout.setEncoding('utf8').on('data', (x: string) => (t += x))
      c.on('close', () => resolve(t))
    })
    const ms = (p: string) => {
      const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(out)
      if (!m) throw new Error(`wrk said: ${out}`)
      return Number(m[1]) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[m[2]!]!
    }
    const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)
    if (!rps) throw new Error(`wrk said: ${out}`)
    return { rps: Number(rps[1]), p50: ms('50'), p99: ms('99') }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** CPU ticks of a process tree split by command name: the agent's node and loader apart from its bpftrace children. */
function ticksByComm(pid: number): Map<string, number> {
  const out = new Map<string, number>()
  for (const p of tree(pid)) {
    try {
      const comm = readFileSync(`/proc/${p}/comm`, 'utf8').trim()
      const f = readFileSync(`/proc/${p}/stat`, 'utf8')
      const v = f.slice(f.lastIndexOf(')') + 2).split(' ')
      out.set(comm, (out.get(comm) ?? 0) + Number(v[11]) + Number(v[12]))
    } catch {
      // gone
    }
  }
  return out
}

type PacedRun = { rps: number; p50: number; p99: number; nginxS: number; agentS?: number; othersS?: number; bpfS?: number; rows?: number }

/**
 * At fixed rates: untraced and `kiln agent --trace-only` in interleaved pairs. Per run: the rate
 * wrk reached and its latency p50/p99; nginx's CPU (master and worker; the BPF programs run inside
 * its system calls, so the traced runs' figure includes them); the agent's node and loader CPU
 * apart from its other children (bpftrace for block I/O and slow file operations); the BPF
 * programs' run time (kernel.bpf_stats_enabled).
 */
async function paced(): Promise<void> {
  const cores = 2
  const results = new Map<number, { off: PacedRun[]; on: PacedRun[] }>()
  try {
    for (const rate of RATES) {
      const r = { off: [] as PacedRun[], on: [] as PacedRun[] }
      results.set(rate, r)
      for (let i = 0; i < Math.max(PAIRS, 1); i++) {
        for (const mode of i % 2 ? ['on', 'off'] : ['off', 'on']) {
          if (mode === 'off') {
            const n0 = cpuTicks(nginxPid)
            const w = await wrkPaced(rate)
            r.off.push({ ...w, nginxS: (cpuTicks(nginxPid) - n0) / 100 })
            continue
          }
          const since = lastBpfId()
          const agent = await startAgent(['--server', sinkUrl, '--trace-only'])
          await sleep(500)
          const pid = agent.proc.pid!
          const a0 = ticksByComm(pid)
          const n0 = cpuTicks(nginxPid)
          writeFileSync(STATS, '1')
          const [ns0] = bpfRunTime(since)
          const w = await wrkPaced(rate)
          const [ns1] = bpfRunTime(since)
          writeFileSync(STATS, '0')
          const nginxS = (cpuTicks(nginxPid) - n0) / 100
          const a1 = ticksByComm(pid)
          const rest = await agent.stop()
          let agentS = 0
          let othersS = 0
          for (const [comm, t] of a1) {
            const d = (t - (a0.get(comm) ?? 0)) / 100
            if (comm === 'node' || comm.startsWith('kiln')) agentS += d
            else othersS += d
          }
          const rows = Number(/trace stopped: (\d+) rows sent/.exec(rest.log)?.[1] ?? NaN)
          r.on.push({ ...w, nginxS, agentS, othersS, bpfS: (ns1 - ns0) / 1e9, rows })
        }
      }
    }
  } finally {
    await stopAll()
  }
  const pct = (s: number, of: number) => `${fmt((s / of) * 100, 1)} %`
  for (const [rate, { off, on }] of results) {
    console.log(
      `paced at ~${fmt(rate, 0)} req/s (${Math.max(1, Math.round((rate * PACE_MS) / 1000))} connections, ${PACE_MS} ms between a response and the next request, ${SECONDS} s runs, load average ${fmt(loadavg()[0]!, 1)} after):`,
    )
    for (const x of off)
      console.log(
        `  untraced: ${fmt(x.rps, 0)} req/s, latency p50 ${fmt(x.p50, 3)} ms p99 ${fmt(x.p99, 3)} ms, nginx ${pct(x.nginxS, SECONDS)} of a core`,
      )
    for (const x of on)
      console.log(
        `  traced:   ${fmt(x.rps, 0)} req/s, latency p50 ${fmt(x.p50, 3)} ms p99 ${fmt(x.p99, 3)} ms, nginx ${pct(x.nginxS, SECONDS)} of a core (BPF included); ` +
          `agent (node + loader) ${pct(x.agentS!, SECONDS * cores)} of the ${cores} cores = ${pct(x.agentS!, x.nginxS)} of nginx's CPU, ` +
          `${fmt((x.agentS! / (x.rps * SECONDS)) * 1e6, 1)} µs per request; BPF ${pct(x.bpfS!, SECONDS * cores)} of the cores, ${fmt((x.bpfS! / (x.rps * SECONDS)) * 1e6, 1)} µs per request; ` +
          `the agent's bpftrace sources ${pct(x.othersS!, SECONDS * cores)}; ${fmt(x.rows!, 0)} rows (${fmt(x.rows! / (x.rps * SECONDS), 2)} a request; more than 2: other traffic traced too)`,
      )
    const m = (xs: PacedRun[], f: (x: PacedRun) => number) => median(xs.map(f))
    console.log(
      `  medians: p50 ${fmt(
        m(on, (x) => x.p50),
        3,
      )} against ${fmt(
        m(off, (x) => x.p50),
        3,
      )} ms, p99 ${fmt(
        m(on, (x) => x.p99),
        3,
      )} against ${fmt(
        m(off, (x) => x.p99),
        3,
      )} ms; ` +
        `agent + BPF ${pct(
          m(on, (x) => x.agentS! + x.bpfS!),
          SECONDS * cores,
        )} of the machine`,
    )
  }
}
