/**
 * JIT symbols from `/tmp/perf-PID.map` (lines `START SIZE name`, hex, appended as code is
 * compiled: Node's --perf-basic-prof, Java perf map agents). perf script loads a map once per
 * process, so in a long-running stream it cannot name code compiled after that; the agent
 * names those frames itself, re-reading only what was appended since the last read.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { join } from 'node:path'

interface MapFile {
  offset: number
  rest: string
  /** [start, end, name], kept sorted by start when looked up. */
  entries: [number, number, string][]
  sorted: boolean
}

/** Upper bound per process: a map that grows past this is not read further (Node's can reach 100s of MB). */
const MAX_BYTES = 64 * 1024 * 1024

export class PerfMaps {
  private maps = new Map<number, MapFile>()
  constructor(private readonly procRoot = '/proc') {}

  /** The JIT name for `addr` in process `pid`, or undefined. */
  lookup(pid: number, addr: number): string | undefined {
    let m = this.maps.get(pid)
    if (!m) this.maps.set(pid, (m = { offset: 0, rest: '', entries: [], sorted: true }))
    let hit = find(m, addr)
    if (hit === undefined && this.readMore(pid, m)) hit = find(m, addr)
    return hit
  }

  /** Forgets processes not in `alive` (call once per window). */
  retain(alive: Set<number>): void {
    for (const pid of this.maps.keys()) if (!alive.has(pid)) this.maps.delete(pid)
  }

  private readMore(pid: number, m: MapFile): boolean {
    let fd: number
    try {
      // Through the process's root: the map is in its /tmp, also inside a container.
      fd = openSync(join(this.procRoot, String(pid), 'root', 'tmp', `perf-${pid}.map`), 'r')
    } catch {
      return false
    }
    try {
      const size = Math.min(fstatSync(fd).size, MAX_BYTES)
      if (size <= m.offset) return false
      const buf = Buffer.alloc(size - m.offset)
      const n = readSync(fd, buf, 0, buf.length, m.offset)
      m.offset += n
      const lines = (m.rest + buf.toString('latin1', 0, n)).split('\n')
      m.rest = lines.pop()!
      for (const l of lines) {
        const a = l.indexOf(' ')
        const b = l.indexOf(' ', a + 1)
        if (a < 0 || b < 0) continue
        const start = parseInt(l.slice(0, a), 16)
        const len = parseInt(l.slice(a + 1, b), 16)
        if (Number.isFinite(start) && Number.isFinite(len)) m.entries.push([start, start + len, l.slice(b + 1)])
      }
      m.sorted = false
      return true
    } finally {
      closeSync(fd)
    }
  }
}

function find(m: MapFile, addr: number): string | undefined {
  const e = m.entries
  if (!m.sorted) {
    // Stable: of two entries at one address the later (re-compiled code) wins below.
    e.sort((x, y) => x[0] - y[0])
    m.sorted = true
  }
  let lo = 0
  let hi = e.length - 1
  let at = -1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (e[mid]![0] <= addr) {
      at = mid
      lo = mid + 1
    } else hi = mid - 1
  }
  return at >= 0 && addr < e[at]![1] ? e[at]![2] : undefined
}
