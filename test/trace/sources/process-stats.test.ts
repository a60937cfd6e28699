import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeUpid } from '../../../src/model/trace-tables.ts'
import { hostSources, ProcessMeta } from '../../../src/trace/sources/index.ts'
import { ProcessStatsSource } from '../../../src/trace/sources/process-stats.ts'
import { listPids, parseStat, PF_KTHREAD, readProc } from '../../../src/trace/sources/proc.ts'
import { collect, isRoot, root, startChild, waitFor, work } from './helpers.ts'
import { nobodyCannotRun } from '../../nobody.ts'

const MiB = 1024 * 1024
// A child with a known footprint: 96 MiB touched, 3 MiB written to a file, ~300 ms of CPU.
const CHILD = `
const fs = require('node:fs')
const keep = Buffer.alloc(96 * 1024 * 1024, 1)
const fd = fs.openSync(process.argv[1], 'w')
for (let i = 0; i < 3; i++) fs.writeSync(fd, Buffer.alloc(1024 * 1024, 2))
fs.closeSync(fd)
const t = Date.now(); let s = 0; while (Date.now() - t < 300) s += Math.sqrt(t)
console.log('ready', keep.length, s > 0)
setTimeout(() => {}, 60000)
`

test('process_stats reads a known child: rss, wchar, CPU, threads, upid and metadata', {
  skip: isRoot ? false : 'needs root (/proc/PID/io)',
}, async () => {
  const file = join(work, 'written')
  const child = await startChild(process.execPath, ['-e', CHILD, file, '--kiln-marker-ps'])
  const pid = child.pid!
  const meta = new ProcessMeta({ node: 'test-node', asid: 7 })
  const source = new ProcessStatsSource({ meta, intervalMs: 60_000 })
  const got = await collect(source)
  const rows = got.get('process_stats') ?? []
  assert.ok(rows.length > 3, `one row per process, got ${rows.length}`)
  const row = rows.find((r) => r.pid === pid)
  assert.ok(row, `a row for the child ${pid}`)
  const stat = parseStat(readFileSync(`/proc/${pid}/stat`, 'latin1'))!
  assert.equal(row.upid, makeUpid(7, pid, stat.startTicks).toString())
  assert.match(String(row.time_), /^\d{19}$/)
  assert.ok(Math.abs(Number(BigInt(row.time_ as string) / 1_000_000n) - Date.now()) < 10_000)
  // rss against the kernel's own VmRSS (kB) in /proc/PID/status, and the 96 MiB the child touched.
  const vmRss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024
  assert.ok(Number(row.rss_bytes) >= 96 * MiB, `rss ${row.rss_bytes}`)
  assert.ok(Math.abs(Number(row.rss_bytes) - vmRss) < 4 * MiB, `rss ${row.rss_bytes} vs VmRSS ${vmRss}`)
  assert.ok(Number(row.vsize_bytes) > Number(row.rss_bytes))
  assert.ok(Number(row.wchar_bytes) >= 3 * MiB, `wchar ${row.wchar_bytes}`)
  assert.ok(Number(row.rchar_bytes) > 0)
  assert.ok(Number(row.cpu_utime_ns) + Number(row.cpu_ktime_ns) >= 200e6, `cpu ${row.cpu_utime_ns} + ${row.cpu_ktime_ns}`)
  assert.ok(Number(row.cpu_utime_ns) % 1e7 === 0, 'whole clock ticks (10 ms) in ns')
  assert.ok(Number(row.num_threads) >= 5, 'node runs several threads')
  assert.ok(Number(row.minor_faults) >= (96 * MiB) / 4096 / 2, `minor faults ${row.minor_faults}`)
  assert.equal(row.node, 'test-node')
  assert.equal(row.service, readFileSync(`/proc/${pid}/comm`, 'utf8').trim())
  assert.match(String(row.cmdline), /--kiln-marker-ps/)
  assert.equal(row.container_id, '')
  // Kernel threads (PF_KTHREAD in /proc/PID/stat's flags) have no row; zombies do, with vsize 0.
  const kthreads = listPids().filter((p) => {
    const st = parseStat(readProc(`/proc/${p}/stat`) ?? '')
    return st !== undefined && (st.flags & PF_KTHREAD) !== 0
  })
  assert.ok(!rows.some((r) => kthreads.includes(Number(r.pid))), 'no kernel threads')

  // stop() takes one last reading: the counters at the end of the run.
  const before = rows.length
  await source.stop()
  assert.ok((got.get('process_stats') ?? []).length > before)
  const s = source.stats()
  assert.equal(s.scans, 2)
  // Some processes deny /proc/PID/io even to root (here pid 1, under a ptrace-restricting sandbox): counted, not fatal.
  assert.ok(s.unreadable! < s.processes!, JSON.stringify(s))
  child.kill()
})

test('process-meta: the cache keeps a process that exited, and a reused pid is noticed by its start time', async () => {
  const meta = new ProcessMeta({ node: 'n', asid: 1 })
  const c = spawn('sleep', ['30'])
  await waitFor('sleep to exec', () => {
    try {
      return readFileSync(`/proc/${c.pid}/comm`, 'utf8').trim() === 'sleep'
    } catch {
      return false
    }
  })
  const live = meta.info(c.pid!)
  assert.equal(live.read, true)
  assert.equal(live.columns.cmdline, 'sleep 30')
  assert.equal(live.columns.service, 'sleep')
  c.kill('SIGKILL')
  await new Promise((r) => c.once('exit', r))
  // Still the same (gone) process: its later events keep their columns.
  assert.equal(meta.columns(c.pid!).cmdline, 'sleep 30')
  assert.equal(meta.columns(c.pid!, { startTicks: live.startTicks }).upid, live.columns.upid)
  // Another start time for the same pid is another process: described by what the caller knew.
  const other = meta.info(c.pid!, { startTicks: live.startTicks + 1n, comm: 'reused' })
  assert.equal(other.read, false)
  assert.equal(other.columns.service, 'reused')
  assert.equal(other.columns.cmdline, '')
  assert.equal(other.columns.upid, makeUpid(1, c.pid!, live.startTicks + 1n).toString())
  assert.equal(meta.counts.gone, 1)
})

test('process-meta: a process that execs another program (same pid, same start) is read again', async () => {
  const meta = new ProcessMeta({ node: 'n', asid: 1 })
  // sh waits for the file, then becomes `sleep`: what node forking curl looks like to the agent.
  const go = `/tmp/kiln-exec-${process.pid}`
  const c = spawn('sh', ['-c', `while [ ! -e ${go} ]; do sleep 0.05; done; exec sleep 30`])
  try {
    await waitFor('sh to start', () => readProc(`/proc/${c.pid}/comm`)?.trim() === 'sh')
    const before = meta.info(c.pid!)
    assert.equal(before.columns.service, 'sh')
    writeFileSync(go, '')
    await waitFor('sh to exec sleep', () => readProc(`/proc/${c.pid}/comm`)?.trim() === 'sleep')
    // The caller (BPF) names the program: a different name is read again at once.
    const after = meta.info(c.pid!, { startTicks: before.startTicks, comm: 'sleep' })
    assert.equal(after.columns.service, 'sleep')
    assert.equal(after.columns.cmdline, 'sleep 30')
    assert.equal(after.columns.upid, before.columns.upid)
    // A caller that knows only the pid sees the change at the next re-check (once a second).
    const meta2 = new ProcessMeta({ node: 'n', asid: 1 })
    assert.equal(meta2.columns(c.pid!).service, 'sleep')
  } finally {
    c.kill('SIGKILL')
    rmSync(go, { force: true })
  }
})

test('without root every host source refuses to start with KILN_UNAUTHORIZED and what to do', {
  skip: nobodyCannotRun() ?? false,
}, async () => {
  const script = `
import { hostSources } from './src/trace/sources/index.ts'
for (const s of hostSources({ node: 'n', asid: 1, intervalMs: 1000, fsSlowerThanMs: 10, log: () => {} })) {
  try { await s.start(() => {}); console.log(s.name, 'STARTED'); await s.stop() }
  catch (e) { console.log(s.name, e.code, e.message) }
}`
  const c = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    uid: 65534,
    gid: 65534,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  c.stdout.on('data', (d: Buffer) => (out += d))
  c.stderr.on('data', (d: Buffer) => (out += d))
  await new Promise((r) => c.once('close', r))
  const lines = out.trim().split('\n')
  const names = hostSources({ node: 'n', asid: 1, intervalMs: 1000, fsSlowerThanMs: 10, log: () => {} }).map((s) => s.name)
  assert.equal(lines.length, names.length, out)
  for (const [i, name] of names.entries())
    assert.match(lines[i]!, new RegExp(`^${name} KILN_UNAUTHORIZED .*needs root.*run kiln agent --trace as root`), out)
})
