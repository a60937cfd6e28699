/**
 * The local TCP ports of the agent's own sockets. The BPF side skips the agent's process, but a
 * Kiln server on the same host would still trace its end of the agent's uploads — one row per
 * upload feeding the next. A server-side connection whose remote end is one of these is ignored.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs'

// Re-read at most every 200 ms: new connections from the agent are a handful per minute (keep-alive).
const MIN_AGE_MS = 200

export class OwnSockets {
  private ports = new Set<number>()
  private readAt = -Infinity
  /** The socket inodes `ports` was read for: /proc/PID/net/tcp is read again only when they change. */
  private inodes = ''

  constructor(private readonly pid = process.pid) {}

  /** Whether `port` on a local address is one of the agent's sockets. */
  has(addr: string, port: number): boolean {
    if (!isLocal(addr)) return false
    if (this.ports.has(port)) return true
    const now = Date.now()
    if (now - this.readAt < MIN_AGE_MS) return false
    this.readAt = now
    this.ports = this.read()
    return this.ports.has(port)
  }

  private read(): Set<number> {
    const inodes = new Set<string>()
    try {
      for (const fd of readdirSync(`/proc/${this.pid}/fd`)) {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${this.pid}/fd/${fd}`))
          if (m) inodes.add(m[1]!)
        } catch {
          // closed meanwhile
        }
      }
    } catch {
      return new Set()
    }
    // The same sockets (kept-alive uploads): the same ports. /proc/PID/net/tcp lists every socket
    // of the network namespace — on a busy host thousands, read up to 5 times a second for each
    // new local connection traced (4-5 % of the agent's CPU under wrk with other traffic about).
    const key = [...inodes].sort().join(',')
    if (key === this.inodes) return this.ports
    this.inodes = key
    const ports = new Set<number>()
    for (const f of ['tcp', 'tcp6']) {
      let text = ''
      try {
        text = readFileSync(`/proc/${this.pid}/net/${f}`, 'utf8')
      } catch {
        continue
      }
      // "  sl  local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode"
      for (const line of text.split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/)
        if (cols.length > 9 && inodes.has(cols[9]!)) ports.add(parseInt(cols[1]!.split(':')[1]!, 16))
      }
    }
    return ports
  }
}

function isLocal(addr: string): boolean {
  return addr.startsWith('127.') || addr === '::1' || addr === '' || localAddrs().has(addr)
}

let cached: { at: number; set: Set<string> } | undefined
function localAddrs(): Set<string> {
  if (cached && Date.now() - cached.at < 10_000) return cached.set
  const set = new Set<string>()
  try {
    // /proc/net/fib_trie lists the host's own IPv4 addresses as "/32 host LOCAL".
    const lines = readFileSync('/proc/net/fib_trie', 'utf8').split('\n')
    lines.forEach((l, i) => {
      if (l.includes('/32 host LOCAL')) {
        const m = /([\d.]+)\s*$/.exec(lines[i - 1] ?? '')
        if (m) set.add(m[1]!)
      }
    })
  } catch {
    // not Linux, or no procfs: loopback only
  }
  cached = { at: Date.now(), set }
  return set
}
