/**
 * The process columns of every tracing row — `upid` and the metadata columns (pid, cmdline,
 * container_id, namespace, pod, container, service, node) — for a pid, read once per process.
 *
 * SHARED: every source that emits rows about a process uses this one helper (process_stats,
 * block_io_events, fs_slow_events, and the socket capture in src/trace/capture/), so a process
 * looks the same in every table. Create one `ProcessMeta` per agent (`hostSources` makes one, or
 * takes yours as `meta`) and call `meta.columns(pid)` per row, spreading it into the row:
 *
 *   const row = { time_, ...protocolColumns, ...meta.columns(pid) }
 *
 * Cost (bench/trace-sources.bench.ts, loaded 2-core host): a cache hit is a Map lookup (~0.3–0.8 µs);
 * without a start time from the caller the process's stat line is re-read at most once a second
 * per pid to notice pid reuse (~47 µs: /proc reads are slow here); a new process costs ~75–93 µs
 * (comm, exe, cmdline, status, cgroup).
 * When the caller knows the start time (BPF reads it as `task->start_boottime`, /proc/PID/stat
 * field 22), pass it: the cache is then exact and a process that has already exited still gets
 * its upid right (its cmdline and container are then unknown: service falls back to `comm`).
 */
import { join } from 'node:path'
import { makeUpid } from '../../model/trace-tables.ts'
import { PodDirectory, processLabels } from '../../agent/process.ts'
import { parseStat, readProc } from './proc.ts'

/** The metadata columns of a row plus its upid, named as in model/trace-tables.ts. */
export interface ProcessColumns {
  [column: string]: string | number
  upid: string
  pid: number
  cmdline: string
  container_id: string
  namespace: string
  pod: string
  container: string
  service: string
  node: string
}

/** What the cache holds per process: the row columns, and facts other sources group by. */
export interface ProcessInfo {
  columns: ProcessColumns
  startTicks: bigint
  comm: string
  /** Kubernetes pod UID from the cgroup, where there is one. */
  podUid?: string
  /** false when the process was gone before it could be read (columns from what the caller knew). */
  read: boolean
}

export interface ProcessMetaOptions {
  /** The `node` column: the host or Kubernetes node name. */
  node: string
  /** Agent short id: the high 32 bits of every upid's pid half (Pixie's ASID). */
  asid: number
  procRoot?: string
  /** Kubernetes log links (`/var/log/containers`, `/var/log/pods`) that name pods and containers. */
  logRoot?: string
}

/** What a caller may already know about the process (from BPF or its own /proc read). */
export interface KnownProcess {
  startTicks?: bigint
  comm?: string
}

interface Entry {
  info: ProcessInfo
  checkedAt: number
  usedAt: number
}

// A pid is reused only after the kernel's pid counter wraps (pid_max 4,194,304 on 64-bit), so
// re-checking the start time once a second per pid catches reuse without a read per event.
const RECHECK_MS = 1000
// Entries unused for a minute are dropped on the next sweep: the cache follows live processes.
const IDLE_MS = 60_000

export class ProcessMeta {
  private readonly cache = new Map<number, Entry>()
  private readonly json = new WeakMap<ProcessInfo, string>()
  private readonly pods: PodDirectory
  private readonly procRoot: string
  private sweptAt = Date.now()
  /** Processes read from /proc, and those gone before they could be (counters for the agent's log). */
  readonly counts = { read: 0, gone: 0 }

  constructor(private readonly o: ProcessMetaOptions) {
    this.procRoot = o.procRoot ?? '/proc'
    this.pods = new PodDirectory(o.logRoot)
  }

  /** The row columns for a pid (see the file comment). */
  columns(pid: number, known: KnownProcess = {}): ProcessColumns {
    return this.info(pid, known).columns
  }

  /**
   * The row columns as JSON members (`"upid":"…","pid":1,…`), serialised once per process: the
   * socket capture appends them to each row's text instead of copying 9 columns into every row.
   */
  columnsJson(pid: number, known: KnownProcess = {}): string {
    const info = this.info(pid, known)
    let j = this.json.get(info)
    if (j === undefined) this.json.set(info, (j = JSON.stringify(info.columns).slice(1, -1)))
    return j
  }

  /** Columns and facts for a pid, from the cache when the cached process is still the one with this pid. */
  info(pid: number, known: KnownProcess = {}): ProcessInfo {
    const now = Date.now()
    if (now - this.sweptAt > IDLE_MS) this.sweep(now)
    const hit = this.cache.get(pid)
    // exec keeps the pid and the start time but changes the program (a shell or node forking
    // `curl`): a name that differs from the cached one means the process must be read again.
    if (hit && (known.comm === undefined || known.comm === hit.info.comm)) {
      if (known.startTicks !== undefined ? hit.info.startTicks === known.startTicks : now - hit.checkedAt < RECHECK_MS) {
        hit.usedAt = now
        return hit.info
      }
      if (known.startTicks === undefined) {
        const now2 = this.stat(pid)
        // Gone: its last events still belong to it.
        if (now2 === undefined || (now2.startTicks === hit.info.startTicks && now2.comm === hit.info.comm)) {
          hit.checkedAt = hit.usedAt = now
          return hit.info
        }
      }
    }
    const info = this.read(pid, known)
    this.cache.set(pid, { info, checkedAt: now, usedAt: now })
    return info
  }

  get size(): number {
    return this.cache.size
  }

  private stat(pid: number): { startTicks: bigint; comm: string } | undefined {
    const text = readProc(join(this.procRoot, String(pid), 'stat'))
    return text === undefined ? undefined : parseStat(text)
  }

  private read(pid: number, known: KnownProcess): ProcessInfo {
    const stat = readProc(join(this.procRoot, String(pid), 'stat'))
    const parsed = stat === undefined ? undefined : parseStat(stat)
    // The pid now names another process than the caller saw: describe only what the caller knew.
    const same = parsed !== undefined && (known.startTicks === undefined || parsed.startTicks === known.startTicks)
    const startTicks = known.startTicks ?? parsed?.startTicks ?? 0n
    const comm = known.comm ?? parsed?.comm ?? ''
    const columns: ProcessColumns = {
      upid: makeUpid(this.o.asid, pid, startTicks).toString(),
      pid,
      cmdline: '',
      container_id: '',
      namespace: '',
      pod: '',
      container: '',
      service: comm,
      node: this.o.node,
    }
    if (!same) {
      this.counts.gone++
      return { columns, startTicks, comm, read: false }
    }
    const labels = processLabels(pid, this.pods, comm, this.procRoot)
    this.counts.read++
    columns.cmdline = labels.get('__meta_process_cmdline') ?? ''
    columns.container_id = labels.get('container_id') ?? ''
    columns.namespace = labels.get('namespace') ?? ''
    columns.pod = labels.get('pod') ?? ''
    columns.container = labels.get('container') ?? ''
    // Services come from the Kubernetes API, which the agent does not ask (yet): the comm names the program.
    columns.service = labels.get('comm') ?? comm
    const podUid = labels.get('pod_uid')
    return { columns, startTicks, comm: labels.get('comm') ?? comm, read: true, ...(podUid ? { podUid } : {}) }
  }

  private sweep(now: number): void {
    this.sweptAt = now
    for (const [pid, e] of this.cache) if (now - e.usedAt > IDLE_MS) this.cache.delete(pid)
  }
}
