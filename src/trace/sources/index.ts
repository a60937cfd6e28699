/**
 * The host-data sources of `kiln agent --trace` besides socket capture: one file per source,
 * listed here. The agent starts every source `hostSources` returns and uploads what they emit.
 */
import type { TraceSource } from '../types.ts'
import { ProcessMeta } from './process-meta.ts'
import { ProcessStatsSource } from './process-stats.ts'
import { NetworkStatsSource } from './network-stats.ts'
import { BlockIoSource } from './block-io.ts'
import { FsSlowerSource } from './fs-slower.ts'

export { ProcessMeta, type ProcessColumns, type ProcessInfo, type KnownProcess } from './process-meta.ts'

export interface HostSourceOptions {
  /** The `node` column (host or Kubernetes node name). */
  node: string
  /** Agent short id, the high half of upid's pid word. */
  asid: number
  /** How often the /proc readers (process_stats, network_stats) take a reading. */
  intervalMs: number
  /** fs_slow_events keeps file-system operations at least this slow (`--fs-slower-than`, Inspektor Gadget's --min-latency; 10 ms by default). */
  fsSlowerThanMs: number
  /** One line of the agent's log. */
  log: (line: string) => void
  /** The agent's one process-metadata cache, shared with socket capture; made here when absent. */
  meta?: ProcessMeta
  /** Only these sources (by name); all by default. */
  only?: readonly HostSourceName[]
}

const makers = {
  process_stats: (o: HostSourceOptions, meta: ProcessMeta) => new ProcessStatsSource({ meta, intervalMs: o.intervalMs }),
  network_stats: (o: HostSourceOptions, meta: ProcessMeta) => new NetworkStatsSource({ meta, intervalMs: o.intervalMs }),
  block_io_events: (o: HostSourceOptions, meta: ProcessMeta) => new BlockIoSource({ meta, log: o.log }),
  fs_slow_events: (o: HostSourceOptions, meta: ProcessMeta) => new FsSlowerSource({ meta, thresholdMs: o.fsSlowerThanMs, log: o.log }),
} as const satisfies Record<string, (o: HostSourceOptions, meta: ProcessMeta) => TraceSource>

export type HostSourceName = keyof typeof makers

/** Names of the host-data sources, in start order. */
export const hostSourceNames = Object.keys(makers) as HostSourceName[]

/** The host-data sources for one agent; each `start` rejects with a KilnError when the host cannot provide it. */
export function hostSources(o: HostSourceOptions): TraceSource[] {
  const meta = o.meta ?? new ProcessMeta({ node: o.node, asid: o.asid })
  return (o.only ?? hostSourceNames).map((name) => makers[name](o, meta))
}
