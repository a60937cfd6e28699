/**
 * process_stats: every process's CPU, memory and I/O counters from /proc, read once a window —
 * cumulative, as Pixie's proc_stat connector reports them (a query takes differences).
 * /proc/PID/stat gives faults, CPU ticks, threads, vsize and rss pages; /proc/PID/io (root only
 * for other users' processes) gives rchar, wchar, read_bytes, write_bytes. Kernel threads are
 * left out: they have no memory or I/O of their own and would be ~half the rows of a small host.
 */
import { join } from 'node:path'
import type { ProcessMeta } from './process-meta.ts'
import { PF_KTHREAD, int64, kernelUnits, listPids, nowNs, parseIo, parseStat, readProc, PollingSource } from './proc.ts'

type Row = Record<string, string | number | boolean>

export interface ProcessStatsOptions {
  meta: ProcessMeta
  intervalMs: number
  procRoot?: string
}

export class ProcessStatsSource extends PollingSource {
  readonly name = 'process_stats'
  private readonly units = kernelUnits()
  private readonly procRoot: string
  protected readonly counts = { scans: 0, processes: 0, rows: 0, unreadable: 0, scan_us: 0 }

  constructor(private readonly o: ProcessStatsOptions) {
    super(o.intervalMs, "reading other users' /proc/PID/io")
    this.procRoot = o.procRoot ?? '/proc'
  }

  /** One reading of every process: the rows of one window. */
  read(): Row[] {
    const t0 = process.hrtime.bigint()
    const time = nowNs()
    const nsPerTick = BigInt(Math.round(1e9 / this.units.clockTick))
    const page = BigInt(this.units.pageSize)
    const rows: Row[] = []
    for (const pid of listPids(this.procRoot)) {
      const dir = join(this.procRoot, String(pid))
      const text = readProc(join(dir, 'stat'))
      const st = text === undefined ? undefined : parseStat(text)
      if (!st) continue // exited between the listing and the read
      if (st.flags & PF_KTHREAD) continue
      const ioText = readProc(join(dir, 'io'))
      if (ioText === undefined) {
        if (readProc(join(dir, 'stat')) === undefined) continue // exited meanwhile
        this.counts.unreadable++
      }
      const io = parseIo(ioText ?? '')
      rows.push({
        time_: time,
        major_faults: int64(st.majorFaults),
        minor_faults: int64(st.minorFaults),
        cpu_utime_ns: int64(st.utimeTicks * nsPerTick),
        cpu_ktime_ns: int64(st.stimeTicks * nsPerTick),
        num_threads: st.numThreads,
        vsize_bytes: int64(st.vsizeBytes),
        rss_bytes: int64(st.rssPages * page),
        rchar_bytes: int64(io.get('rchar') ?? 0n),
        wchar_bytes: int64(io.get('wchar') ?? 0n),
        read_bytes: int64(io.get('read_bytes') ?? 0n),
        write_bytes: int64(io.get('write_bytes') ?? 0n),
        ...this.o.meta.columns(pid, { startTicks: st.startTicks, comm: st.comm }),
      })
    }
    this.counts.scans++
    this.counts.processes = rows.length
    this.counts.scan_us = Number((process.hrtime.bigint() - t0) / 1000n)
    return rows
  }
}
