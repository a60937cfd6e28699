import { perlAdd, perlFormat, perlNumber, type PerlNum } from './perl-number.ts'
import { cmp } from '../model/tree.ts'
import { LineSplitter } from './lines.ts'

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

/** Perl's falsy strings. */
const falsy = (s: string | undefined): boolean => s === undefined || s === '' || s === '0'

/**
 * `perf script` output → folded stacks, line by line, with stackcollapse-perf.pl's state machine:
 * a header line starts a sample (root frame = process name), indented frame lines follow innermost
 * first, a blank line ends the sample (a sample not ended by a blank line is not counted, as there).
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
  private readonly counts = new Map<string, PerlNum>()

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
    if (m) return this.header(line, m)
    if (!this.pname) return
    m = FRAME.exec(line)
    if (m) this.frame(m[1]!, m[2]!, m[3]!)
  }

  private endSample(): void {
    if (!this.pname) return
    this.stack.push(this.pname)
    const key = this.stack.reverse().join(';')
    const prev = this.counts.get(key)
    this.counts.set(key, prev === undefined ? perlAdd(0, this.period) : perlAdd(prev, this.period))
    this.stack = []
    this.pname = undefined
    this.samples++
  }

  private header(line: string, m: RegExpExecArray): void {
    const comm = m[1]!
    let pid = m[2]!
    let tid = m[3]
    if (falsy(tid)) {
      tid = pid
      pid = '?'
    }
    let period: string | undefined
    const ev = EVENT.exec(line)
    if (ev) {
      period = ev[1]
      const event = ev[2]!
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
    this.pname = name.replaceAll(' ', '_')
  }

  private frame(pc: string, raw: string, mod: string): void {
    const rawfunc = raw.includes('+0x') ? raw.replace(SYMOFF, '') : raw
    if (rawfunc.charCodeAt(0) === 40 /* ( */) return // a process name, not a frame
    const parts = rawfunc.includes('->') ? rawfunc.split('->') : rawfunc === '' ? [] : [rawfunc]
    while (parts.length && parts[parts.length - 1] === '') parts.pop() // Perl's split drops trailing empties
    const java = this.pname!.startsWith('java')
    // The stack is kept leaf first and reversed when the sample ends; an inline chain is pushed
    // in reverse so that it reads outer→inner once reversed.
    for (let i = parts.length - 1; i >= 0; i--) this.stack.push(this.tidy(parts[i]!, i, pc, mod, java))
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
    const keys = [...this.counts.keys()].sort(cmp)
    let out = ''
    for (const k of keys) out += `${k} ${perlFormat(this.counts.get(k)!)}\n`
    return out
  }

  /** The folded stacks as [stack, count] pairs (counts as numbers), sorted. */
  entries(): [string, number][] {
    return [...this.counts.keys()].sort(cmp).map((k) => {
      const v = this.counts.get(k)!
      return [k, typeof v === 'object' ? v.nv : Number(v)]
    })
  }
}

/** Collapses a whole `perf script` text (latin1) into folded stacks. */
export function collapsePerf(text: string, options: CollapsePerfOptions = {}): string {
  const c = new PerfCollapser(options)
  const lines = new LineSplitter((l) => c.line(l))
  lines.push(text)
  lines.end()
  return c.folded()
}
