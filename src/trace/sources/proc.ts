/** Small readers of /proc shared by the host-data sources: a process's stat line, its io file, the kernel's units. */
import { readFileSync, readdirSync } from 'node:fs'
import { KilnError } from '../../model/errors.ts'
import type { Emit, TraceSource } from '../types.ts'

/** The fields of /proc/PID/stat the sources use (field numbers as in proc(5)). */
export interface ProcStat {
  comm: string
  /** Field 9; PF_KTHREAD (0x00200000) marks a kernel thread. */
  flags: number
  minorFaults: bigint
  majorFaults: bigint
  /** Fields 14 and 15, in clock ticks. */
  utimeTicks: bigint
  stimeTicks: bigint
  numThreads: number
  /** Field 22: start time in clock ticks since boot; with the pid it names one process for its lifetime. */
  startTicks: bigint
  vsizeBytes: bigint
  rssPages: bigint
}

export const PF_KTHREAD = 0x00200000

/** Parses a /proc/PID/stat line; undefined when it is not one. comm may hold spaces and ')' so the fields start after the last ')'. */
export function parseStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(')
  const close = text.lastIndexOf(')')
  if (open < 0 || close < open) return undefined
  // f[0] is field 3 (state): field n is f[n - 3].
  const f = text.slice(close + 2).split(' ')
  if (f.length < 22) return undefined
  const big = (n: number) => BigInt(f[n - 3]!)
  try {
    return {
      comm: text.slice(open + 1, close),
      flags: Number(f[9 - 3]),
      minorFaults: big(10),
      majorFaults: big(12),
      utimeTicks: big(14),
      stimeTicks: big(15),
      numThreads: Number(f[20 - 3]),
      startTicks: big(22),
      vsizeBytes: big(23),
      rssPages: big(24),
    }
  } catch {
    return undefined
  }
}

/** /proc/PID/io as a map of its counters (rchar, wchar, read_bytes, write_bytes, …). */
export function parseIo(text: string): Map<string, bigint> {
  const out = new Map<string, bigint>()
  for (const line of text.split('\n')) {
    const m = /^(\w+): (\d+)$/.exec(line)
    if (m) out.set(m[1]!, BigInt(m[2]!))
  }
  return out
}

/** Reads a /proc file, or undefined when the process is gone or the file is not readable. */
export function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1')
  } catch {
    return undefined
  }
}

/** A file's text as UTF-8, or undefined when it cannot be read (a process gone, a path missing). */
export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

/** A directory's names, or none when it cannot be read. */
export function listDir(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

/** The pids under procRoot, in directory order. */
export function listPids(procRoot = '/proc'): number[] {
  const out: number[] = []
  for (const name of readdirSync(procRoot)) {
    const c = name.charCodeAt(0)
    if (c >= 48 && c <= 57) out.push(Number(name))
  }
  return out
}

/**
 * The clock tick and page size from the auxiliary vector the kernel handed this process
 * (AT_CLKTCK = 17, AT_PAGESZ = 6): the values sysconf() reports, without spawning getconf.
 * USER_HZ is 100 and pages 4096 on x86-64 and most arm64 kernels — the fallbacks.
 */
export function kernelUnits(): { clockTick: number; pageSize: number } {
  let clockTick = 100
  let pageSize = 4096
  try {
    const b = readFileSync('/proc/self/auxv')
    for (let i = 0; i + 16 <= b.length; i += 16) {
      const type = b.readBigUInt64LE(i)
      const value = Number(b.readBigUInt64LE(i + 8))
      if (type === 17n && value > 0) clockTick = value
      if (type === 6n && value > 0) pageSize = value
      if (type === 0n) break
    }
  } catch {
    // no procfs: the fallbacks
  }
  return { clockTick, pageSize }
}

/** An INT64 column value: a number while exact, else a string of digits (the ingest API takes both). */
export function int64(v: bigint): number | string {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()
}

/** Wall-clock time now, ns since the epoch, as the digits `time_` takes. */
export function nowNs(): string {
  return (BigInt(Date.now()) * 1_000_000n).toString()
}

/**
 * Rejects without root: reading every process's /proc/PID/io and loading BPF programs both need it
 * (CAP_SYS_PTRACE and CAP_BPF + CAP_PERFMON; bpftrace 0.17 itself insists on uid 0).
 */
export function requireRoot(source: string, why: string): void {
  if (typeof process.geteuid === 'function' && process.geteuid() !== 0) {
    throw new KilnError(
      'KILN_UNAUTHORIZED',
      `${source} needs root (${why}): run kiln agent --trace as root, or in the DaemonSet with privileged: true and hostPID: true (deploy/)`,
    )
  }
}

type Row = Record<string, string | number | boolean>

/**
 * A source that reads /proc once a window (process_stats, network_stats): a first reading at start,
 * one per interval, and a last one at stop so the counters at the end of a run are stored too.
 * Its table is its name.
 */
export abstract class PollingSource implements TraceSource {
  abstract readonly name: string
  /** The agent log's counters; `rows` counts the rows emitted. */
  protected abstract readonly counts: { rows: number } & Record<string, number>
  private timer: NodeJS.Timeout | undefined
  private emit: Emit | undefined

  constructor(
    private readonly intervalMs: number,
    /** What root is needed for, in requireRoot's message. */
    private readonly rootFor: string,
  ) {}

  /** One reading: the rows of one window. */
  abstract read(): Row[]

  async start(emit: Emit): Promise<void> {
    requireRoot(this.name, this.rootFor)
    this.emit = emit
    this.scan()
    this.timer = setInterval(() => this.scan(), this.intervalMs)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    if (!this.timer) return
    clearInterval(this.timer)
    this.timer = undefined
    this.scan()
    this.emit = undefined
  }

  stats(): Record<string, number> {
    return { ...this.counts }
  }

  private scan(): void {
    const rows = this.read()
    this.counts.rows += rows.length
    if (rows.length) this.emit?.(this.name, rows)
  }
}
