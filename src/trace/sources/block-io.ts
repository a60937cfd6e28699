/**
 * block_io_events: one row per block-device request, as Inspektor Gadget's `top block-io` sees
 * them (it sums per process; Kiln keeps each request and lets the query sum). Tracepoints of
 * this kernel's `block` group, keyed by device and first sector:
 *   block_getrq — a request is made for a bio, in the task that submitted it: the submitter;
 *   block_bio_frontmerge — a bio joined the front of a request, whose first sector moves;
 *   block_rq_merge — a request was folded into another and disappears;
 *   block_rq_insert / block_rq_issue — the submitter when no getrq was seen (flushes, requests
 *                     made elsewhere); issue, when the request goes to the driver, starts the latency.
 *                     Neither is bound to run in the submitter (a busy queue is re-run from
 *                     kblockd, a kworker); getrq is, which is why it names the process;
 *   block_rq_complete — the device finished: interrupt context, so `pid` there is whoever was
 *                     interrupted; the row takes the submitter recorded earlier.
 * Buffered writes are submitted by the kernel's writeback threads (kworker/…), so they are
 * theirs, as in Inspektor Gadget; O_DIRECT and reads are the process's own.
 * (block_io_start/done, since 6.5, mark bio accounting; getrq exists on every kernel.)
 */
import type { ProcessMeta } from './process-meta.ts'
import { BpftraceSource } from './bpftrace-source.ts'
import { ticksOfBoottime } from './event-rows.ts'

// The submitter as (pid, group leader's start_boottime in ns, comm); the issue time and size. Keyed by
// device, first sector and whether it is a discard: ext4 discards the blocks of deleted files from
// jbd2 while new writes reuse them, so a discard and a write can start at the same sector at once
// (the likeliest reading of a CI run where 1 MiB of dd's 4 went to another submitter).
// The END block empties the maps so bpftrace prints none of the in-flight requests at exit.
const PROGRAM = `
tracepoint:block:block_getrq { @who[args->dev, args->sector, strncmp(args->rwbs, "D", 1) == 0] = (pid, curtask->group_leader->start_boottime, comm); }
tracepoint:block:block_bio_frontmerge /@who[args->dev, args->sector + args->nr_sector, strncmp(args->rwbs, "D", 1) == 0].0 != 0/ {
  $d = strncmp(args->rwbs, "D", 1) == 0;
  @who[args->dev, args->sector, $d] = @who[args->dev, args->sector + args->nr_sector, $d];
  delete(@who[args->dev, args->sector + args->nr_sector, $d]);
}
tracepoint:block:block_rq_merge { delete(@who[args->dev, args->sector, strncmp(args->rwbs, "D", 1) == 0]); }
tracepoint:block:block_rq_insert /@who[args->dev, args->sector, strncmp(args->rwbs, "D", 1) == 0].0 == 0/ { @who[args->dev, args->sector, strncmp(args->rwbs, "D", 1) == 0] = (pid, curtask->group_leader->start_boottime, comm); }
tracepoint:block:block_rq_issue {
  $d = strncmp(args->rwbs, "D", 1) == 0;
  if (@who[args->dev, args->sector, $d].0 == 0) { @who[args->dev, args->sector, $d] = (pid, curtask->group_leader->start_boottime, comm); }
  @start[args->dev, args->sector, $d] = (nsecs, args->bytes);
}
tracepoint:block:block_rq_complete /@start[args->dev, args->sector, strncmp(args->rwbs, "D", 1) == 0].0 != 0/ {
  $d = strncmp(args->rwbs, "D", 1) == 0;
  $s = @start[args->dev, args->sector, $d];
  $w = @who[args->dev, args->sector, $d];
  printf("B %llu %llu %u %llu %u %s %d %llu %s\\n", $s.0, nsecs - $s.0, args->dev, args->sector, $s.1, args->rwbs, $w.0, $w.1, $w.2);
  delete(@start[args->dev, args->sector, $d]);
  delete(@who[args->dev, args->sector, $d]);
}
END { clear(@who); clear(@start); }`

const LINE = /^B (\d+) (\d+) (\d+) (\d+) (\d+) (\S+) (-?\d+) (\d+) (.*)$/

/** The op of a request from its rwbs flags (blktrace's letters): W, R, D (discard), F (a flush alone), N (none). */
export function opOf(rwbs: string): string {
  for (const c of 'WRDF') if (rwbs.includes(c)) return c
  return 'N'
}

export interface BlockIoOptions {
  meta: ProcessMeta
  log?: (line: string) => void
}

export class BlockIoSource extends BpftraceSource {
  readonly program = PROGRAM

  constructor(private readonly o: BlockIoOptions) {
    super('block_io_events', 'loading BPF programs on the block tracepoints', { log: o.log })
  }

  protected line(l: string, epoch: (mono: bigint) => bigint): void {
    const m = LINE.exec(l)
    if (!m) {
      this.counts.unparsed++
      return
    }
    this.counts.events++
    const dev = Number(m[3])
    const pid = Number(m[7])
    this.rows.push({
      time_: epoch(BigInt(m[1]!)).toString(),
      // dev_t inside the kernel: major in the top 12 bits, minor in the low 20 (MINORBITS).
      major: dev >>> 20,
      minor: dev & 0xfffff,
      op: opOf(m[6]!),
      bytes: Number(m[5]),
      sector: m[4]!.length > 15 ? m[4]! : Number(m[4]),
      latency: Number(m[2]),
      ...this.o.meta.columns(pid, { startTicks: ticksOfBoottime(BigInt(m[8]!)), comm: m[9]! }),
    })
  }
}
