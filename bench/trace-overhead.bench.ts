/**
 * The request tracer's cost: nginx requests per second under wrk with and without
 * the BPF capture alone and with `kiln agent --trace-only`, interleaved, plus the agent's own CPU and memory and the
 * capture events it handled per second (with its drops). Method: bench/README.md
 * ("trace-overhead"). Root only; skips with a reason otherwise.
 */
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fmt, root } from './support.ts'
import { createServer } from 'node:http'
import { startNginx } from '../test/trace/services.ts'
import { captureUnavailable, startAgent } from '../test/trace/capture/helpers.ts'
import { buildLoader } from '../src/trace/capture/build.ts'

const SECONDS = Number(process.env.KILN_BENCH_SECONDS ?? 5)
const PAIRS = Number(process.env.KILN_BENCH_PAIRS ?? 3)
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

const rssKb = (pids: number[]) =>
  pids.reduce((a, p) => {
    try {
      return a + Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0)
    } catch {
      return a
    }
  }, 0)

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
      const sampler = setInterval(() => (peak = Math.max(peak, rssKb(tree(pid)))), 500)
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
  await nginx.stop()
  sink.close()
}

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
  `${fmt(x.cpuS, 2)} CPU s in ${SECONDS} s (${fmt((x.cpuS / SECONDS) * 100)} % of a core), peak RSS ${fmt(x.rssMb, 0)} MB (node + loader), ` +
  `${fmt(x.events / SECONDS, 0)} events/s handled (${fmt((x.cpuS / x.events) * 1e6, 1)} µs each, ${fmt(x.loaderRows || 0, 0)} of them the loader's rows, ${x.handBacks || 0} connections handed back), ` +
  `${x.drops} dropped by the ring buffer, ${fmt(x.rows, 0)} rows uploaded (${fmt((x.cpuS / x.rows) * 1e6, 1)} µs of agent and loader CPU each), load average ${fmt(x.load, 1)} before`
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
