/**
 * fs_slow_events: reads, writes, opens and fsyncs of regular files slower than a threshold, as
 * Inspektor Gadget's `trace fsslower --min-latency 10ms` reports them.
 *
 * Method: Inspektor Gadget (like BCC's fsslower) probes the file system's own functions
 * (vfs_read, ext4_file_open, …) with kprobes. Kernels built without CONFIG_KPROBES, and hosts
 * where fentry cannot attach, have neither, so Kiln times the system calls instead, with the
 * syscall tracepoints: sys_enter_* stores (time, fd, size, offset) per thread, sys_exit_* computes
 * the latency and, only for the few calls over the threshold, walks the task's file table through
 * BTF (`curtask->files->fdt->fd[fd]`) to keep regular files (`i_mode & S_IFMT == S_IFREG`) and
 * read the file's name (`f_path.dentry->d_name`, the last path component, ≤ 127 bytes).
 * Limits, against the kprobe gadget: the latency is the whole system call's (scheduling delays
 * while in the call count, as they do for the application); readv/writev/preadv/pwritev, mmap'd
 * I/O, io_uring and sendfile are not seen; a file's name is its last component; every read and
 * write on the host pays the two tracepoints (+0.5–0.95 µs per call here, bench/README.md)
 * whether or not the file is regular, since the type check happens only after the threshold.
 */
import type { ProcessMeta } from './process-meta.ts'
import { BpftraceSource } from './bpftrace-source.ts'
import { ticksOfBoottime } from './event-rows.ts'

/** op letter → the syscalls it times, and how each finds its fd, size and offset (-1: from the file position after the call). */
const CALLS = [
  { op: 'R', sys: 'read', fd: 'args->fd', count: 'args->count', pos: '-1' },
  { op: 'R', sys: 'pread64', fd: 'args->fd', count: 'args->count', pos: 'args->pos' },
  { op: 'W', sys: 'write', fd: 'args->fd', count: 'args->count', pos: '-1' },
  { op: 'W', sys: 'pwrite64', fd: 'args->fd', count: 'args->count', pos: 'args->pos' },
  // open: the file is the fd the call returns.
  { op: 'O', sys: 'openat', fd: '-1', count: '0', pos: '0' },
  { op: 'F', sys: 'fsync', fd: 'args->fd', count: '0', pos: '0' },
  { op: 'F', sys: 'fdatasync', fd: 'args->fd', count: '0', pos: '0' },
] as const

/** The bpftrace program for a threshold in ns, for every process or one. */
export function fsSlowerProgram(thresholdNs: bigint, pid?: number): string {
  // Filtered on entry: a call never stored is never timed.
  const only = pid === undefined ? '' : `/pid == ${pid}/ `
  const probes = CALLS.map(
    (c) => `
tracepoint:syscalls:sys_enter_${c.sys} ${only}{ @s[tid] = (nsecs, (int64)${c.fd}, (int64)${c.count}, (int64)${c.pos}); }
tracepoint:syscalls:sys_exit_${c.sys} {
  $s = @s[tid];
  delete(@s[tid]);
  $d = nsecs - $s.0;
  if ($s.0 != 0 && $d >= ${thresholdNs} && args->ret >= 0) {
    $fd = ${c.op === 'O' ? 'args->ret' : '$s.1'};
    $f = *(curtask->files->fdt->fd + $fd);
    if ($f != 0 && ($f->f_inode->i_mode & 0xf000) == 0x8000) {
      printf("F ${c.op} %llu %llu %lld %lld %lld %d %llu %s\\x1f%s\\n", $s.0, $d, ${c.op === 'R' || c.op === 'W' ? '$s.2' : '0'}, ${c.op === 'R' || c.op === 'W' ? '$s.3 >= 0 ? $s.3 : (int64)$f->f_pos - args->ret' : '-1'}, args->ret, pid, curtask->group_leader->start_boottime, comm, str($f->f_path.dentry->d_name.name));
    }
  }
}`,
  )
  // Nothing of a call in flight is printed when bpftrace exits.
  return probes.join('\n') + '\nEND { clear(@s); }'
}

// One entry per thread inside a timed call — threads blocked in read() on sockets and pipes
// included — so bpftrace's default of 4,096 would silently stop timing calls on a busy server.
// 65,536 entries of 8 + 32 bytes: 6.8 MB of kernel memory (bpftool map list, measured).
const MAP_KEYS = 65_536

// op, start (monotonic ns), latency, bytes, offset, ret, pid, start_boottime, comm \x1f file.
const LINE = /^F ([RWOF]) (\d+) (\d+) (-?\d+) (-?\d+) (-?\d+) (-?\d+) (\d+) ([^\x1f]*)\x1f(.*)$/

export interface FsSlowerOptions {
  meta: ProcessMeta
  /** Operations at least this slow are kept (`--fs-slower-than`, 10 ms by default as in Inspektor Gadget's examples). */
  thresholdMs: number
  /** Only this process (as Inspektor Gadget's --pid); every process by default. */
  pid?: number
  log?: (line: string) => void
}

export class FsSlowerSource extends BpftraceSource {
  constructor(private readonly o: FsSlowerOptions) {
    super('fs_slow_events', 'loading BPF programs on the syscall tracepoints', {
      log: o.log,
      env: { BPFTRACE_STRLEN: '128', BPFTRACE_MAP_KEYS_MAX: String(MAP_KEYS) },
    })
  }

  get program(): string {
    return fsSlowerProgram(BigInt(Math.round(this.o.thresholdMs * 1e6)), this.o.pid)
  }

  protected line(l: string, epoch: (mono: bigint) => bigint): void {
    const m = LINE.exec(l)
    if (!m) {
      this.counts.unparsed++
      return
    }
    this.counts.events++
    const op = m[1]!
    this.rows.push({
      time_: epoch(BigInt(m[2]!)).toString(),
      op,
      bytes: Number(m[4]),
      offset: op === 'R' || op === 'W' ? Number(m[5]) : -1,
      // d_name bytes as printed (latin1 here): back to the UTF-8 the name was written in.
      file: Buffer.from(m[10]!, 'latin1').toString('utf8'),
      latency: Number(m[3]),
      ...this.o.meta.columns(Number(m[7]), { startTicks: ticksOfBoottime(BigInt(m[8]!)), comm: m[9]! }),
    })
  }
}
