/**
 * The socket capture as a TraceSource: runs the libbpf loader (bpf/), reads its event stream,
 * tracks connections, parses their protocols, and emits rows for http/dns/mysql/pgsql/redis_events
 * and conn_stats with each process's metadata columns.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { KilnError } from '../../model/errors.ts'
import type { ProcessMeta } from '../sources/index.ts'
import type { Emit, TraceSource } from '../types.ts'
import { buildLoader, portableLoader } from './build.ts'
import { ConnTracker, type Proc } from './connections.ts'
import { OwnSockets } from './own-sockets.ts'
import { TlsTargets, systemLibssl } from './tls-targets.ts'
import { EventDecoder, EventType } from './wire.ts'

export interface SocketSourceOptions {
  meta: ProcessMeta
  log: (line: string) => void
  /** Bytes captured per send/receive (at most 16 KiB, the BPF program's buffer). */
  captureBytes?: number
  /** conn_stats rows are emitted this often (Pixie: every push period). */
  connStatsIntervalMs?: number
  /** Where the built loader is cached (see build.ts). */
  cacheDir?: string
  /** TLS uprobes on libssl and Node (default on). */
  tls?: boolean
}

// New processes are scanned for libssl and Node every 5 s: a uprobe added then covers every
// later process mapping the same file, so only the first minutes of a new runtime can be missed.
const SCAN_MS = 5_000

export class SocketSource implements TraceSource {
  readonly name = 'socket'
  private child: ChildProcess | undefined
  private tracker: ConnTracker | undefined
  private timers: NodeJS.Timeout[] = []
  private readonly counts = { ringDrops: 0, loaderEvents: 0, uprobeFiles: 0, errors: 0, handBacks: 0 }
  private stderr = ''
  /** Uprobe paths asked for at start and not yet answered by the loader. */
  private awaiting = new Set<string>()
  private acked: (() => void) | undefined

  constructor(private readonly o: SocketSourceOptions) {}

  async start(emit: Emit): Promise<void> {
    preflight()
    const bin = buildLoader(this.o.cacheDir, this.o.log)
    const own = new OwnSockets()
    // A row's connection and process columns, one string per connection: the batch sends it once.
    const shared = (p: Proc, connColumns: string | undefined): string => {
      // Kept on the connection: one process lookup per connection, not per row.
      p.columnsJson ??= this.o.meta.columnsJson(p.tgid, { startTicks: p.startTicks, comm: p.comm })
      if (!connColumns) return p.columnsJson
      if (p.shared?.conn !== connColumns) p.shared = { conn: connColumns, text: `${connColumns},${p.columnsJson}` }
      return p.shared.text
    }
    const tracker = (this.tracker = new ConnTracker({
      // The row as JSON text: no object per row outlives this call.
      emit: (table, row, p, connColumns) => emit(table, [JSON.stringify(row)], shared(p, connColumns)),
      // The loader's http_events rows arrive as JSON's UTF-8 already: copied into the batch as they are.
      // With --http1-rows compact they are arrays of values, the keys sent once per batch.
      emitBytes: (table, bytes, p, connColumns, columns) => emit(table, [bytes], shared(p, connColumns), columns),
      alive: (tgid) => existsSync(`/proc/${tgid}`),
      seen: (p) => void this.o.meta.columns(p.tgid, { startTicks: p.startTicks, comm: p.comm }),
      ignoreRemote: (addr, port) => own.has(addr, port),
    }))
    // The loader with typed kernel reads first; on a kernel before 6.2 it cannot load (exit 3),
    // and the build with helper reads runs instead (KILN_CAPTURE_PORTABLE=1 runs it at once).
    const portable = portableLoader(bin)
    let child: ChildProcess
    try {
      child = await this.launch(process.env.KILN_CAPTURE_PORTABLE === '1' ? portable : bin, tracker)
    } catch (e) {
      if (!(e instanceof LoadFailed)) throw e
      if (e.code !== 3 || !existsSync(portable) || process.env.KILN_CAPTURE_PORTABLE === '1') throw e.error
      this.o.log('capture: typed kernel reads unavailable (Linux before 6.2?); loading the portable build')
      child = await this.launch(portable, tracker).catch((e2) => {
        throw e2 instanceof LoadFailed ? e2.error : e2
      })
    }
    child.removeAllListeners('exit')
    child.on('exit', (code, sig) => {
      if (this.child)
        this.o.log(`capture loader exited (${sig ?? code}): request tracing stopped; ${this.stderr.trim().split('\n').slice(-2).join(' ')}`)
    })

    if (this.o.tls !== false) {
      const targets = new TlsTargets('/proc', new Set([process.pid]))
      const attach = (paths: string[]) => {
        for (const p of paths) child.stdin!.write(`uprobe ${p}\n`)
      }
      const first = [...systemLibssl().filter((p) => targets.claim(p)), ...targets.scan()]
      // Started means TLS of the runtimes already running is seen: the loader answers every uprobe
      // line, and attaching to node's 100 MB binary took seconds at load 14 (an https request made
      // right after start went unseen). At most 15 s, then the rest attaches in the background.
      const acked = new Promise<void>((resolve) => {
        this.awaiting = new Set(first)
        this.acked = resolve
        if (!first.length) resolve()
      })
      attach(first)
      await Promise.race([acked, sleep(15_000, undefined, { ref: false })])
      this.acked = undefined
      this.timers.push(setInterval(() => attach(targets.scan()), SCAN_MS))
    }
    this.timers.push(setInterval(() => tracker.sweep(), SCAN_MS))
    this.timers.push(setInterval(() => tracker.flushConnStats(nowNs()), this.o.connStatsIntervalMs ?? 10_000))
    for (const t of this.timers) t.unref()
    this.o.log(
      `socket capture: libbpf loader ${bin} (syscall tracepoints, ${this.o.captureBytes ?? 16384} bytes per transfer${this.o.tls !== false ? ', OpenSSL uprobes' : ''})`,
    )
  }

  /** Runs one loader build and reads its events into the tracker; resolves at its hello. */
  private async launch(path: string, tracker: ConnTracker): Promise<ChildProcess> {
    const child = (this.child = spawn(
      path,
      [
        '--cap',
        String(this.o.captureBytes ?? 16384),
        '--http1-rows',
        'compact',
        ...(process.env.KILN_CAPTURE_HTTP1 === 'off' ? ['--http1', 'off'] : []),
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    ))
    child.stdin!.write(`skip ${process.pid}\n`)
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (t: string) => {
      // libbpf warnings; kept for the error message when loading fails.
      this.stderr = (this.stderr + t).slice(-4000)
    })
    child.stdin!.on('error', () => undefined)

    const decoder = new EventDecoder()
    let hello: (() => void) | undefined
    const ready = new Promise<void>((resolve, reject) => {
      hello = resolve
      child.once('error', (e) => reject(new KilnError('KILN_UNSUPPORTED', `cannot run the capture loader ${path}: ${e.message}`)))
      child.once('exit', (code, sig) => reject(new LoadFailed(code, loadError(code, sig, this.stderr))))
    })
    child.stdout!.on('data', (chunk: Buffer) => {
      let events: ReturnType<typeof decoder.push>
      try {
        events = decoder.push(chunk)
      } catch (e) {
        this.o.log(`capture: ${(e as Error).message}; stopping the capture`)
        child.kill('SIGKILL')
        return
      }
      for (const ev of events) {
        try {
          if (ev.type === EventType.hello) {
            tracker.offsetNs = ev.data.readBigInt64LE(0)
            hello?.()
          } else if (ev.type === EventType.stats) this.onStats(ev.data)
          else if (ev.type === EventType.log) this.onLog(ev.data.toString('utf8'))
          else tracker.handle(ev)
        } catch (e) {
          // A bug for one event costs that event, never the agent.
          if (this.counts.errors++ < 5) this.o.log(`capture: event skipped: ${(e as Error).stack ?? e}`)
        }
      }
    })
    await ready
    return child
  }

  private onStats(data: Buffer): void {
    const drops = Number(data.readBigUInt64LE(0))
    this.counts.loaderEvents = Number(data.readBigUInt64LE(16))
    // Connections whose HTTP/1 the loader gave to this process's parser (bpf/http1.c).
    if (data.length >= 40) this.counts.handBacks = Number(data.readBigUInt64LE(32))
    if (drops > this.counts.ringDrops) {
      this.o.log(
        `capture: ${drops - this.counts.ringDrops} events dropped (ring buffer full: the agent fell behind the kernel); ${drops} since start`,
      )
      this.counts.ringDrops = drops
    }
  }

  private onLog(line: string): void {
    const m = /^uprobe (.*): (\d+) SSL functions attached/.exec(line)
    if (m) this.counts.uprobeFiles++
    const u = /^uprobe (.*?): /.exec(line)
    if (u && this.acked && this.awaiting.delete(u[1]!) && this.awaiting.size === 0) this.acked()
    this.o.log(`capture: ${line}`)
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t)
    this.timers = []
    const child = this.child
    this.child = undefined
    if (child && child.exitCode === null) {
      // 'close': the loader has exited and its output is read to the end, the last drop count included.
      const closed = new Promise((r) => child.once('close', r))
      // Closing stdin ends the loader's loop; it writes what its ring buffer still holds first
      // (up to 16 MB: seconds of parsing for an agent that had fallen behind).
      child.stdin!.end()
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await closed
      clearTimeout(t)
    }
    if (this.tracker) {
      this.tracker.endAll(nowNs())
      this.tracker.flushConnStats(nowNs())
    }
  }

  stats(): Record<string, number> {
    const t = this.tracker
    return {
      ...(t ? { ...t.stats, connections: t.size } : {}),
      ringDrops: this.counts.ringDrops,
      loaderEvents: this.counts.loaderEvents,
      uprobeFiles: this.counts.uprobeFiles,
      eventErrors: this.counts.errors,
      http1HandBacks: this.counts.handBacks,
    }
  }
}

const nowNs = () => BigInt(Date.now()) * 1_000_000n

/** Root, BPF and tracefs: what the loader needs, checked first so the error says what to do. */
function preflight(): void {
  if (process.getuid?.() !== 0) {
    throw new KilnError(
      'KILN_UNSUPPORTED',
      'request tracing loads eBPF programs and needs root (or CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN): run it as sudo kiln agent --trace …, or without --trace/--trace-only to profile only',
    )
  }
  if (!existsSync('/sys/kernel/tracing/events/syscalls')) {
    mkdirSync('/sys/kernel/tracing', { recursive: true })
    spawnSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing'])
    if (!existsSync('/sys/kernel/tracing/events/syscalls')) {
      throw new KilnError(
        'KILN_UNSUPPORTED',
        "request tracing needs tracefs with syscall tracepoints (CONFIG_FTRACE_SYSCALLS): mount -t tracefs nodev /sys/kernel/tracing failed; in a container, mount the host's /sys/kernel/tracing",
      )
    }
  }
}

/** The loader exited before its hello; `code` 3 is "cannot load the BPF programs". */
class LoadFailed extends Error {
  constructor(
    readonly code: number | null,
    readonly error: KilnError,
  ) {
    super(error.message)
  }
}

function loadError(code: number | null, sig: NodeJS.Signals | null, stderr: string): KilnError {
  const tail = stderr
    .trim()
    .split('\n')
    .filter((l) => !/^\d+: /.test(l))
    .slice(-3)
    .join(' ')
  const hint = /Operation not permitted|EPERM/.test(stderr)
    ? 'the kernel refused BPF: run as root with CAP_BPF/CAP_SYS_ADMIN (in Kubernetes, privileged: true), and check kernel.unprivileged_bpf_disabled / lockdown'
    : 'the kernel needs Linux 5.11+ (BPF ring buffers, task storage), BTF and syscall tracepoints'
  return new KilnError('KILN_UNSUPPORTED', `the capture loader exited (${sig ?? code}) before it started: ${tail || 'no message'}; ${hint}`)
}
