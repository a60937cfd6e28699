/**
 * network_stats: cumulative interface counters once a window. Pixie reports one row per pod, read
 * from /proc/PID/net/dev of a process in the pod's network namespace and summed over its
 * interfaces except those named v*, docker*, lo* (stirling's proc_parser). Kiln does the same for
 * every network namespace other than the host's — one process read per namespace; pod_id is the
 * pod UID when the cgroup names one, else the container id, else `netns:<inode>` — and adds one
 * row per host interface (pod_id = the interface name), which is what a host outside Kubernetes has.
 */
import { readlinkSync } from 'node:fs'
import { join } from 'node:path'
import type { ProcessMeta } from './process-meta.ts'
import { int64, listPids, nowNs, readProc, PollingSource } from './proc.ts'

type Row = Record<string, string | number | boolean>

/** One interface's counters as /proc/net/dev gives them. */
export interface NetDevCounters {
  rx_bytes: bigint
  rx_packets: bigint
  rx_errors: bigint
  rx_drops: bigint
  tx_bytes: bigint
  tx_packets: bigint
  tx_errors: bigint
  tx_drops: bigint
}

const FIELDS = ['rx_bytes', 'rx_packets', 'rx_errors', 'rx_drops', 'tx_bytes', 'tx_packets', 'tx_errors', 'tx_drops'] as const
// Columns of /proc/net/dev after the name: rx bytes packets errs drop fifo frame compressed multicast, tx bytes packets errs drop …
const COLUMN = [0, 1, 2, 3, 8, 9, 10, 11] as const
// Pixie's kNetIFaceIgnorePrefix: veth ends, docker bridges and loopback carry no pod traffic of their own.
const IGNORED = /^(v|docker|lo)/

/** Parses /proc/net/dev: interface name → counters. */
export function parseNetDev(text: string): Map<string, NetDevCounters> {
  const out = new Map<string, NetDevCounters>()
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':')
    if (colon < 0) continue
    const name = line.slice(0, colon).trim()
    const v = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
    if (!name || v.length < 16 || !/^\d+$/.test(v[0]!)) continue
    const c = {} as NetDevCounters
    FIELDS.forEach((f, i) => (c[f] = BigInt(v[COLUMN[i]!]!)))
    out.set(name, c)
  }
  return out
}

/** Sums the interfaces of a pod's namespace the way Pixie does (all but v*, docker*, lo*); undefined when none is left. */
export function podCounters(devs: Map<string, NetDevCounters>): NetDevCounters | undefined {
  let sum: NetDevCounters | undefined
  for (const [name, c] of devs) {
    if (IGNORED.test(name)) continue
    if (!sum) sum = { ...c }
    else for (const f of FIELDS) sum[f] += c[f]
  }
  return sum
}

export interface NetworkStatsOptions {
  meta: ProcessMeta
  intervalMs: number
  procRoot?: string
}

export class NetworkStatsSource extends PollingSource {
  readonly name = 'network_stats'
  private readonly procRoot: string
  protected readonly counts = { scans: 0, rows: 0, namespaces: 0, scan_us: 0 }

  constructor(private readonly o: NetworkStatsOptions) {
    super(o.intervalMs, "reading the network namespaces of other users' processes")
    this.procRoot = o.procRoot ?? '/proc'
  }

  /** One reading: a row per host interface and one per other network namespace. */
  read(): Row[] {
    const t0 = process.hrtime.bigint()
    const time = nowNs()
    const rows: Row[] = []
    const row = (pod_id: string, c: NetDevCounters): Row => {
      const r: Row = { time_: time, pod_id }
      for (const f of FIELDS) r[f] = int64(c[f])
      return r
    }
    // pid 1's namespace is the host's when the agent runs with hostPID (the DaemonSet does); where
    // pid 1 is not ours to read (a sandbox's init), the agent's own namespace stands for the host's.
    const hostDir = [join(this.procRoot, '1'), join(this.procRoot, 'self')].find((d) => netns(d) !== undefined)
    const hostNs = hostDir === undefined ? undefined : netns(hostDir)
    for (const [name, c] of parseNetDev(readProc(join(hostDir ?? this.procRoot, 'net', 'dev')) ?? '')) rows.push(row(name, c))
    // One process per other namespace, preferring one whose cgroup names its pod or container.
    const seen = new Map<string, { pid: number; id: string }>()
    for (const pid of listPids(this.procRoot)) {
      const ns = netns(join(this.procRoot, String(pid)))
      if (!ns || ns === hostNs) continue
      const had = seen.get(ns)
      if (had && had.id) continue
      const info = this.o.meta.info(pid)
      const id = info.podUid ?? info.columns.container_id
      if (!had || id) seen.set(ns, { pid, id })
    }
    for (const [ns, { pid, id }] of seen) {
      const devs = parseNetDev(readProc(join(this.procRoot, String(pid), 'net', 'dev')) ?? '')
      const sum = podCounters(devs)
      if (sum) rows.push(row(id || `netns:${/\[(\d+)\]/.exec(ns)?.[1] ?? ns}`, sum))
    }
    this.counts.scans++
    this.counts.namespaces = seen.size
    this.counts.scan_us = Number((process.hrtime.bigint() - t0) / 1000n)
    return rows
  }
}

function netns(procDir: string): string | undefined {
  try {
    return readlinkSync(join(procDir, 'ns', 'net'))
  } catch {
    return undefined
  }
}
