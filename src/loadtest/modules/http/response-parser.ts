/** The HTTP/1.x response parser of `kiln run`'s transport (transport.ts). */
import type { IncomingHttpHeaders } from 'node:http'

/** Response headers as Node names them: lower-case keys, `set-cookie` a list, others joined by ', '. */
export type RawHeaders = IncomingHttpHeaders

export const EMPTY = Buffer.alloc(0)

/**
 * An HTTP/1.x response parser fed chunk by chunk: status line, headers, then a body delimited
 * by Content-Length, chunked encoding, or the end of the connection. 1xx responses are skipped.
 */
export class ResponseParser {
  status = 0
  statusText = ''
  headers: RawHeaders = {}
  headersDone = false
  keepAlive = true
  private buf: Buffer = EMPTY
  private chunks: Buffer[] = []
  private remaining = -1 // body bytes left (Content-Length), -1 unknown
  private chunked = false
  private chunkLeft = 0 // bytes left in the current chunk (+2 for its CRLF), 0 = at a size line
  private untilClose = false
  private done = false

  constructor(private readonly noBody: boolean) {}

  /** Feeds bytes; true when the response is complete. Throws on malformed input. */
  push(chunk: Buffer): boolean {
    if (this.done) return true
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk
    while (!this.headersDone) {
      const end = this.buf.indexOf('\r\n\r\n')
      if (end < 0) {
        if (this.buf.length > 1 << 20) throw new Error('response headers over 1 MiB')
        return false
      }
      const block = this.buf.toString('latin1', 0, end)
      this.buf = this.buf.subarray(end + 4)
      this.head(block)
    }
    return this.bodyBytes()
  }

  /** Whether the body runs until the server closes the connection. */
  endsAtClose(): boolean {
    if (this.untilClose) this.done = true
    return this.untilClose
  }

  body(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0]! : this.chunks.length ? Buffer.concat(this.chunks) : EMPTY
  }

  private head(block: string): void {
    let h: Head | null | undefined = heads.get(block)
    if (h === undefined) {
      h = parseHead(block)
      if (h === null) return // 100 Continue, 103 Early Hints: the real one follows
      if (heads.size >= MAX_HEADS) heads.clear()
      heads.set(block, h)
    }
    this.status = h.status
    this.statusText = h.statusText
    this.headers = h.headers
    this.headersDone = true
    this.keepAlive = h.keepAlive
    if (this.noBody || h.status === 204 || h.status === 304) this.remaining = 0
    else if (h.chunked) this.chunked = true
    else if (h.length !== null) {
      if (Number.isNaN(h.length)) throw new Error(`bad Content-Length '${String(h.headers['content-length'])}'`)
      this.remaining = h.length
    } else {
      this.untilClose = true
      this.keepAlive = false
    }
  }

  private bodyBytes(): boolean {
    if (this.untilClose) {
      if (this.buf.length) this.chunks.push(this.buf)
      this.buf = EMPTY
      return false
    }
    if (!this.chunked) {
      const take = Math.min(this.remaining, this.buf.length)
      if (take) this.chunks.push(this.buf.subarray(0, take))
      this.remaining -= take
      this.buf = EMPTY
      return (this.done = this.remaining === 0)
    }
    for (;;) {
      if (this.chunkLeft > 0) {
        const take = Math.min(this.chunkLeft, this.buf.length)
        // The chunk's data, then its trailing CRLF (the last 2 of chunkLeft), which is dropped.
        const data = Math.min(take, Math.max(0, this.chunkLeft - 2))
        if (data) this.chunks.push(this.buf.subarray(0, data))
        this.chunkLeft -= take
        this.buf = this.buf.subarray(take)
        if (this.chunkLeft > 0) return false
        continue
      }
      const nl = this.buf.indexOf('\r\n')
      if (nl < 0) {
        if (this.buf.length > 4096) throw new Error('chunk size line too long')
        return false
      }
      const line = this.buf.toString('latin1', 0, nl)
      const size = parseInt(line, 16)
      if (!/^[0-9a-fA-F]+/.test(line) || !Number.isSafeInteger(size)) throw new Error(`bad chunk size '${line.slice(0, 40)}'`)
      if (size === 0) {
        // Trailers end with an empty line.
        const end = this.buf.indexOf('\r\n\r\n', nl)
        if (end < 0 && this.buf.indexOf('\r\n', nl + 2) !== nl + 2) return false
        this.buf = EMPTY
        return (this.done = true)
      }
      this.buf = this.buf.subarray(nl + 2)
      this.chunkLeft = size + 2
    }
  }
}

/** What a response head says, parsed once per distinct head text. */
interface Head {
  status: number
  statusText: string
  /** Frozen: every response with this head shares it. */
  headers: RawHeaders
  keepAlive: boolean
  chunked: boolean
  /** Content-Length: null when absent, NaN when not a length (an error only where the body needs it). */
  length: number | null
}

/**
 * Heads by their text, per thread. A server sends the same head again and again (its Date changes
 * once a second), so most responses are a Map lookup here instead of ~3 µs of splitting, matching
 * and lower-casing. Heads that differ every time (a request id, a fresh cookie) cost one lookup.
 */
const heads = new Map<string, Head>()
const MAX_HEADS = 256

/** Parses a status line and header block; null for a 1xx interim response. Throws on malformed input. */
function parseHead(block: string): Head | null {
  const lines = block.split('\r\n')
  const m = /^HTTP\/(\d)\.(\d) (\d{3})(?: (.*))?$/.exec(lines[0] ?? '')
  if (!m) throw new Error(`bad status line '${(lines[0] ?? '').slice(0, 80)}'`)
  const status = Number(m[3])
  const headers: RawHeaders = {}
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!
    const c = l.indexOf(':')
    if (c <= 0) throw new Error(`bad header line '${l.slice(0, 80)}'`)
    const k = l.slice(0, c).trim().toLowerCase()
    const v = l.slice(c + 1).trim()
    if (k === 'set-cookie') (headers['set-cookie'] ??= []).push(v)
    else {
      const had = headers[k]
      headers[k] = had === undefined ? v : `${had as string}, ${v}`
    }
  }
  if (status >= 100 && status < 200) return null
  const conn = String(headers['connection'] ?? '').toLowerCase()
  const http10 = m[1] === '1' && m[2] === '0'
  const te = String(headers['transfer-encoding'] ?? '').toLowerCase()
  let length: number | null = null
  if (headers['content-length'] !== undefined) {
    const n = Number(String(headers['content-length']).split(',')[0])
    length = Number.isSafeInteger(n) && n >= 0 ? n : Number.NaN
  }
  if (headers['set-cookie']) Object.freeze(headers['set-cookie'])
  return {
    status,
    statusText: `${status} ${m[4] ?? ''}`.trimEnd(),
    headers: Object.freeze(headers),
    keepAlive: http10 ? conn.includes('keep-alive') : !conn.includes('close'),
    chunked: te.includes('chunked'),
    length,
  }
}
