/** What the agent knows about a process: read from /proc, with containers and Kubernetes pods derived from its cgroup. */
import { readlinkSync } from 'node:fs'
import { join } from 'node:path'
import { listDir, readText } from '../trace/sources/proc.ts'

/** Container and pod identity that a cgroup path carries. */
export interface CgroupInfo {
  /** 64 hex digits (containerd, CRI-O, Docker). */
  containerId?: string
  /** Kubernetes pod UID, dashed. */
  podUid?: string
}

// A 64-hex container id ends the path, alone or wrapped: /docker/<id>, cri-containerd-<id>.scope, crio-<id>.scope.
const CONTAINER_ID = /(?:^|[/:-])([0-9a-f]{64})(?:\.scope)?$/
// kubepods-burstable-pod<uid>.slice (systemd driver, '_' for '-') or /kubepods/burstable/pod<uid>/ (cgroupfs driver).
const POD_UID = /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?(?:\/|$)/

/** The container id and pod UID in a cgroup path, where present. */
export function parseCgroupPath(path: string): CgroupInfo {
  const out: CgroupInfo = {}
  const id = CONTAINER_ID.exec(path)
  if (id) out.containerId = id[1]!
  const pod = POD_UID.exec(path)
  if (pod) out.podUid = pod[1]!.replaceAll('_', '-')
  return out
}

/** The process's cgroup: the v2 line (`0::/path`), else the v1 systemd hierarchy, else the first line. */
export function cgroupOf(procCgroupText: string): string | undefined {
  const lines = procCgroupText.split('\n').filter(Boolean)
  const pick = lines.find((l) => l.startsWith('0::')) ?? lines.find((l) => l.includes(':name=systemd:')) ?? lines[0]
  if (pick === undefined) return undefined
  const path = pick.slice(pick.indexOf(':', pick.indexOf(':') + 1) + 1)
  return path || undefined
}

/** Pod and container names for a container id. */
export interface PodRef {
  namespace: string
  pod: string
  container: string
}

/**
 * Kubernetes names from the kubelet's log links, which every node has: `/var/log/containers/
 * <pod>_<namespace>_<container>-<id>.log`. Pod, namespace and container names cannot hold '_'
 * (DNS names), so the split is unambiguous. `/var/log/pods/<namespace>_<pod>_<uid>/` maps a pod
 * UID when the container's link is gone.
 */
export class PodDirectory {
  private byContainer = new Map<string, PodRef>()
  private byUid = new Map<string, { namespace: string; pod: string }>()
  private readAt = -Infinity

  constructor(private readonly logRoot = '/var/log') {}

  /** Re-reads the directories, at most every `minAgeMs`. */
  refresh(now = Date.now(), minAgeMs = 5000): void {
    if (now - this.readAt < minAgeMs) return
    this.readAt = now
    this.byContainer = new Map()
    this.byUid = new Map()
    for (const f of listDir(join(this.logRoot, 'containers'))) {
      const m = /^([^_]+)_([^_]+)_(.+)-([0-9a-f]{64})\.log$/.exec(f)
      if (m) this.byContainer.set(m[4]!, { pod: m[1]!, namespace: m[2]!, container: m[3]! })
    }
    for (const d of listDir(join(this.logRoot, 'pods'))) {
      const m = /^([^_]+)_([^_]+)_([0-9a-f-]{36})$/.exec(d)
      if (m) this.byUid.set(m[3]!, { namespace: m[1]!, pod: m[2]! })
    }
  }

  /** The names for a cgroup's ids, re-reading the directories once when an id is new. */
  lookup(info: CgroupInfo): Partial<PodRef> {
    const find = (): Partial<PodRef> | undefined =>
      (info.containerId && this.byContainer.get(info.containerId)) || (info.podUid && this.byUid.get(info.podUid)) || undefined
    if (!info.containerId && !info.podUid) return {}
    let hit = find()
    if (!hit) {
      this.refresh()
      hit = find()
    }
    return hit ?? {}
  }
}

/**
 * The labels of a process, Parca's in spirit: the visible ones (`pid`, `comm`, `exe`, `cgroup`,
 * `container_id`, `pod_uid`, `namespace`, `pod`, `container`) and meta ones for relabelling only
 * (`__meta_process_cmdline`, `__meta_process_ppid`), dropped before upload. Missing facts are
 * left out; `fallbackComm` names a process that exited before it could be read.
 */
export function processLabels(pid: number, pods: PodDirectory, fallbackComm: string, procRoot = '/proc'): Map<string, string> {
  const labels = new Map<string, string>([['pid', String(pid)]])
  const dir = join(procRoot, String(pid))
  labels.set('comm', readText(join(dir, 'comm'))?.trim() || fallbackComm)
  try {
    labels.set('exe', readlinkSync(join(dir, 'exe')).replace(/ \(deleted\)$/, ''))
  } catch {
    // a kernel thread, or gone
  }
  const cmdline = readText(join(dir, 'cmdline'))
  if (cmdline) labels.set('__meta_process_cmdline', cmdline.replace(/\0+$/, '').replaceAll('\0', ' '))
  const ppid = /^PPid:\s*(\d+)/m.exec(readText(join(dir, 'status')) ?? '')
  if (ppid) labels.set('__meta_process_ppid', ppid[1]!)
  const cgroup = cgroupOf(readText(join(dir, 'cgroup')) ?? '')
  if (cgroup) {
    labels.set('cgroup', cgroup)
    const info = parseCgroupPath(cgroup)
    if (info.containerId) labels.set('container_id', info.containerId)
    if (info.podUid) labels.set('pod_uid', info.podUid)
    for (const [k, v] of Object.entries(pods.lookup(info))) labels.set(k, v)
  }
  return labels
}
