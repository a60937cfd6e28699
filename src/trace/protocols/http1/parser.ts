/**
 * HTTP/1.x on one connection: requests and responses paired in order (keep-alive and pipelining),
 * one http_events row per pair. A request whose response never came is dropped and counted as
 * unmatched, as Pixie does. Latency runs from the request's first byte to the response's first
 * byte (Pixie's `resp.timestamp_ns - req.timestamp_ns`).
 */
import type { DataEvent, TraceRecord } from '../../types.ts'
import { GuardedParser, ns, type ParserOptions } from '../common.ts'
import { contentType } from './head.ts'
import { Http1Reader, type Message } from './reader.ts'

/** 256 requests waiting for responses: far past any real pipeline depth, so only junk reaches it. */
const maxQueued = 256

export class Http1Parser extends GuardedParser {
  readonly protocol = 'http'
  private queue: Message[] = []
  private head = 0
  private pairs = new Map<Message, Message | null>()
  /** The response side lost a message boundary: the next response pairs by time, not by order. */
  private respLost = false
  private out: TraceRecord[] = []
  private req: Http1Reader
  private resp: Http1Reader

  constructor(opts: ParserOptions = {}) {
    super(opts)
    const onError = () => void this.stats.errors++
    this.req = new Http1Reader('req', this.maxBody, {
      onHead: (m) => {
        this.queue.push(m)
        if (this.queue.length - this.head > maxQueued) {
          this.head++
          this.stats.unmatched++
        }
        this.compact()
        return { bodyless: false }
      },
      onMessage: () => {},
      onError,
      onLost: () => {},
    })
    this.resp = new Http1Reader('resp', this.maxBody, {
      onHead: (m) => {
        const s = m.head.status
        if (s >= 100 && s < 200 && s !== 101) return { bodyless: true }
        const req = this.take(m.timeNs)
        this.pairs.set(m, req)
        return { bodyless: req?.head.method === 'HEAD' }
      },
      onMessage: (m) => this.onResponse(m),
      onError,
      onLost: () => void (this.respLost = true),
    })
  }

  buffered(): number {
    return this.req.buffered() + this.resp.buffered()
  }

  protected onEvent(ev: DataEvent, out: TraceRecord[]): void {
    this.out = out
    const r = ev.fromClient ? this.req : this.resp
    r.push(ev.data, ev.size, ev.timeNs)
  }

  protected onEnd(_timeNs: bigint, out: TraceRecord[]): void {
    this.out = out
    this.req.end()
    this.resp.end()
    this.stats.unmatched += this.queue.length - this.head
  }

  protected reset(): void {
    this.queue = []
    this.head = 0
    this.pairs.clear()
    this.respLost = false
    this.req.reset()
    this.resp.reset()
  }

  /** The request a response starting at `t` answers. */
  private take(t: bigint): Message | null {
    if (this.respLost) {
      // Responses were lost with the boundary: answer the latest request sent before this response.
      let pick = -1
      for (let i = this.head; i < this.queue.length; i++) if (this.queue[i]!.timeNs <= t) pick = i
      this.respLost = false
      if (pick < 0) {
        this.stats.unmatched++
        return null
      }
      this.stats.unmatched += pick - this.head
      this.head = pick
    }
    const req = this.queue[this.head]
    if (!req || req.timeNs > t) {
      // A response before any request: its request was lost (capture began mid-connection).
      this.stats.unmatched++
      return null
    }
    this.head++
    this.compact()
    return req
  }

  private compact(): void {
    if (this.head > 64 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
  }

  private onResponse(m: Message): void {
    const s = m.head.status
    if (s >= 100 && s < 200 && s !== 101) return
    const req = this.pairs.get(m) ?? null
    this.pairs.delete(m)
    if (s === 101 || (req?.head.method === 'CONNECT' && s >= 200 && s < 300)) {
      // The connection now carries another protocol (WebSocket, h2c, a tunnel).
      this.req.kill()
      this.resp.kill()
    }
    if (!req) return
    this.out.push(row(req, m))
  }
}

function row(req: Message, resp: Message): TraceRecord {
  const ct = contentType(resp.head.contentType) || contentType(req.head.contentType)
  return {
    table: 'http_events',
    timeNs: req.timeNs,
    row: {
      major_version: resp.head.major,
      minor_version: resp.head.minor,
      content_type: ct,
      req_headers: req.head.headersJson,
      req_method: req.head.method,
      req_path: req.head.path,
      req_body: req.body.text(),
      req_body_size: req.bodySize,
      resp_headers: resp.head.headersJson,
      resp_status: resp.head.status,
      resp_message: resp.head.message,
      resp_body: resp.body.text(),
      resp_body_size: resp.bodySize,
      latency: ns(req.timeNs, resp.timeNs),
    },
  }
}
