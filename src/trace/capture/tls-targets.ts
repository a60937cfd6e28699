/**
 * Finds the files to put the SSL_read/SSL_write uprobes on: every libssl a process has mapped
 * (OpenSSL 1.1 and 3: curl, nginx, Python, Ruby, PHP …) and executables that carry OpenSSL inside
 * with exported symbols (Node.js: `nm -D node` lists SSL_write). Paths go through /proc/PID/root,
 * so a container's own libssl is found too. A uprobe belongs to the file (its inode), so each file
 * is attached once, whichever process maps it, and covers processes started later.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readlinkSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'
import { listDir, readText } from '../sources/proc.ts'

const LIBSSL = /\/libssl\.so(\.[\d.]+)?$/
// Runtimes with a statically linked OpenSSL that exports its SSL_* symbols.
const STATIC_OPENSSL = /^(node|nodejs)(\d+)?$/

export class TlsTargets {
  /** `dev:inode` of every file handed out. */
  private readonly seen = new Set<string>()
  /** Processes already scanned: pid → its /proc/PID/stat start field, so a reused pid is scanned again. */
  private readonly scanned = new Map<number, string>()

  constructor(
    private readonly procRoot = '/proc',
    private readonly skipPids: ReadonlySet<number> = new Set(),
  ) {}

  /** Marks a file as handed out; false when it was already. */
  claim(path: string): boolean {
    try {
      const st = statSync(path)
      const id = `${st.dev}:${st.ino}`
      if (this.seen.has(id)) return false
      this.seen.add(id)
      return true
    } catch {
      return false
    }
  }

  /** Files not handed out before, from processes not scanned before. */
  scan(): string[] {
    const out: string[] = []
    const live = new Set<number>()
    for (const name of listDir(this.procRoot)) {
      const pid = Number(name)
      if (!Number.isInteger(pid) || pid <= 0 || this.skipPids.has(pid)) continue
      live.add(pid)
      const stat = readText(join(this.procRoot, name, 'stat'))
      const start = stat?.slice(stat.lastIndexOf(')')).split(' ')[20] ?? ''
      if (this.scanned.get(pid) === start) continue
      this.scanned.set(pid, start)
      const root = join(this.procRoot, name, 'root')
      const paths = new Set<string>()
      for (const line of (readText(join(this.procRoot, name, 'maps')) ?? '').split('\n')) {
        const slash = line.indexOf('/')
        if (slash > 0 && LIBSSL.test(line)) paths.add(line.slice(slash).replace(/ \(deleted\)$/, ''))
      }
      try {
        const exe = readlinkSync(join(this.procRoot, name, 'exe'))
        if (STATIC_OPENSSL.test(basename(exe))) paths.add(exe)
      } catch {
        // a kernel thread, or gone
      }
      for (const p of paths) {
        const full = join(root, p)
        if (this.claim(full)) out.push(full)
      }
    }
    for (const pid of this.scanned.keys()) if (!live.has(pid)) this.scanned.delete(pid)
    return out
  }
}

/**
 * The host's libssl files from the dynamic linker's cache (`ldconfig -p`), attached at start so a
 * short-lived client (curl) started before any scan is covered from its first call.
 */
export function systemLibssl(): string[] {
  const r = spawnSync('ldconfig', ['-p'], { encoding: 'utf8' })
  if (r.status !== 0) return ['/usr/lib/x86_64-linux-gnu/libssl.so.3'].filter((p) => existsSync(p))
  return [
    ...new Set(
      r.stdout
        .split('\n')
        .map((l) => /=>\s*(\S*libssl\.so[\d.]*)$/.exec(l)?.[1])
        .filter((p): p is string => !!p),
    ),
  ]
}
