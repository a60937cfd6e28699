/**
 * A source whose events come from a bpftrace program's lines (block_io_events, fs_slow_events):
 * it runs the program as a child while the source runs, turns each line into a row of its table,
 * and counts what it parsed, could not parse, and what bpftrace said it lost.
 */
import type { Emit, TraceSource } from '../types.ts'
import { BpftraceRun, monotonicToEpoch } from './bpftrace-run.ts'
import { RowBuffer } from './event-rows.ts'
import { requireRoot } from './proc.ts'

export abstract class BpftraceSource implements TraceSource {
  /** The bpftrace program it runs. */
  abstract readonly program: string
  protected readonly counts = { events: 0, unparsed: 0 }
  protected readonly rows: RowBuffer
  private run: BpftraceRun | undefined

  constructor(
    /** The table its rows go to. */
    readonly name: string,
    /** What root is needed for, in requireRoot's message. */
    private readonly rootFor: string,
    private readonly bpftrace: {
      log?: ((line: string) => void) | undefined
      /** bpftrace's environment beyond the agent's (map and string sizes). */
      env?: Record<string, string>
    },
  ) {
    this.rows = new RowBuffer(name)
  }

  /** Turns one line of the program's output into a row (through `this.rows.push`), or counts it unparsed. */
  protected abstract line(l: string, epoch: (mono: bigint) => bigint): void

  async start(emit: Emit): Promise<void> {
    requireRoot(this.name, this.rootFor)
    this.rows.emit = emit
    const epoch = monotonicToEpoch()
    this.run = new BpftraceRun({
      name: this.name,
      program: this.program,
      onLine: (l) => this.line(l, epoch),
      ...(this.bpftrace.log ? { log: this.bpftrace.log } : {}),
      ...(this.bpftrace.env ? { env: this.bpftrace.env } : {}),
    })
    await this.run.start()
  }

  async stop(): Promise<void> {
    await this.run?.stop()
    this.rows.flush()
    this.rows.emit = undefined
  }

  /** The bpftrace child's pid while the source runs. */
  get bpftracePid(): number | undefined {
    return this.run?.pid
  }

  stats(): Record<string, number> {
    return { ...this.counts, rows: this.rows.emitted, lost: this.run?.lost ?? 0, died: this.run?.died ? 1 : 0 }
  }
}
