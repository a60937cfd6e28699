/**
 * The cost of the host-data sources of `kiln agent --trace` (src/trace/sources), each against its
 * floor: process_stats' /proc scan per process against a bare readFileSync of the same two files;
 * process-meta's lookups; network_stats' scan; and what the BPF sources add to the work they
 * watch — fs_slow_events to every read/write system call (dd bs=1 from /dev/zero, 2 M syscalls),
 * block_io_events to every block request (dd 4 KiB O_DIRECT writes) — plus bpftrace's and the
 * source's own CPU per event. Needs root. Method and figures: bench/README.md.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ProcessMeta } from '../src/trace/sources/process-meta.ts'
import { ProcessStatsSource } from '../src/trace/sources/process-stats.ts'
import { NetworkStatsSource } from '../src/trace/sources/network-stats.ts'
import { FsSlowerSource } from '../src/trace/sources/fs-slower.ts'
import { BlockIoSource } from '../src/trace/sources/block-io.ts'
import { listPids } from '../src/trace/sources/proc.ts'
import { fmt } from './support.ts'

if (process.geteuid?.() !== 0) {
  console.log('trace-sources: skipped, needs root (/proc/PID/io of every process, bpftrace)')
  process.exit(0)
}

const dir = mkdtempSync(join(tmpdir(), 'kiln-sources-bench-'))
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
let failed = false
const verdict = (what: string, value: number, limit: number, unit = '×') => {
  const ok = value <= limit
  if (!ok) failed = true
  console.log(`${what}: ${fmt(value, 2)}${unit} (limit ${limit}${unit}) ${ok ? 'ok' : 'OVER'}`)
}

/** Best of `n` runs of fn, in ms. */
function best(n: number, fn: () => void): number {
  let min = Infinity
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    fn()
    min = Math.min(min, performance.now() - t)
  }
  return min
}

// ---- process_stats: the scan against reading the same files and nothing else
const meta = new ProcessMeta({ node: 'bench', asid: 1 })
const ps = new ProcessStatsSource({ meta, intervalMs: 60_000 })
const cold = best(1, () => ps.read())
const processes = ps.read().length
const allPids = listPids()
const scan = best(15, () => ps.read())
// The floor: the same reads — every stat, and io for the processes that get a row — and nothing else.
const withRow = ps.read().map((r) => r.pid as number)
const bare = best(15, () => {
  const read = (f: string) => {
    try {
      readFileSync(f, 'latin1')
    } catch {
      // gone
    }
  }
  listPids()
  for (const pid of allPids) read(`/proc/${pid}/stat`)
  for (const pid of withRow) read(`/proc/${pid}/io`)
})
console.log(
  `process_stats: ${processes} processes, scan ${fmt(scan, 2)} ms (${fmt((scan * 1000) / processes, 1)} µs/process); bare reads of the same ${allPids.length} stat and ${withRow.length} io files ${fmt(bare, 2)} ms; first scan (metadata read) ${fmt(cold, 1)} ms`,
)
verdict('process_stats scan / bare reads', scan / bare, 2)

// ---- process-meta: a hit, a hit that re-reads the start time, a new process
const pid = process.pid
meta.columns(pid)
const N = 100_000
let t = performance.now()
for (let i = 0; i < N; i++) meta.columns(pid)
const hitUs = ((performance.now() - t) * 1000) / N
t = performance.now()
for (let i = 0; i < 2000; i++) meta.columns(pid, { startTicks: BigInt(i) })
const newUs = ((performance.now() - t) * 1000) / 2000
const recheckUs =
  (best(5, () => {
    for (let i = 0; i < 1000; i++) readFileSync(`/proc/${pid}/stat`, 'latin1')
  }) *
    1000) /
  1000
console.log(
  `process-meta: cache hit ${fmt(hitUs, 3)} µs, once-a-second start-time check (a stat read) ${fmt(recheckUs, 1)} µs, new process (comm, cmdline, status, cgroup, exe read) ${fmt(newUs, 1)} µs`,
)

// ---- network_stats
const ns = new NetworkStatsSource({ meta, intervalMs: 60_000 })
ns.read()
const nsScan = best(15, () => ns.read())
console.log(`network_stats: scan ${fmt(nsScan, 2)} ms (${listPids().length} pids checked for their network namespace)`)

/** Wall ms of a command, best of 3; spawned asynchronously so the sources keep reading bpftrace's output meanwhile. */
async function timed(cmd: string, args: string[]): Promise<number> {
  let min = Infinity
  for (let i = 0; i < 3; i++) {
    const t = performance.now()
    const code = await new Promise((r) => spawn(cmd, args, { stdio: 'ignore' }).on('close', r))
    if (code !== 0) throw new Error(`${cmd} failed`)
    min = Math.min(min, performance.now() - t)
  }
  return min
}
const cpuMs = (p: number | undefined): number => {
  if (!p) return 0
  const f = readFileSync(`/proc/${p}/stat`, 'latin1').split(') ')[1]!.split(' ')
  return (Number(f[11]) + Number(f[12])) * 10
}
const selfCpuMs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

// ---- fs_slow_events: what the two tracepoints add to each read/write
const SYSCALLS = ['if=/dev/zero', 'of=/dev/null', 'bs=1', 'count=1000000']
const plain = await timed('dd', SYSCALLS)
const fs = new FsSlowerSource({ meta, thresholdMs: 10 })
await fs.start(() => {})
const traced = await timed('dd', SYSCALLS)
await fs.stop()
const perCall = ((traced - plain) * 1e6) / 2_000_000
console.log(
  `fs_slow_events: dd bs=1 (1 M reads + 1 M writes) ${fmt(plain, 0)} ms → ${fmt(traced, 0)} ms traced: +${fmt(perCall, 0)} ns per system call`,
)
verdict('fs_slow_events cost per read/write', perCall / 1000, 1.5, ' µs')

// ---- block_io_events: per request, and the CPU each printed event costs
const file = join(dir, 'direct.bin')
const BLOCKS = ['if=/dev/zero', `of=${file}`, 'bs=4k', 'count=4000', 'oflag=direct']
const plainIo = await timed('dd', BLOCKS)
let rows = 0
const bio = new BlockIoSource({ meta })
await bio.start((_t, r) => (rows += r.length))
const bpfBefore = cpuMs(bio.bpftracePid)
const selfBefore = selfCpuMs()
const tracedIo = await timed('dd', BLOCKS)
await new Promise((r) => setTimeout(r, 300))
const bpfCpu = cpuMs(bio.bpftracePid) - bpfBefore
const selfCpu = selfCpuMs() - selfBefore
await bio.stop()
console.log(
  `block_io_events: dd 4000 × 4 KiB O_DIRECT ${fmt(plainIo, 0)} ms → ${fmt(tracedIo, 0)} ms traced (${fmt(tracedIo / plainIo, 2)}×); ` +
    `${rows} rows (${bio.stats().lost} lost); bpftrace ${fmt((bpfCpu * 1000) / Math.max(1, rows), 1)} µs CPU and the source ${fmt((selfCpu * 1000) / Math.max(1, rows), 1)} µs CPU per request`,
)
verdict('block_io_events traced / plain dd', tracedIo / plainIo, 1.3)
process.exit(failed ? 1 : 0)
