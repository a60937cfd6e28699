/**
 * One direction of an HTTP/1.x connection: bytes → messages (head, body prefix, body size).
 * Bodies are never held: they are counted, and their first bytes kept. Capture gaps (bytes a
 * transfer moved but capture did not copy) are skipped by counting inside a body; a gap anywhere
 * else loses the message boundary, so the message is finished with what is known and the reader
 * waits for an event that starts like a new message.
 */
import { Prefix } from '../common.ts'
import { framing, looksLikeStart, parseHead, type Head } from './head.ts'

export interface Message {
  head: Head
  timeNs: bigint
  body: Prefix
  bodySize: number
  /** Part of the message was lost to a capture gap; its body size is a lower bound. */
  partial: boolean
}

type State =
  | { s: 'idle' }
  | { s: 'head'; parts: Buffer[]; len: number; time: bigint; tail: Buffer }
  | { s: 'length'; msg: Message; left: number }
  | { s: 'chunk-size'; msg: Message; line: string }
  | { s: 'chunk-data'; msg: Message; left: number }
  | { s: 'chunk-end'; msg: Message; seen: number }
  | { s: 'trailer'; msg: Message; text: string }
  | { s: 'close'; msg: Message }
  | { s: 'resync' }
  | { s: 'dead' }

export interface ReaderHooks {
  /** A head was parsed: says whether the message has no body (a response to HEAD, …). */
  onHead(msg: Message): { bodyless: boolean }
  onMessage(msg: Message): void
  onError(): void
  /** The reader lost the message boundary and waits for an event that starts a message. */
  onLost(): void
}

/** 16 KiB: larger than any real request head (nginx's large_client_header_buffers is 4 × 8 KiB, per line). */
const maxHead = 16 * 1024
const maxLine = 1024
const EMPTY = Buffer.alloc(0)
const BLANK_LINE = Buffer.from('\r\n\r\n')

export class Http1Reader {
  private st: State = { s: 'idle' }
  /**
   * The last head parsed and its text: a keep-alive client sends the same head again and again
   * (the same request line and fields), a server the same one within a second (Date changes): a
   * repeat is one string comparison, not a parse. Heads are never changed once parsed.
   */
  private lastText = ''
  private lastHead: Head | null = null

  constructor(
    private readonly kind: 'req' | 'resp',
    private readonly maxBody: number,
    private readonly hooks: ReaderHooks,
  ) {}

  buffered(): number {
    return this.st.s === 'head' ? this.st.len : 0
  }

  /** Stops parsing the connection (after 101 Switching Protocols or CONNECT: no HTTP/1 follows). */
  kill(): void {
    this.st = { s: 'dead' }
  }

  reset(): void {
    this.st = { s: 'idle' }
    this.lastText = ''
    this.lastHead = null
  }

  push(data: Buffer, size: number, timeNs: bigint): void {
    if (this.st.s === 'dead') return
    if (this.st.s === 'resync') {
      if (data.length === 0 || !looksLikeStart(data, this.kind)) return
      this.st = { s: 'idle' }
    }
    let at = 0
    while (at < data.length && this.parsing()) at = this.step(data, at, timeNs)
    const gap = size - data.length
    if (gap > 0) this.gap(gap)
  }

  private parsing(): boolean {
    return this.st.s !== 'resync' && this.st.s !== 'dead'
  }

  /** The connection closed: a body read until close ends here. */
  end(): void {
    if (this.st.s === 'close') this.finish(this.st.msg)
    else if (this.st.s === 'head' && this.st.len > 0) {
      // A head cut by the close: keep it if its start line made it.
      this.headFromParts(this.st.parts, this.st.time, true)
    } else if ('msg' in this.st) {
      this.st.msg.partial = true
      this.finish(this.st.msg)
    }
    this.st = { s: 'idle' }
  }

  private step(d: Buffer, at: number, time: bigint): number {
    const st = this.st
    switch (st.s) {
      case 'idle': {
        // Stray CRLFs between messages are allowed (RFC 9112 §2.2).
        while (at < d.length && (d[at] === 0x0d || d[at] === 0x0a)) at++
        if (at < d.length) this.st = { s: 'head', parts: [], len: 0, time, tail: EMPTY }
        return at
      }
      case 'head': {
        // The blank line may straddle events: search the last 3 bytes held joined with the new ones.
        const tail = st.tail
        if (st.len === 0) {
          // The usual case, a whole head in one event: parsed from the event's bytes, no copy.
          const idx = d.indexOf(BLANK_LINE, at)
          if (idx >= 0 && idx - at <= maxHead) {
            this.head(d.toString('latin1', at, idx), st.time, false)
            return idx + 4
          }
        }
        const joined = tail.length ? Buffer.concat([tail, d.subarray(at)]) : d.subarray(at)
        const idx = joined.indexOf('\r\n\r\n')
        if (idx < 0) {
          st.parts.push(Buffer.from(d.subarray(at)))
          st.len += d.length - at
          st.tail = Buffer.from(joined.subarray(Math.max(0, joined.length - 3)))
          if (st.len > maxHead) this.fail()
          return d.length
        }
        const endInD = at + idx + 4 - tail.length
        st.parts.push(Buffer.from(d.subarray(at, endInD)))
        st.len += endInD - at
        this.headFromParts(st.parts, st.time, false)
        return endInD
      }
      case 'length': {
        const take = Math.min(st.left, d.length - at)
        st.msg.body.add(d.subarray(at, at + take))
        st.msg.bodySize += take
        st.left -= take
        if (st.left === 0) this.finish(st.msg)
        return at + take
      }
      case 'close': {
        st.msg.body.add(d.subarray(at))
        st.msg.bodySize += d.length - at
        return d.length
      }
      case 'chunk-size': {
        const nl = d.indexOf(0x0a, at)
        const piece = d.toString('latin1', at, nl < 0 ? d.length : nl)
        st.line += piece
        if (st.line.length > maxLine) {
          this.fail(st.msg)
          return d.length
        }
        if (nl < 0) return d.length
        const m = /^\s*([0-9a-fA-F]{1,12})\s*(;.*)?\r?$/.exec(st.line)
        if (!m) {
          this.fail(st.msg)
          return d.length
        }
        const n = parseInt(m[1]!, 16)
        this.st = n === 0 ? { s: 'trailer', msg: st.msg, text: '' } : { s: 'chunk-data', msg: st.msg, left: n }
        return nl + 1
      }
      case 'chunk-data': {
        const take = Math.min(st.left, d.length - at)
        st.msg.body.add(d.subarray(at, at + take))
        st.msg.bodySize += take
        st.left -= take
        if (st.left === 0) this.st = { s: 'chunk-end', msg: st.msg, seen: 0 }
        return at + take
      }
      case 'chunk-end': {
        // The CRLF after a chunk's data; a bare LF is tolerated. A second CR is junk: waiting
        // on after it returned without consuming a byte, and push() looped forever.
        while (at < d.length) {
          const c = d[at]!
          if (c === 0x0a) {
            this.st = { s: 'chunk-size', msg: st.msg, line: '' }
            return at + 1
          }
          if (c !== 0x0d || st.seen > 0) {
            this.fail(st.msg)
            return d.length
          }
          st.seen++
          at++
        }
        return at
      }
      case 'trailer': {
        // Trailer fields end with an empty line; with none, the CRLF follows "0\r\n" at once.
        const nl = d.indexOf(0x0a, at)
        const piece = d.toString('latin1', at, nl < 0 ? d.length : nl + 1)
        st.text += piece
        if (st.text.length > maxHead) {
          this.fail(st.msg)
          return d.length
        }
        if (nl < 0) return d.length
        if (/(^|\n)\r?\n$/.test(st.text)) this.finish(st.msg)
        return nl + 1
      }
      default:
        return d.length
    }
  }

  private headFromParts(parts: Buffer[], time: bigint, cut: boolean): void {
    this.head(
      Buffer.concat(parts)
        .toString('latin1')
        .replace(/\r?\n\r?\n$/, ''),
      time,
      cut,
    )
  }

  /** A head's text without its blank line; `cut` when a gap or the close ended it early. */
  private head(text: string, time: bigint, cut: boolean): void {
    let head = this.lastHead
    if (text !== this.lastText || !head) {
      head = parseHead(text, this.kind)
      this.lastText = text
      this.lastHead = head
    }
    if (!head) {
      this.fail()
      return
    }
    const msg: Message = { head, timeNs: time, body: new Prefix(this.maxBody), bodySize: 0, partial: cut }
    const { bodyless } = this.hooks.onHead(msg)
    if (this.st.s === 'dead') return
    if (cut) {
      this.finish(msg)
      this.resync()
      return
    }
    const f = framing(head, bodyless)
    if (f.mode === 'none' || (f.mode === 'length' && f.length === 0)) this.finish(msg)
    else if (f.mode === 'length') this.st = { s: 'length', msg, left: f.length }
    else if (f.mode === 'chunked') this.st = { s: 'chunk-size', msg, line: '' }
    else this.st = { s: 'close', msg }
  }

  /** `n` bytes the transfer moved past what capture copied. */
  private gap(n: number): void {
    const st = this.st
    switch (st.s) {
      case 'length':
        st.msg.bodySize += Math.min(n, st.left)
        if (n < st.left) st.left -= n
        else if (n === st.left) this.finish(st.msg)
        else {
          this.finish(st.msg)
          this.resync()
        }
        return
      case 'chunk-data':
        st.msg.bodySize += Math.min(n, st.left)
        if (n < st.left) {
          st.left -= n
          return
        }
        if (n === st.left) {
          this.st = { s: 'chunk-end', msg: st.msg, seen: 0 }
          return
        }
        // Past this chunk the framing is unknown: the body size stays a lower bound.
        st.msg.partial = true
        this.finish(st.msg)
        this.resync()
        return
      case 'close':
        st.msg.bodySize += n
        return
      case 'head':
        this.headFromParts(st.parts, st.time, true)
        this.resync()
        return
      case 'idle':
      case 'resync':
      case 'dead':
        if (st.s === 'idle') this.resync()
        return
      default:
        st.msg.partial = true
        this.finish(st.msg)
        this.resync()
    }
  }

  private resync(): void {
    if (this.st.s === 'dead') return
    this.st = { s: 'resync' }
    this.hooks.onLost()
  }

  private finish(msg: Message): void {
    this.st = { s: 'idle' }
    this.hooks.onMessage(msg)
  }

  private fail(msg?: Message): void {
    this.hooks.onError()
    if (msg) {
      msg.partial = true
      this.hooks.onMessage(msg)
    }
    this.resync()
  }
}
