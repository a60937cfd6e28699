/** RESP2 and RESP3 values (redis.io/docs/reference/protocol-spec): reading one from a buffer, and printing it. */

export type Resp =
  | { t: 'simple' | 'error' | 'int' | 'double' | 'bignum' | 'bool'; s: string }
  | { t: 'bulk' | 'verbatim' | 'blob-error'; b: Buffer }
  | { t: 'null' }
  | { t: 'array' | 'set' | 'push'; items: Resp[] }
  | { t: 'map'; items: Resp[] }

/** Thrown for bytes that are not RESP; the caller resynchronises. */
export class BadResp extends Error {}

/** 32 levels: real replies nest 2–4 deep (EXEC of a CLUSTER SLOTS); more is junk or an attack. */
const maxDepth = 32

function line(b: Buffer, o: number): { s: string; end: number } | null {
  const nl = b.indexOf('\r\n', o)
  if (nl < 0) {
    // 64 KiB of a line without an end is not RESP (simple strings and headers are short).
    if (b.length - o > 65536) throw new BadResp()
    return null
  }
  return { s: b.toString('utf8', o, nl), end: nl + 2 }
}

function count(s: string): number {
  if (!/^-?\d{1,10}$/.test(s)) throw new BadResp()
  return Number(s)
}

/** Reads one value at `o`: the value and the offset after it, or null when the buffer ends first. */
export function readResp(b: Buffer, o: number, depth = 0): { v: Resp; end: number } | null {
  if (o >= b.length) return null
  if (depth > maxDepth) throw new BadResp()
  const type = String.fromCharCode(b[o]!)
  const l = line(b, o + 1)
  if (!l) return null
  switch (type) {
    case '+':
      return { v: { t: 'simple', s: l.s }, end: l.end }
    case '-':
      return { v: { t: 'error', s: l.s }, end: l.end }
    case ':':
      if (!/^[+-]?\d+$/.test(l.s)) throw new BadResp()
      return { v: { t: 'int', s: l.s }, end: l.end }
    case ',':
      return { v: { t: 'double', s: l.s }, end: l.end }
    case '(':
      if (!/^[+-]?\d+$/.test(l.s)) throw new BadResp()
      return { v: { t: 'bignum', s: l.s }, end: l.end }
    case '#':
      if (l.s !== 't' && l.s !== 'f') throw new BadResp()
      return { v: { t: 'bool', s: l.s === 't' ? 'true' : 'false' }, end: l.end }
    case '_':
      return { v: { t: 'null' }, end: l.end }
    case '$':
    case '=':
    case '!': {
      const n = count(l.s)
      if (n === -1) return { v: { t: 'null' }, end: l.end }
      if (n < 0) throw new BadResp()
      if (l.end + n + 2 > b.length) return null
      if (b[l.end + n] !== 0x0d || b[l.end + n + 1] !== 0x0a) throw new BadResp()
      const body = b.subarray(l.end, l.end + n)
      return { v: { t: type === '$' ? 'bulk' : type === '=' ? 'verbatim' : 'blob-error', b: body }, end: l.end + n + 2 }
    }
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      const n = count(l.s)
      if (n === -1 && type === '*') return { v: { t: 'null' }, end: l.end }
      if (n < 0) throw new BadResp()
      const total = type === '%' || type === '|' ? n * 2 : n
      const items: Resp[] = []
      let at = l.end
      for (let i = 0; i < total; i++) {
        const r = readResp(b, at, depth + 1)
        if (!r) return null
        items.push(r.v)
        at = r.end
      }
      // An attribute describes the value after it; the value is what the caller sees.
      if (type === '|') return readResp(b, at, depth + 1)
      const t = type === '*' ? 'array' : type === '~' ? 'set' : type === '>' ? 'push' : 'map'
      return { v: { t, items }, end: at }
    }
    default:
      throw new BadResp()
  }
}

/** A string element of a command or push, as text (null for anything else). */
export function str(v: Resp | undefined): string | null {
  if (!v) return null
  if (v.t === 'bulk' || v.t === 'verbatim') return v.b.toString('utf8')
  if (v.t === 'simple' || v.t === 'int') return v.s
  return null
}

const clip = (s: string, max: number) => (s.length > max ? s.slice(0, max) + '…' : s)

/**
 * A reply as text, close to Pixie's: strings as they are, errors with a leading "-", integers as
 * numbers, nulls as <NULL>, aggregates as JSON-like lists (maps as objects). Strings are clipped
 * to `max` characters and the whole to 16 × `max`.
 */
export function formatResp(v: Resp, max: number): string {
  const out = fmt(v, max, 0)
  return clip(out, max * 16)
}

function fmt(v: Resp, max: number, depth: number): string {
  switch (v.t) {
    case 'simple':
    case 'int':
    case 'double':
    case 'bignum':
    case 'bool':
      return v.s
    case 'error':
      return `-${v.s}`
    case 'blob-error':
      return `-${clip(v.b.toString('utf8'), max)}`
    case 'bulk':
      return clip(v.b.toString('utf8'), max)
    case 'verbatim':
      // "txt:" / "mkd:" says the format; the text follows.
      return clip(v.b.toString('utf8', 4), max)
    case 'null':
      return '<NULL>'
    case 'map': {
      const parts: string[] = []
      for (let i = 0; i + 1 < v.items.length; i += 2)
        parts.push(`${JSON.stringify(fmt(v.items[i]!, max, depth + 1))}: ${inner(v.items[i + 1]!, max, depth)}`)
      return `{${parts.join(', ')}}`
    }
    default:
      return `[${v.items.map((x) => inner(x, max, depth)).join(', ')}]`
  }
}

function inner(v: Resp, max: number, depth: number): string {
  const s = fmt(v, max, depth + 1)
  // Strings are quoted inside lists; numbers, booleans, nulls and nested lists are not.
  const quoted = v.t === 'simple' || v.t === 'bulk' || v.t === 'verbatim' || v.t === 'error' || v.t === 'blob-error'
  return quoted ? JSON.stringify(s) : s
}

/**
 * Walks past one RESP value without holding it, across any number of pushes: for replies larger
 * than the parser may buffer (a COMMAND DOCS reply is ~400 KB). Only a partial line is held.
 */
export class RespSkipper {
  /** Items still expected at each open aggregate level. */
  private stack: number[] = []
  private bulkLeft = 0
  private partial = ''
  private started = false

  /** Consumes from `b`; returns how many bytes were used and whether the value ended. Throws BadResp on junk. */
  feed(b: Buffer): { used: number; done: boolean } {
    let at = 0
    while (at < b.length) {
      if (this.bulkLeft > 0) {
        const n = Math.min(this.bulkLeft, b.length - at)
        this.bulkLeft -= n
        at += n
        if (this.bulkLeft === 0 && this.itemDone()) return { used: at, done: true }
        continue
      }
      const nl = b.indexOf(0x0a, at)
      if (nl < 0) {
        this.partial += b.toString('latin1', at)
        if (this.partial.length > 1024) throw new BadResp()
        return { used: b.length, done: false }
      }
      const l = (this.partial + b.toString('latin1', at, nl)).replace(/\r$/, '')
      this.partial = ''
      at = nl + 1
      if (this.value(l)) return { used: at, done: true }
    }
    return { used: at, done: false }
  }

  /** The value ended inside skipGap. */
  ended = false

  /** Skips `n` bytes capture did not copy, when they fall inside the current bulk string (its CRLF included). */
  skipGap(n: number): boolean {
    if (n > this.bulkLeft || this.bulkLeft === 0) return false
    this.bulkLeft -= n
    if (this.bulkLeft === 0) this.ended = this.itemDone()
    return true
  }

  private value(l: string): boolean {
    const t = l[0]
    const rest = l.slice(1)
    if (t === undefined || (this.started && this.stack.length === 0)) throw new BadResp()
    this.started = true
    if (t === '$' || t === '=' || t === '!') {
      const n = count(rest)
      if (n >= 0) {
        this.bulkLeft = n + 2
        return false
      }
      return this.itemDone()
    }
    if ('*~>%|'.includes(t)) {
      const n = count(rest)
      const items = t === '%' || t === '|' ? n * 2 : n
      // An attribute is followed by the value it describes: one more item at this level.
      if (t === '|') this.bumpParent()
      if (items <= 0) return this.itemDone()
      this.stack.push(items)
      return false
    }
    if ('+-:_#,('.includes(t)) return this.itemDone()
    throw new BadResp()
  }

  private bumpParent(): void {
    if (this.stack.length) this.stack[this.stack.length - 1]!++
    else this.stack.push(1)
  }

  /** One item finished: closes the aggregates it completes; true when the whole value ended. */
  private itemDone(): boolean {
    for (;;) {
      if (this.stack.length === 0) return true
      const top = --this.stack[this.stack.length - 1]!
      if (top > 0) return false
      this.stack.pop()
    }
  }
}
