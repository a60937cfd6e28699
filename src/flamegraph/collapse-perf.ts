import type { Latin1Writer } from './lines.ts'
import { perlAdd, perlFormat, perlNumber, type PerlNum } from './perl-number.ts'
import { type HeaderAt, isSpace, LFLF, matchEvent, matchFrame, matchHeader, smallDigits } from './perf-bytes.ts'
import { type Block, BlockStore, type Cell, FrameLines, HeadCache } from './perf-seen.ts'

/** The options of stackcollapse-perf.pl that `kiln collapse perf` offers. */
export interface CollapsePerfOptions {
  /** Root frame `comm-PID`. */
  pid?: boolean
  /** Root frame `comm-PID/TID`. */
  tid?: boolean
  /** `_[k]` on kernel frames. */
  kernel?: boolean
  /** `_[j]` on JIT frames (`/tmp/perf-PID.map`). */
  jit?: boolean
  /** Both `kernel` and `jit`. */
  all?: boolean
  /** `[dso <pc>]` instead of `[dso]` for unknown symbols. */
  addrs?: boolean
  /** Keep samples of this event only (default: the first event seen). */
  eventFilter?: string
  /** Count samples (1 each) instead of periods: what a profile pushed with a sample rate needs. */
  countSamples?: boolean
}

// Perl's \s on byte strings is ASCII whitespace (with \v since 5.18); JS's \s also takes NBSP
// (0xA0 in latin1), which would split differently from stackcollapse-perf.pl.
const S = '[\\t\\n\\v\\f\\r ]'
const NS = '[^\\t\\n\\v\\f\\r ]'
// The rules of stackcollapse-perf.pl (peers.md §4); the `s` flag makes `.` match "\r" as Perl's
// does. Its `(\d+)*` is written `(\d+)?`: both match and capture the same here (a whitespace must
// follow), but V8 backtracks `(\d+)*` exponentially on a long run of digits.
const HEADER = new RegExp(`^(${NS}.+?)${S}+(\\d+)\\/*(\\d+)?${S}+`, 's')
const EVENT = new RegExp(`:${S}*(\\d+)?${S}+(${NS}+):${S}*$`, 's')
// A cheap necessary condition for HEADER, so that long garbage lines do not cost quadratic time.
const HEADER_HINT = new RegExp(`${S}\\d+\\/*\\d*${S}`)
const FRAME = new RegExp(`^${S}*(\\w+)${S}*(.+) \\((.*)\\)`, 's')
const SYMOFF = /\+0x[\da-f]+$/
const GO_METHOD = /\.\(.*\)\./s
const ARGS = /\((?!anonymous namespace\)).*/s
const QUOTES = /["']/g
const KERNEL_DSO = /(^\[|vmlinux$)/
const JIT_DSO = /\/tmp\/perf-\d+\.map/

const latin1 = (b: Buffer, s: number, e: number): string => b.toString('latin1', s, e)

/** Perl's falsy strings. */
const falsy = (s: string | undefined): boolean => s === undefined || s === '' || s === '0'

/** The longest unfinished sample the byte path waits for across chunks. */
const MAX_CARRY = 4 << 20
/**
 * `perf script` output → folded stacks, with stackcollapse-perf.pl's state machine: a header line
 * starts a sample (root frame = process name), indented frame lines follow innermost first, a
 * blank line ends the sample (a sample not ended by a blank line is not counted, as there).
 *
 * Two ways in, one set of rules: `line()` takes a line as a latin1 string; `push()` takes raw
 * bytes in any chunks. The byte path reads a sample's header where it lies and hashes its frame
 * lines; a sample whose frame lines were seen before (byte for byte, so the same addresses) adds
 * its period to the stack they gave, so each distinct stack is parsed once. Whatever it is not
 * sure of (comments, a header inside a sample, unindented lines) goes through `line()`.
 */
export class PerfCollapser {
  private readonly o: Required<Omit<CollapsePerfOptions, 'eventFilter'>>
  /** Samples counted so far (of the kept event type). */
  samples = 0
  private eventFilter: string
  private defaulted = false
  /** The event type that was dropped, once (for one warning). */
  droppedEvent: string | undefined
  private stack: string[] = []
  private pname: string | undefined
  private period: PerlNum = 1
  private readonly counts = new Map<string, Cell>()
  private readonly blocks = new BlockStore()
  private readonly heads = new HeadCache()
  /** Tidied frames by a frame line's symbol and module bytes, for non-java and java processes. */
  private readonly frameLines = new FrameLines()
  private readonly javaFrameLines = new FrameLines()
  /** Bytes of the last push not yet taken: a partial line, or an unfinished sample from its header. */
  private carry: Buffer | undefined

  constructor(options: CollapsePerfOptions = {}) {
    const all = !!options.all
    this.o = {
      pid: !!options.pid,
      tid: !!options.tid,
      kernel: all || !!options.kernel,
      jit: all || !!options.jit,
      all,
      addrs: !!options.addrs,
      countSamples: !!options.countSamples,
    }
    this.eventFilter = options.eventFilter ?? ''
  }

  /** Feeds one line (without its "\n"). */
  line(line: string): void {
    if (line.charCodeAt(0) === 35 /* # */) return
    if (line === '') return this.endSample()
    let m = HEADER_HINT.test(line) ? HEADER.exec(line) : null
    if (m) {
      const ev = EVENT.exec(line)
      return this.header(m[1]!, m[2]!, m[3], ev ? ev[1] : undefined, ev ? ev[2]! : undefined)
    }
    if (!this.pname) return
    m = FRAME.exec(line)
    if (m) this.frame(m[1]!, m[2]!, m[3]!)
  }

  /** Feeds raw `perf script` bytes; chunks may split lines and samples anywhere. */
  push(chunk: Buffer): void {
    let rest = chunk
    if (this.carry) {
      // Finish what the last chunk left open with this chunk's bytes up to its first blank line,
      // so that the rest of the chunk is read where it lies, not copied.
      const carry = this.carry
      const junction = carry[carry.length - 1] === 10 && chunk[0] === 10 // a blank line across the cut
      const j = junction ? 0 : chunk.indexOf(LFLF)
      const cut = junction ? 1 : j < 0 ? chunk.length : j + 2
      const joined = Buffer.concat([carry, chunk.subarray(0, cut)])
      this.carry = undefined
      rest = chunk.subarray(cut)
      const at = this.scan(joined)
      // Still open (a sample longer than that): the two parts go on together.
      if (at < joined.length) rest = Buffer.concat([joined.subarray(at), rest])
    }
    const at = this.scan(rest)
    this.carry = at < rest.length ? Buffer.from(rest.subarray(at)) : undefined
  }

  /** Ends the input: passes on what `push` held back (a last line without "\n" counts, as in Perl). */
  end(): void {
    const rest = this.carry
    this.carry = undefined
    if (!rest) return
    const text = rest.toString('latin1')
    const lines = text.split('\n')
    if (lines[lines.length - 1] === '') lines.pop()
    for (const l of lines) this.line(l)
  }

  /** Takes the complete lines of `b`; returns where the part to keep for the next chunk starts. */
  private scan(b: Buffer): number {
    let pos = 0
    for (;;) {
      const nl = b.indexOf(10, pos)
      if (nl < 0) return pos
      if (this.pname === undefined && this.stack.length === 0 && nl > pos) {
        const c = b[pos]!
        // With no sample open, an indented line is a frame of a dropped sample: nothing to do.
        if (isSpace(c)) {
          pos = nl + 1
          continue
        }
        if (c !== 35 /* # */) {
          const next = this.sample(b, pos, nl)
          if (next === -1) return pos
          if (next >= 0) {
            pos = next
            continue
          }
        }
      }
      this.line(latin1(b, pos, nl))
      pos = nl + 1
    }
  }

  /**
   * A whole sample from its header line [hs, he): returns the offset after its blank line, -1
   * when the buffer ends first, -2 when `line()` must take it from the header on.
   */
  private sample(b: Buffer, hs: number, he: number): number {
    const h = matchHeader(b, hs, he)
    if (!h) return -2
    const end = this.blocks.at(b, he + 1)
    // A sample longer than this is left to line(), so that waiting for its end stays linear.
    if (end === -1) return b.length - hs > MAX_CARRY ? -2 : -1
    if (end === -2) return -2
    const block = this.blocks.found!
    const name = this.headerName(b, hs, he, h)
    if (name === undefined) return end // a dropped event: its frames are ignored
    this.samples++
    let cell = block.lastName === name ? block.lastCell : block.cells?.get(name)
    if (!cell) {
      const frames = this.framesOf(block, name.startsWith('java'))
      const k = frames === undefined ? name : `${name};${frames}`
      cell = this.counts.get(k)
      if (!cell) this.counts.set(k, (cell = { key: k, n: 0 }))
      // Most blocks are only ever seen under one process name: the map waits for a second one.
      if (block.lastCell) (block.cells ??= new Map([[block.lastName, block.lastCell]])).set(name, cell)
    }
    block.lastName = name
    block.lastCell = cell
    cell.n = perlAdd(cell.n, this.period)
    return end
  }

  /**
   * The process name of the header [hs, he), or undefined for an event not kept; sets the period.
   * A header whose comm, pid, tid and event bytes are the last kept one's (a thread's run of
   * samples) reuses its name and makes no strings.
   */
  private headerName(b: Buffer, hs: number, he: number, h: HeaderAt): string | undefined {
    const ev = matchEvent(b, hs, he)
    const known = this.heads.find(b, hs, h.tidEnd, ev)
    if (known !== undefined) {
      const digits = ev ? ev.periodEnd - ev.periodStart : 0
      const v = digits === 0 || this.o.countSamples ? 1 : smallDigits(b, ev!.periodStart, ev!.periodEnd)
      // Perl's '0' is false (a period of 1, as header() has it); '00' is not.
      this.period = v === undefined ? perlNumber(latin1(b, ev!.periodStart, ev!.periodEnd)) : v === 0 && digits === 1 ? 1 : v
      return known
    }
    const period = ev && ev.periodEnd > ev.periodStart ? latin1(b, ev.periodStart, ev.periodEnd) : undefined
    const tid = h.tidEnd > h.tidStart ? latin1(b, h.tidStart, h.tidEnd) : undefined
    const event = ev ? latin1(b, ev.eventStart, ev.eventEnd) : undefined
    this.header(latin1(b, hs, h.commEnd), latin1(b, h.pidStart, h.pidEnd), tid, period, event)
    const name = this.pname
    this.pname = undefined
    if (name !== undefined) this.heads.add(b, hs, h.tidEnd, ev, name)
    return name
  }

  /** The block's frames root first, joined by ";" (undefined for none), parsed as line() would. */
  private framesOf(block: Block, java: boolean): string | undefined {
    const have = java ? block.javaFrames : block.frames
    if (have !== null) return have
    const b = block.bytes
    // A frame line's tidied frames depend on its symbol and module only (and on its address
    // with --addrs): cached by those bytes, lines that differ in address or offset parse once.
    const cache = this.o.addrs ? undefined : java ? this.javaFrameLines : this.frameLines
    for (let at = 0; at < b.length; ) {
      const nl = b.indexOf(10, at)
      const f = cache && matchFrame(b, at, nl)
      if (f) {
        // The key: the symbol without its offset, and the module with its " (".
        let id = cache.find(b, f.funcStart, f.funcEnd, f.modOpen, f.modEnd)
        if (id < 0) {
          const parts = this.frameParts('', latin1(b, f.funcStart, f.modOpen), latin1(b, f.modOpen + 2, f.modEnd), java)
          cache.add(b, f.funcStart, f.funcEnd, f.modOpen, f.modEnd, parts)
          id = cache.parts.length - 1
        }
        for (const p of cache.parts[id]!) this.stack.push(p)
      } else {
        const m = FRAME.exec(latin1(b, at, nl))
        if (m) for (const p of this.frameParts(m[1]!, m[2]!, m[3]!, java)) this.stack.push(p)
      }
      at = nl + 1
    }
    const frames = this.stack.length ? this.stack.reverse().join(';') : undefined
    this.stack = []
    if (java) block.javaFrames = frames
    else block.frames = frames
    return frames
  }

  private endSample(): void {
    if (!this.pname) return
    this.stack.push(this.pname)
    const key = this.stack.reverse().join(';')
    const cell = this.counts.get(key)
    if (cell) cell.n = perlAdd(cell.n, this.period)
    else this.counts.set(key, { key, n: perlAdd(0, this.period) })
    this.stack = []
    this.pname = undefined
    this.samples++
  }

  private header(comm: string, pid: string, tid: string | undefined, period: string | undefined, event: string | undefined): void {
    if (falsy(tid)) {
      tid = pid
      pid = '?'
    }
    if (event !== undefined) {
      if (this.eventFilter === '') {
        // Only the first event type by default: summing cycles with instructions would mislead.
        this.eventFilter = event
        this.defaulted = true
      } else if (event !== this.eventFilter) {
        if (this.defaulted && this.droppedEvent === undefined) this.droppedEvent = event
        return
      }
    }
    this.period = falsy(period) || this.o.countSamples ? 1 : perlNumber(period!)
    const name = this.o.tid ? `${comm}-${pid}/${tid}` : this.o.pid ? `${comm}-${pid}` : comm
    this.pname = name.includes(' ') ? name.replaceAll(' ', '_') : name
  }

  private frame(pc: string, raw: string, mod: string): void {
    for (const p of this.frameParts(pc, raw, mod, this.pname!.startsWith('java'))) this.stack.push(p)
  }

  /** A frame line's tidied frames, leaf first (as the stack is kept until a sample ends). */
  private frameParts(pc: string, raw: string, mod: string, java: boolean): string[] {
    const rawfunc = raw.includes('+0x') ? raw.replace(SYMOFF, '') : raw
    if (rawfunc.charCodeAt(0) === 40 /* ( */) return [] // a process name, not a frame
    const parts = rawfunc.includes('->') ? rawfunc.split('->') : rawfunc === '' ? [] : [rawfunc]
    while (parts.length && parts[parts.length - 1] === '') parts.pop() // Perl's split drops trailing empties
    // An inline chain is given in reverse, so that it reads outer→inner once the stack is reversed.
    const out: string[] = []
    for (let i = parts.length - 1; i >= 0; i--) out.push(this.tidy(parts[i]!, i, pc, mod, java))
    return out
  }

  private tidy(part: string, index: number, pc: string, mod: string, java: boolean): string {
    let func = part
    if (func === '[unknown]') {
      // An unknown symbol is named after its dso's basename, which is often all there is.
      const name = mod !== '[unknown]' ? mod.replace(/.*\//s, '') : 'unknown'
      func = this.o.addrs ? `[${name} <${pc}>]` : `[${name}]`
    }
    if (func.includes(';')) func = func.replaceAll(';', ':')
    if (func.includes('(') && !GO_METHOD.test(func)) func = func.replace(ARGS, '')
    if (func.includes('"') || func.includes("'")) func = func.replace(QUOTES, '')
    if (java && func.charCodeAt(0) === 76 /* L */ && func.includes('/')) func = func.slice(1)
    if (index > 0) func += '_[i]'
    else if (this.o.kernel && KERNEL_DSO.test(mod) && !mod.includes('unknown')) func += '_[k]'
    else if (this.o.jit && JIT_DSO.test(mod)) func += '_[j]'
    return func
  }

  /** The folded stacks so far, sorted in byte order, one `stack count` per line. */
  folded(): string {
    return this.foldedBytes().toString('latin1')
  }

  /** folded() written piece by piece (no string or buffer of it all). */
  writeFolded(out: Pick<Latin1Writer, 'text'>): void {
    for (const k of this.sortedKeys()) {
      out.text(k)
      out.text(' ')
      out.text(perlFormat(this.counts.get(k)!.n))
      out.text('\n')
    }
  }

  // Sorting strings without a comparator compares UTF-16 units: byte order for latin1 text.
  private sortedKeys = (): string[] => [...this.counts.keys()].sort()

  /** folded() as its latin1 bytes, written into one buffer of the exact size (no string of it all). */
  foldedBytes(): Buffer {
    const keys = this.sortedKeys()
    const counts = keys.map((k) => perlFormat(this.counts.get(k)!.n))
    let size = 0
    for (let i = 0; i < keys.length; i++) size += keys[i]!.length + counts[i]!.length + 2
    const out = Buffer.allocUnsafe(size)
    let at = 0
    for (let i = 0; i < keys.length; i++) {
      at += out.write(keys[i]!, at, 'latin1')
      out[at++] = 32
      at += out.write(counts[i]!, at, 'latin1')
      out[at++] = 10
    }
    return out
  }

  /** The folded stacks as [stack, count] pairs (counts as numbers), sorted. */
  entries(): [string, number][] {
    return this.sortedKeys().map((k) => {
      const v = this.counts.get(k)!.n
      return [k, typeof v === 'object' ? v.nv : Number(v)]
    })
  }
}
/** Collapses a whole `perf script` text (latin1 string or bytes) into folded stacks. */
export function collapsePerf(text: string | Buffer, options: CollapsePerfOptions = {}): string {
  const c = new PerfCollapser(options)
  c.push(typeof text === 'string' ? Buffer.from(text, 'latin1') : text)
  c.end()
  return c.folded()
}
