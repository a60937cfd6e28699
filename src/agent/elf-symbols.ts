/**
 * Native user frames named by the agent: the process's executable mappings (`/proc/PID/maps`)
 * and the function symbols of each mapped ELF file (.symtab, else .dynsym), read once per file.
 *
 * Why not bpftrace's own `ustack` names: bpftrace v0.17 keeps no symbol cache where ASLR is on
 * (BPFTRACE_CACHE_USER_SYMBOLS "auto"; its "1" caches by executable path, which names a second
 * process of one binary at the first one's addresses). It then reads a module's whole symbol
 * table again for every frame it prints, node's 180,000 symbols included: one 1-second window
 * took 85–155 s to print at load 17, and 1.7–1.8 s with BPFTRACE_NO_USER_SYMBOLS=1.
 */
import { spawnSync } from 'node:child_process'
import { closeSync, openSync, readFileSync, readSync } from 'node:fs'
import { join } from 'node:path'

interface Mapping {
  start: number
  end: number
  /** File offset of `start`. */
  offset: number
  /** dev:inode, the key of the file's symbols. */
  file: string
  path: string
}

/** One ELF file's function symbols, sorted by address, and its loadable segments. */
export interface ElfSymbols {
  /** [p_offset, p_vaddr, p_filesz] of each PT_LOAD segment. */
  segments: [number, number, number][]
  starts: Float64Array
  ends: Float64Array
  names: string[]
}

const STT_FUNC = 2
const STT_GNU_IFUNC = 10
const SHT_SYMTAB = 2
const SHT_DYNSYM = 11
const PT_LOAD = 1

function readAt(fd: number, offset: number, length: number): Buffer {
  const b = Buffer.alloc(length)
  const n = readSync(fd, b, 0, length, offset)
  if (n !== length) throw new Error(`short read at ${offset}`)
  return b
}

/** The function symbols of a 64-bit little-endian ELF file (x86-64, arm64), or null when it is not one. */
export function readElfSymbols(path: string): ElfSymbols | null {
  const fd = openSync(path, 'r')
  try {
    const h = readAt(fd, 0, 64)
    if (h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2 || h[5] !== 1) return null
    const num = (b: Buffer, at: number) => Number(b.readBigUInt64LE(at))
    const phoff = num(h, 0x20)
    const shoff = num(h, 0x28)
    const phentsize = h.readUInt16LE(0x36)
    const phnum = h.readUInt16LE(0x38)
    const shentsize = h.readUInt16LE(0x3a)
    const shnum = h.readUInt16LE(0x3c)
    const segments: [number, number, number][] = []
    const ph = readAt(fd, phoff, phentsize * phnum)
    for (let i = 0; i < phnum; i++) {
      const p = i * phentsize
      if (ph.readUInt32LE(p) === PT_LOAD) segments.push([num(ph, p + 8), num(ph, p + 16), num(ph, p + 32)])
    }
    const sh = shnum > 0 ? readAt(fd, shoff, shentsize * shnum) : Buffer.alloc(0)
    const section = (i: number) => ({
      type: sh.readUInt32LE(i * shentsize + 4),
      offset: num(sh, i * shentsize + 0x18),
      size: num(sh, i * shentsize + 0x20),
      link: sh.readUInt32LE(i * shentsize + 0x28),
    })
    // .symtab has every function; a stripped file keeps only the exported ones in .dynsym.
    let table: ReturnType<typeof section> | undefined
    for (const type of [SHT_SYMTAB, SHT_DYNSYM]) {
      for (let i = 0; i < shnum && !table; i++) if (section(i).type === type) table = section(i)
      if (table) break
    }
    const found: [number, number, string][] = []
    if (table && table.link < shnum) {
      const strtab = section(table.link)
      const strs = readAt(fd, strtab.offset, strtab.size)
      const syms = readAt(fd, table.offset, table.size)
      for (let at = 0; at + 24 <= syms.length; at += 24) {
        const type = syms[at + 4]! & 0xf
        const shndx = syms.readUInt16LE(at + 6)
        if ((type !== STT_FUNC && type !== STT_GNU_IFUNC) || shndx === 0) continue
        const value = num(syms, at + 8)
        if (value === 0) continue
        const nameAt = syms.readUInt32LE(at)
        const nameEnd = strs.indexOf(0, nameAt)
        found.push([value, value + num(syms, at + 16), strs.toString('latin1', nameAt, nameEnd < 0 ? strs.length : nameEnd)])
      }
    }
    found.sort((a, b) => a[0] - b[0])
    return {
      segments,
      starts: Float64Array.from(found, (f) => f[0]),
      ends: Float64Array.from(found, (f) => f[1]),
      names: found.map((f) => f[2]),
    }
  } finally {
    closeSync(fd)
  }
}

/** The symbol at `vaddr` (an address as the ELF file lays it out), or undefined. */
export function symbolAt(s: ElfSymbols, vaddr: number): string | undefined {
  let lo = 0
  let hi = s.starts.length - 1
  let at = -1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (s.starts[mid]! <= vaddr) {
      at = mid
      lo = mid + 1
    } else hi = mid - 1
  }
  // A symbol of size 0 (hand-written assembly) covers up to the next one.
  return at >= 0 && (vaddr < s.ends[at]! || s.ends[at] === s.starts[at]) ? s.names[at] : undefined
}

/** `/proc/PID/maps` lines of executable file mappings. */
export function parseMaps(text: string): Mapping[] {
  const out: Mapping[] = []
  for (const line of text.split('\n')) {
    // start-end perms offset dev inode path; most lines are data (no x) or anonymous.
    const perms = line.indexOf(' ') + 1
    if (line[perms + 2] !== 'x' || !line.includes(' /')) continue
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S{2}x\S ([0-9a-f]+) (\S+) (\d+)\s+(\/.*)$/.exec(line)
    if (!m || m[5] === '0') continue
    out.push({ start: parseInt(m[1]!, 16), end: parseInt(m[2]!, 16), offset: parseInt(m[3]!, 16), file: `${m[4]}:${m[5]}`, path: m[6]! })
  }
  return out
}

/**
 * Names native user frames by pid and address, for the bpftrace sampler (which prints raw
 * addresses). A process's mappings are read when it is first asked about, and again when an
 * address falls outside them (a library loaded since); each file's symbols are read once for
 * all the processes that map it, through the first process's root (containers).
 */
export class NativeSymbols {
  private readonly procs = new Map<number, Mapping[]>()
  /** Processes whose mappings were read since the last retain(): read at most once a window. */
  private readonly fresh = new Set<number>()
  private readonly files = new Map<string, ElfSymbols | null>()
  private readonly demangled = new Map<string, string>()
  constructor(private readonly procRoot = '/proc') {}

  /** The (mangled) function name at `addr` in process `pid`, or undefined. */
  lookup(pid: number, addr: number): string | undefined {
    // JIT code and stray addresses are in no file mapping: one more look a window, not one a frame.
    const maps = this.procs.get(pid)
    let m = maps && find(maps, addr)
    if (!m && !this.fresh.has(pid)) m = find(this.readMaps(pid), addr)
    if (!m) return undefined
    let syms = this.files.get(m.file)
    if (syms === undefined) {
      try {
        // Deleted or replaced since it was mapped: the mapping itself still reads as the file.
        const path = m.path.endsWith(' (deleted)')
          ? join(this.procRoot, String(pid), 'map_files', `${m.start.toString(16)}-${m.end.toString(16)}`)
          : join(this.procRoot, String(pid), 'root', m.path)
        syms = readElfSymbols(path)
      } catch {
        syms = null
      }
      this.files.set(m.file, syms)
    }
    if (!syms) return undefined
    const fileOffset = addr - m.start + m.offset
    const seg = syms.segments.find(([off, , size]) => fileOffset >= off && fileOffset < off + size)
    return seg ? symbolAt(syms, fileOffset - seg[0] + seg[1]) : undefined
  }

  /**
   * C++ names as people read them (what perf and bpftrace show), by one `c++filt` for all the
   * names not seen before; without c++filt (binutils) the names stay mangled.
   */
  demangle(names: Iterable<string>): Map<string, string> {
    const fresh = [...new Set(names)].filter((n) => n.startsWith('_Z') && !this.demangled.has(n))
    if (fresh.length > 0) {
      const r = spawnSync('c++filt', { input: fresh.join('\n') + '\n', encoding: 'utf8', maxBuffer: 256 << 20 })
      const out = r.status === 0 ? r.stdout.split('\n') : []
      fresh.forEach((n, i) => this.demangled.set(n, out.length > fresh.length ? out[i]! : n))
    }
    return this.demangled
  }

  /** Forgets processes not in `alive` (call once per window); files' symbols stay. */
  retain(alive: Set<number>): void {
    for (const pid of this.procs.keys()) if (!alive.has(pid)) this.procs.delete(pid)
    this.fresh.clear()
  }

  private readMaps(pid: number): Mapping[] {
    let maps: Mapping[] = []
    try {
      maps = parseMaps(readFileSync(join(this.procRoot, String(pid), 'maps'), 'latin1'))
    } catch {}
    this.procs.set(pid, maps)
    this.fresh.add(pid)
    return maps
  }
}

function find(maps: Mapping[], addr: number): Mapping | undefined {
  for (const m of maps) if (addr >= m.start && addr < m.end) return m
  return undefined
}
