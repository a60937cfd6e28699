/** Pieces the per-event sources (block I/O, slow file operations) share: batching rows, and BPF times in /proc's units. */
import { kernelUnits } from './proc.ts'

type Row = Record<string, string | number | boolean>

// A batch per stdout chunk of bpftrace, at most this many rows: emit is called a few times a
// second under load rather than once per event, and a burst never builds one huge array.
const MAX_BATCH = 1000

/** Collects rows and hands them to `emit` on the next turn of the event loop (or when a batch is full). */
export class RowBuffer {
  emit: ((table: string, rows: Row[]) => void) | undefined
  emitted = 0
  private rows: Row[] = []
  private scheduled = false

  constructor(private readonly table: string) {}

  push(row: Row): void {
    this.rows.push(row)
    if (this.rows.length >= MAX_BATCH) this.flush()
    else if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => this.flush())
    }
  }

  flush(): void {
    this.scheduled = false
    if (!this.rows.length) return
    const rows = this.rows
    this.rows = []
    this.emitted += rows.length
    this.emit?.(this.table, rows)
  }
}

const nsPerTick = BigInt(Math.round(1e9 / kernelUnits().clockTick))

/** A task's start_boottime (ns, as BPF reads it) → /proc/PID/stat's field 22 (clock ticks), the start time in every upid. */
export function ticksOfBoottime(ns: bigint): bigint {
  return ns / nsPerTick
}
