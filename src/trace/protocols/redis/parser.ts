/**
 * Redis on one connection: commands (RESP arrays of bulk strings, or inline lines) paired in order
 * with replies (RESP2 or RESP3), pipelining included. Command arguments stream through a small
 * state machine, so a multi-megabyte SET value is counted, never held; a reply larger than the
 * buffer cap is a top-level bulk string skipped by counting, or else dropped (counted as an error).
 * Pub/sub messages have no request: they become rows with req_cmd "PUSH PUB", as in Pixie.
 */
import type { DataEvent, TraceRecord } from '../../types.ts'
import { ByteQueue, GuardedParser, ns, type ParserOptions } from '../common.ts'
import { BadResp, formatResp, readResp, RespSkipper, str, type Resp } from './resp.ts'

/** Commands whose first argument is a subcommand, named together ("CONFIG GET"), as Pixie does. */
const twoWord = new Set([
  'ACL',
  'CLIENT',
  'CLUSTER',
  'COMMAND',
  'CONFIG',
  'DEBUG',
  'FUNCTION',
  'LATENCY',
  'MEMORY',
  'MODULE',
  'OBJECT',
  'PUBSUB',
  'SCRIPT',
  'SLOWLOG',
  'XGROUP',
  'XINFO',
])
const subscribes = new Set(['SUBSCRIBE', 'PSUBSCRIBE', 'SSUBSCRIBE', 'UNSUBSCRIBE', 'PUNSUBSCRIBE', 'SUNSUBSCRIBE'])
const messages = new Set(['message', 'pmessage', 'smessage'])
/** 4096 pipelined commands without replies: redis-benchmark pipelines 16–100; more is a lost reply stream. */
const maxPending = 4096
const maxArgs = 64

interface Command {
  cmd: string
  args: string[]
  timeNs: bigint
}

interface ArgState {
  n: number
  /** Arguments read so far (only the first `maxArgs` are kept). */
  seen: number
  args: string[]
  /** Bytes left of the current argument including its CRLF; -1 while its "$len" line is awaited. */
  left: number
  cur: Buffer[]
  curKept: number
  timeNs: bigint
}

export class RedisParser extends GuardedParser {
  readonly protocol = 'redis'
  private req = new ByteQueue()
  private resp = new ByteQueue()
  private arg: ArgState | null = null
  /** Finds where the reply being received ends. */
  private scanner: RespSkipper | null = null
  /** The reply being received outgrew the cap: it is scanned to its end, not held. */
  private dropping = false
  private lost = [false, false]
  private respLost = false
  private pending: Command[] = []
  private head = 0
  /** A (P|S)SUBSCRIBE was answered: RESP2 arrays of "message" are pushes from here on. */
  private sawSubscribe = false

  constructor(opts: ParserOptions = {}) {
    super(opts)
  }

  buffered(): number {
    return this.req.length + this.resp.length
  }

  protected onEvent(ev: DataEvent, out: TraceRecord[]): void {
    if (ev.fromClient) return this.onRequest(ev)
    try {
      this.onReply(ev, out)
    } catch (e) {
      if (!(e instanceof BadResp)) throw e
      this.stats.errors++
      this.loseReplies()
    }
  }

  protected onEnd(): void {
    this.stats.unmatched += this.pending.length - this.head
  }

  protected reset(): void {
    this.req.clear()
    this.resp.clear()
    this.arg = null
    this.scanner = null
    this.dropping = false
    this.lost = [false, false]
    this.respLost = false
    this.pending = []
    this.head = 0
    this.sawSubscribe = false
  }

  // ── commands ──────────────────────────────────────────────────────────────

  private onRequest(ev: DataEvent): void {
    const d = ev.data
    if (this.lost[0]) {
      if (d.length === 0 || !(d[0] === 0x2a || /[A-Za-z]/.test(String.fromCharCode(d[0]!)))) return
      this.lost[0] = false
    }
    const q = this.req
    q.append(d, ev.timeNs)
    while (q.length > 0 && this.stepCommand(q)) {}
    const gap = ev.size - d.length
    if (gap > 0) {
      const a = this.arg
      if (a && a.left >= gap && q.length === 0) {
        // Inside an argument (a large SET value): counted, not lost.
        a.left -= gap
        if (a.left === 0) this.endArg(a)
      } else this.loseRequests()
    }
    if (q.length > this.maxBuffer) this.loseRequests()
  }

  /** Consumes what it can of one command; false when more bytes are needed. */
  private stepCommand(q: ByteQueue): boolean {
    const b = q.bytes()
    let a = this.arg
    if (!a) {
      const nl = b.indexOf('\n')
      if (nl < 0) {
        if (b.length > 4096) this.loseRequests()
        return false
      }
      const first = b.toString('utf8', 0, nl).replace(/\r$/, '')
      const time = q.timeAt(0)
      q.consume(nl + 1)
      if (b[0] !== 0x2a) {
        // An inline command: words separated by spaces.
        const words = first.trim().split(/\s+/).filter(Boolean)
        if (words.length) this.command(words, time)
        return true
      }
      const n = Number(first.slice(1))
      if (!/^\*\d{1,9}$/.test(first) || n === 0) {
        this.errorRequests()
        return true
      }
      a = this.arg = { n, seen: 0, args: [], left: -1, cur: [], curKept: 0, timeNs: time }
      return true
    }
    if (a.left === -1) {
      const nl = b.indexOf('\r\n')
      if (nl < 0) {
        if (b.length > 32) this.errorRequests()
        return false
      }
      const m = /^\$(\d{1,10})$/.exec(b.toString('latin1', 0, nl))
      if (!m) {
        this.errorRequests()
        return true
      }
      q.consume(nl + 2)
      a.left = Number(m[1]) + 2
      a.cur = []
      a.curKept = 0
      return true
    }
    const take = Math.min(a.left, b.length)
    // Keep the argument's first bytes (not its CRLF).
    const payloadLeft = Math.max(0, a.left - 2)
    const keep = Math.min(take, payloadLeft, Math.max(0, this.maxBody - a.curKept))
    if (keep > 0 && a.seen < maxArgs) {
      a.cur.push(Buffer.from(b.subarray(0, keep)))
      a.curKept += keep
    }
    a.left -= take
    q.consume(take)
    if (a.left > 0) return false
    this.endArg(a)
    return true
  }

  private endArg(a: ArgState): void {
    if (a.seen++ < maxArgs) a.args.push(Buffer.concat(a.cur).toString('utf8'))
    a.left = -1
    if (a.seen === a.n) {
      this.arg = null
      this.command(a.args, a.timeNs)
    }
  }

  private command(words: string[], timeNs: bigint): void {
    let cmd = words[0]!.toUpperCase()
    let rest = words.slice(1)
    if (twoWord.has(cmd) && rest.length > 0) {
      cmd = `${cmd} ${rest[0]!.toUpperCase()}`
      rest = rest.slice(1)
    }
    this.pending.push({ cmd, args: rest, timeNs })
    if (this.pending.length - this.head > maxPending) {
      this.head++
      this.stats.unmatched++
    }
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head)
      this.head = 0
    }
  }

  private errorRequests(): void {
    this.stats.errors++
    this.loseRequests()
  }

  private loseRequests(): void {
    this.req.clear()
    this.arg = null
    this.lost[0] = true
  }

  // ── replies ───────────────────────────────────────────────────────────────

  /**
   * Replies are scanned once, byte by byte, by a RespSkipper that knows where each value ends
   * (re-parsing the held bytes on every event would be quadratic for a large reply in small
   * reads); a finished value is then decoded once. A value that outgrows the buffer cap is
   * recorded by its beginning and scanned to its end without being held.
   */
  private onReply(ev: DataEvent, out: TraceRecord[]): void {
    let d = ev.data
    const q = this.resp
    while (d.length > 0) {
      if (!this.scanner) {
        if (this.lost[1] && !/[+\-:$*_#,(!=%~>|]/.test(String.fromCharCode(d[0]!))) return
        this.lost[1] = false
        this.scanner = new RespSkipper()
      }
      const r = this.scanner.feed(d)
      if (!this.dropping) q.append(d.subarray(0, r.used), ev.timeNs)
      d = d.subarray(r.used)
      if (!r.done) break
      this.scanner = null
      if (this.dropping) {
        this.dropping = false
        continue
      }
      const time = q.timeAt(0)
      const v = readResp(q.bytes(), 0)
      q.clear()
      if (v) this.reply(v.v, time, out)
      else this.stats.errors++
    }
    if (q.length > this.maxBuffer) this.oversized(out, `over ${this.maxBuffer} bytes`)
    const gap = ev.size - ev.data.length
    if (gap > 0) {
      if (!this.scanner?.skipGap(gap)) this.loseReplies()
      else {
        // A value with a hole cannot be decoded whole: record its beginning.
        if (!this.dropping) this.oversized(out, 'cut by capture')
        if (this.scanner.ended) {
          this.scanner = null
          this.dropping = false
        }
      }
    }
  }

  /** A reply larger than the buffer cap: recorded by its beginning, the rest scanned past. */
  private oversized(out: TraceRecord[], why: string): void {
    const q = this.resp
    const b = q.bytes()
    const nl = b.indexOf('\r\n')
    const first = b.toString('latin1', 0, nl > 0 && nl < 32 ? nl : 0)
    const m = /^([*~%>$])(\d+)$/.exec(first)
    let v: Resp
    if (m?.[1] === '$') v = { t: 'bulk', b: Buffer.from(b.subarray(nl + 2, nl + 2 + this.maxBody)) }
    else {
      const what = m ? `${m[2]} ${m[1] === '%' ? 'pairs' : 'elements'}` : 'a reply'
      v = { t: 'simple', s: `[${what}, ${why}: not kept]` }
    }
    const time = q.timeAt(0)
    q.clear()
    this.dropping = true
    this.reply(v, time, out)
  }

  private loseReplies(): void {
    this.resp.clear()
    this.scanner = null
    this.dropping = false
    this.lost[1] = true
    this.respLost = true
  }

  private reply(v: Resp, timeNs: bigint, out: TraceRecord[]): void {
    // Pub/sub: a message has no request; a subscribe confirmation answers the (P|S)SUBSCRIBE at the head, if any.
    if ((v.t === 'push' || v.t === 'array') && v.items.length >= 3) {
      const kind = str(v.items[0])
      if (kind && messages.has(kind) && (v.t === 'push' || this.sawSubscribe)) {
        out.push(row({ cmd: 'PUSH PUB', args: [], timeNs }, formatResp(v, this.maxBody), timeNs))
        return
      }
      if (kind && subscribes.has(kind.toUpperCase()) && (v.t === 'push' || this.sawSubscribe)) {
        const next = this.pending[this.head]
        if (!next || next.cmd !== kind.toUpperCase()) return
      }
    }
    if (v.t === 'push') return
    const cmd = this.take(timeNs)
    if (!cmd) return
    if (subscribes.has(cmd.cmd)) this.sawSubscribe = true
    out.push(row(cmd, formatResp(v, this.maxBody), timeNs))
  }

  private take(t: bigint): Command | null {
    if (this.respLost) {
      // Replies were lost: answer the latest command sent before this reply.
      this.respLost = false
      let pick = -1
      for (let i = this.head; i < this.pending.length; i++) if (this.pending[i]!.timeNs <= t) pick = i
      if (pick < 0) {
        this.stats.unmatched++
        return null
      }
      this.stats.unmatched += pick - this.head
      this.head = pick
    }
    const c = this.pending[this.head]
    if (!c || c.timeNs > t) {
      this.stats.unmatched++
      return null
    }
    this.head++
    return c
  }
}

function row(c: Command, resp: string, respNs: bigint): TraceRecord {
  return {
    table: 'redis_events',
    timeNs: c.timeNs,
    row: { req_cmd: c.cmd, req_args: JSON.stringify(c.args), resp, latency: ns(c.timeNs, respNs) },
  }
}
