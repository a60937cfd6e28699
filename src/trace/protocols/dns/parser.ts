/**
 * DNS on one socket: over UDP each event is one datagram; over TCP messages carry a 2-byte length
 * (RFC 1035 §4.2.2). Which one is decided from the first event. Queries and answers pair by
 * transaction id, so out-of-order answers on one socket pair right.
 */
import type { DataEvent, TraceRecord } from '../../types.ts'
import { ByteQueue, GuardedParser, ns, type ParserOptions } from '../common.ts'
import { decodeDns, type DnsMessage } from './message.ts'

/** 1024 outstanding queries per socket: a resolver's socket rarely has more than a few in flight. */
const maxPending = 1024

export class DnsParser extends GuardedParser {
  readonly protocol = 'dns'
  private mode: 'unknown' | 'udp' | 'tcp' = 'unknown'
  private pending = new Map<number, { msg: DnsMessage; timeNs: bigint }>()
  private queues = [new ByteQueue(), new ByteQueue()]
  /** A TCP direction lost its framing to a gap: its bytes are skipped until the stream ends. */
  private lost = [false, false]

  constructor(opts: ParserOptions = {}) {
    super(opts)
  }

  buffered(): number {
    return this.queues[0]!.length + this.queues[1]!.length
  }

  protected onEvent(ev: DataEvent, out: TraceRecord[]): void {
    const side = ev.fromClient ? 0 : 1
    const q = this.queues[side]!
    if (this.mode === 'unknown') {
      // A TCP stream may deliver its first message in pieces: hold up to 14 bytes before deciding.
      const data = q.length ? Buffer.concat([q.bytes(), ev.data]) : ev.data
      const m = this.detect({ ...ev, data, size: ev.size + q.length })
      if (m === 'tcp' || (m === 'udp' && q.length === 0)) this.mode = m
      else {
        if (data.length < 14 && ev.size === ev.data.length) q.append(ev.data, ev.timeNs)
        else {
          this.stats.errors++
          q.clear()
        }
        return
      }
    }
    if (this.mode === 'udp') {
      const msg = decodeDns(ev.data, false, ev.size > ev.data.length)
      if (!msg) this.stats.errors++
      else this.message(msg, ev.timeNs, out)
      return
    }
    if (this.mode !== 'tcp') {
      this.stats.errors++
      return
    }
    if (this.lost[side]) return
    q.append(ev.data, ev.timeNs)
    for (;;) {
      const b = q.bytes()
      if (b.length < 2) break
      const len = b.readUInt16BE(0)
      if (len < 12) {
        this.loseSide(side)
        return
      }
      if (b.length < 2 + len) break
      const msg = decodeDns(b.subarray(2, 2 + len))
      if (msg) this.message(msg, q.timeAt(0), out)
      else this.stats.errors++
      q.consume(2 + len)
    }
    if (ev.size > ev.data.length || q.length > this.maxBuffer) {
      // Framing past a gap is unknowable without the lost bytes; resolvers use one TCP query per connection anyway.
      if (ev.size > ev.data.length && q.length >= 2) {
        const msg = decodeDns(q.bytes().subarray(2), false, true)
        if (msg) this.message(msg, q.timeAt(0), out)
      }
      this.loseSide(side)
    }
  }

  protected onEnd(_timeNs: bigint, _out: TraceRecord[]): void {
    this.stats.unmatched += this.pending.size
  }

  protected reset(): void {
    this.pending.clear()
    for (const q of this.queues) q.clear()
    this.lost = [false, false]
  }

  private loseSide(side: number): void {
    this.stats.errors++
    this.queues[side]!.clear()
    this.lost[side] = true
  }

  private detect(ev: DataEvent): 'unknown' | 'udp' | 'tcp' {
    const d = ev.data
    if (decodeDns(d, true)) return 'udp'
    const len = d.length >= 2 ? d.readUInt16BE(0) : 0
    if (len >= 12 && d.length >= 2 + len && decodeDns(d.subarray(2, 2 + len), true)) return 'tcp'
    const gap = ev.size > d.length
    if (!gap && len > d.length - 2 && d.length >= 14) {
      // A first TCP message spanning events: its header must look like a query or an answer.
      const h = decodeDns(d.subarray(2), false, true)?.header
      if (h && h.opcode === 0 && h.num_queries >= 1 && h.num_queries <= 4) return 'tcp'
    }
    return gap && decodeDns(d, false, true) ? 'udp' : 'unknown'
  }

  private message(msg: DnsMessage, timeNs: bigint, out: TraceRecord[]): void {
    const id = msg.header.txid
    if (msg.header.qr === 0) {
      if (this.pending.has(id)) this.stats.unmatched++
      this.pending.set(id, { msg, timeNs })
      if (this.pending.size > maxPending) {
        const oldest = this.pending.keys().next().value
        if (oldest !== undefined) this.pending.delete(oldest)
        this.stats.unmatched++
      }
      return
    }
    const q = this.pending.get(id)
    if (!q) {
      this.stats.unmatched++
      return
    }
    this.pending.delete(id)
    out.push({
      table: 'dns_events',
      timeNs: q.timeNs,
      row: {
        req_header: JSON.stringify(q.msg.header),
        req_body: JSON.stringify({ queries: q.msg.questions }),
        resp_header: JSON.stringify(msg.header),
        resp_body: JSON.stringify({ answers: msg.answers }),
        latency: ns(q.timeNs, timeNs),
      },
    })
  }
}
