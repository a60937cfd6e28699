/**
 * HTTP/2 over plaintext (h2c, and TLS plaintext from uprobes) on one connection, gRPC included:
 * the client preface is skipped, frames are read per direction (RFC 9113 §4), header blocks
 * (HEADERS + CONTINUATION) decoded with one HPACK decoder per direction, and each stream becomes
 * one http_events row (major_version 2) when its response ends. gRPC's grpc-status and
 * grpc-message come from the trailers into resp_headers. DATA payloads are counted, their first
 * bytes kept; a DATA frame larger than the buffer cap, or cut by a capture gap, is skipped by counting.
 */
import type { DataEvent, TraceRecord } from '../../types.ts'
import { ByteQueue, GuardedParser, Prefix, ns, passOver, type ParserOptions } from '../common.ts'
import { contentType } from '../http1/head.ts'
import { HpackDecoder } from './hpack.ts'

const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')
const FRAME = { data: 0, headers: 1, priority: 2, rst: 3, settings: 4, push: 5, ping: 6, goaway: 7, window: 8, continuation: 9 } as const
const FLAG = { endStream: 0x1, endHeaders: 0x4, padded: 0x8, priority: 0x20 } as const
/** Streams open at once per connection: servers default SETTINGS_MAX_CONCURRENT_STREAMS to 100–250. */
const maxStreams = 1024

interface Half {
  headers: Record<string, string>
  timeNs: bigint
  body: Prefix
  size: number
  ended: boolean
}

interface Stream {
  req: Half | null
  resp: Half | null
}

interface Side {
  q: ByteQueue
  hpack: HpackDecoder
  /** DATA payload bytes still to skip (a frame too large to hold, or cut by a gap). */
  skip: number
  skipStream: number
  /** A header block in progress (HEADERS without END_HEADERS). */
  block: { stream: number; parts: Buffer[]; len: number; endStream: boolean; timeNs: bigint } | null
  lost: boolean
  prefaceLeft: number
}

export class Http2Parser extends GuardedParser {
  readonly protocol = 'http2'
  private sides: [Side, Side]
  private streams = new Map<number, Stream>()
  private out: TraceRecord[] = []

  constructor(opts: ParserOptions = {}) {
    super(opts)
    this.sides = [this.side(true), this.side(false)]
  }

  private side(client: boolean): Side {
    return {
      q: new ByteQueue(),
      hpack: new HpackDecoder(),
      skip: 0,
      skipStream: 0,
      block: null,
      lost: false,
      prefaceLeft: client ? preface.length : 0,
    }
  }

  buffered(): number {
    const s = this.sides
    return s[0].q.length + s[1].q.length + (s[0].block?.len ?? 0) + (s[1].block?.len ?? 0)
  }

  protected onEvent(ev: DataEvent, out: TraceRecord[]): void {
    this.out = out
    const client = ev.fromClient
    const s = this.sides[client ? 0 : 1]
    let d = ev.data
    let gap = ev.size - d.length
    if (s.prefaceLeft > 0) {
      // The 24-byte preface (it may be split across events); anything else means it was already past.
      const n = Math.min(s.prefaceLeft, d.length)
      const at = preface.length - s.prefaceLeft
      if (d.subarray(0, n).equals(preface.subarray(at, at + n))) {
        s.prefaceLeft -= n
        d = d.subarray(n)
      } else s.prefaceLeft = 0
    }
    if (s.skip > 0) {
      const p = passOver(s.skip, d, gap)
      s.skip = p.skip
      d = p.data
      gap = p.gap
      this.streamBytes(client, s.skipStream, p.passed)
    }
    if (s.lost) {
      if (!plausibleFrame(d)) return
      s.lost = false
    }
    s.q.append(d, ev.timeNs)
    for (;;) {
      const b = s.q.bytes()
      if (b.length < 9) break
      const len = b.readUIntBE(0, 3)
      const type = b[3]!
      const flags = b[4]!
      const id = b.readUInt32BE(5) & 0x7fffffff
      const time = s.q.timeAt(0)
      if (b.length >= 9 + len) {
        this.frame(client, s, type, flags, id, b.subarray(9, 9 + len), time)
        s.q.consume(9 + len)
        continue
      }
      if (type === FRAME.data && (9 + len > this.maxBuffer || gap > 0)) {
        // Count the DATA payload instead of holding it.
        const have = b.length - 9
        this.data(client, id, flags, b.subarray(9), len, time)
        s.q.clear()
        s.skip = len - have
        s.skipStream = id
        const g = Math.min(s.skip, gap)
        s.skip -= g
        gap -= g
        this.streamBytes(client, id, g)
      } else if (9 + len > this.maxBuffer) this.lose(s)
      break
    }
    if (gap > 0) this.lose(s)
  }

  protected onEnd(_timeNs: bigint, out: TraceRecord[]): void {
    // Streams whose END_STREAM a capture gap swallowed (a 50 KB response written at once is cut
    // at 16 KiB) are recorded here: into this call's array, not the last event's.
    this.out = out
    for (const st of this.streams.values()) {
      if (st.req && st.resp) this.record(st)
      else if (st.req) this.stats.unmatched++
    }
    this.streams.clear()
  }

  protected reset(): void {
    this.sides = [this.side(false), this.side(false)]
    this.streams.clear()
  }

  private lose(s: Side): void {
    this.stats.errors++
    s.q.clear()
    s.skip = 0
    s.block = null
    s.lost = true
  }

  private stream(id: number): Stream {
    let st = this.streams.get(id)
    if (!st) {
      st = { req: null, resp: null }
      this.streams.set(id, st)
      if (this.streams.size > maxStreams) {
        const oldest = this.streams.keys().next().value!
        this.streams.delete(oldest)
        this.stats.unmatched++
      }
    }
    return st
  }

  private frame(client: boolean, s: Side, type: number, flags: number, id: number, p: Buffer, time: bigint): void {
    if (s.block && type !== FRAME.continuation) {
      // A header block must continue with CONTINUATION frames of its stream (RFC 9113 §6.10).
      this.stats.errors++
      s.block = null
    }
    switch (type) {
      case FRAME.data:
        return this.data(client, id, flags, unpad(p, flags, 0) ?? Buffer.alloc(0), p.length, time)
      case FRAME.headers: {
        const frag = unpad(p, flags, flags & FLAG.priority ? 5 : 0)
        if (!frag || id === 0) {
          this.stats.errors++
          return
        }
        s.block = { stream: id, parts: [Buffer.from(frag)], len: frag.length, endStream: (flags & FLAG.endStream) !== 0, timeNs: time }
        if (flags & FLAG.endHeaders) this.headerBlock(client, s)
        return
      }
      case FRAME.continuation:
        if (!s.block || s.block.stream !== id) {
          this.stats.errors++
          return
        }
        s.block.parts.push(Buffer.from(p))
        s.block.len += p.length
        if (s.block.len > this.maxBuffer) {
          this.lose(s)
          return
        }
        if (flags & FLAG.endHeaders) this.headerBlock(client, s)
        return
      case FRAME.push: {
        // A pushed response's header block still moves the HPACK table: decode and drop it.
        const frag = unpad(p, flags, 4)
        if (frag && flags & FLAG.endHeaders) s.hpack.decode(frag)
        return
      }
      case FRAME.rst: {
        const st = this.streams.get(id)
        if (!st) return
        this.streams.delete(id)
        if (st.req && st.resp) this.record(st)
        else if (st.req) this.stats.unmatched++
        return
      }
      default:
        // SETTINGS, PING, GOAWAY, WINDOW_UPDATE, PRIORITY, unknown types: nothing to record.
        return
    }
  }

  private headerBlock(client: boolean, s: Side): void {
    const blk = s.block!
    s.block = null
    const fields = s.hpack.decode(blk.parts.length === 1 ? blk.parts[0]! : Buffer.concat(blk.parts))
    if (!fields) {
      this.stats.errors++
      return
    }
    const st = this.stream(blk.stream)
    const headers: Record<string, string> = {}
    for (const [n, v] of fields) headers[n] = headers[n] === undefined ? v : `${headers[n]}, ${v}`
    if (client) {
      // A second client header block is request trailers.
      if (st.req) Object.assign(st.req.headers, headers)
      else st.req = { headers, timeNs: blk.timeNs, body: new Prefix(this.maxBody), size: 0, ended: false }
      if (blk.endStream) st.req.ended = true
    } else {
      const status = Number(headers[':status'] ?? 0)
      if (status >= 100 && status < 200) return
      // The second server block is the trailers (gRPC's grpc-status lives there).
      if (st.resp) Object.assign(st.resp.headers, headers)
      else st.resp = { headers, timeNs: blk.timeNs, body: new Prefix(this.maxBody), size: 0, ended: false }
      if (blk.endStream) this.endResponse(blk.stream, st)
    }
  }

  private data(client: boolean, id: number, flags: number, payload: Buffer, size: number, _time: bigint): void {
    const st = this.streams.get(id)
    const half = st && (client ? st.req : st.resp)
    if (!st || !half) return
    half.body.add(payload)
    half.size += Math.min(payload.length, size)
    if (flags & FLAG.endStream) {
      half.ended = true
      if (!client) this.endResponse(id, st)
    }
  }

  /** Bytes of a DATA payload skipped by counting. */
  private streamBytes(client: boolean, id: number, n: number): void {
    const st = this.streams.get(id)
    const half = st && (client ? st.req : st.resp)
    if (half) half.size += n
  }

  private endResponse(id: number, st: Stream): void {
    this.streams.delete(id)
    if (st.req) this.record(st)
    else this.stats.unmatched++
  }

  private record(st: Stream): void {
    const req = st.req!
    const resp = st.resp!
    const h = req.headers
    this.out.push({
      table: 'http_events',
      timeNs: req.timeNs,
      row: {
        major_version: 2,
        minor_version: 0,
        content_type: contentType(resp.headers['content-type']) || contentType(h['content-type']),
        req_headers: JSON.stringify(h),
        req_method: h[':method'] ?? '',
        req_path: h[':path'] ?? '',
        req_body: req.body.text(),
        req_body_size: req.size,
        resp_headers: JSON.stringify(resp.headers),
        resp_status: Number(resp.headers[':status'] ?? 0),
        resp_message: '',
        resp_body: resp.body.text(),
        resp_body_size: resp.size,
        latency: ns(req.timeNs, resp.timeNs),
      },
    })
  }
}

/** A frame payload without its padding (and `skip` priority/promise bytes); null when the padding is impossible. */
function unpad(p: Buffer, flags: number, skip: number): Buffer | null {
  let start = 0
  let end = p.length
  if (flags & FLAG.padded) {
    if (p.length < 1) return null
    end -= p[0]!
    start = 1
  }
  start += skip
  return start <= end ? p.subarray(start, end) : null
}

/** Whether `d` starts with a believable frame header (to resynchronise after a gap). */
function plausibleFrame(d: Buffer): boolean {
  if (d.length < 9) return false
  const len = d.readUIntBE(0, 3)
  return d[3]! <= 9 && len <= 1 << 24 && (d[5]! & 0x80) === 0
}
