import { CallTree } from '../model/tree.ts'
import { diffFlameGraph, flameGraph, type FlameGraph, type FlameGraphDiff } from '../model/flamegraph.ts'

/** How flamegraph.pl reads folded input. */
export interface FoldedReadOptions {
  /** Reverse each stack's frames (merge from the leaf end). */
  reverse?: boolean
  /** Keep input order (time order); merge a frame only with the previous line's. */
  flamechart?: boolean
}

/** The folded stacks as a flame graph: one count per line, or two (before, after) for a diff. */
export interface FoldedInput {
  fg: FlameGraph | FlameGraphDiff
  /** Lines that are not `stack count [count]`. */
  ignored: number
  /** Lines read. */
  stacks: number
}

// flamegraph.pl's line rule: the count is the last run of digits (a decimal point allowed)
// after whitespace; a second such count makes the line differential.
export const FOLDED_LINE = /^(.*)[\t\n\v\f\r ]+?(\d+(?:\.\d*)?)$/s
const LINE = FOLDED_LINE

/** Folded lines → a flame graph (or a differential one when lines carry two counts). */
export class FoldedReader {
  private readonly one = new CallTree()
  private readonly before = new CallTree()
  private readonly after = new CallTree()
  private diff = false
  ignored = 0
  stacks = 0

  constructor(private readonly options: FoldedReadOptions = {}) {}

  line(raw: string): void {
    if (raw === '' || raw === '\r') return
    const m = LINE.exec(raw)
    if (!m) {
      this.ignored++
      return
    }
    let stack = m[1]!
    const count = Number(m[2]!)
    // A second count needs the stack to end in a digit or ".": most lines are not differential.
    const last = stack.charCodeAt(stack.length - 1)
    const m2 = (last >= 48 && last <= 57) || last === 46 ? LINE.exec(stack) : null
    let frames: string[]
    const add = (t: CallTree, v: number) => (this.options.flamechart ? t.addInOrder(frames, v) : t.add(frames, v))
    if (m2) {
      stack = m2[1]!
      frames = this.frames(stack)
      this.diff = true
      add(this.before, Number(m2[2]!))
      add(this.after, count)
    } else {
      frames = this.frames(stack)
      add(this.one, count)
      add(this.after, count)
    }
    this.stacks++
  }

  private frames(stack: string): string[] {
    const f = stack.split(';')
    return this.options.reverse ? f.reverse() : f
  }

  result(): FoldedInput {
    const keepOrder = !!this.options.flamechart
    const fg = this.diff ? diffFlameGraph(this.before, this.after, 0) : flameGraph(this.one, 0, { keepOrder })
    return { fg, ignored: this.ignored, stacks: this.stacks }
  }
}

/** Reads folded text into a flame graph (flamegraph.pl's input rules). */
export function readFolded(text: string, options: FoldedReadOptions = {}): FoldedInput {
  const r = new FoldedReader(options)
  for (const l of text.split('\n')) r.line(l)
  return r.result()
}

export const isDiff = (fg: FlameGraph | FlameGraphDiff): fg is FlameGraphDiff => 'leftTicks' in fg
