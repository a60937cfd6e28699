/**
 * Pieces every protocol parser shares: options, counters, a bounded byte queue that remembers
 * which event each byte came from, and text helpers for the string columns.
 */
import type { DataEvent, Protocol, StreamParser, TraceRecord } from '../types.ts'

export interface ParserOptions {
  /** Bytes of each body kept in the row; Pixie's `max_body_bytes` is 512. */
  maxBodyBytes?: number
  /**
   * Bytes one direction of one connection may hold while waiting for a message to complete.
   * 64 KiB: a MySQL row or a RESP bulk string larger than this is skipped by counting, not held.
   */
  maxBufferBytes?: number
}

export const defaults = { maxBodyBytes: 512, maxBufferBytes: 64 * 1024 } as const

export type Stats = { records: number; errors: number; unmatched: number }

/** A StreamParser that also says how many bytes it holds (fuzz tests check the bound). */
export interface ProtocolParser extends StreamParser {
  buffered(): number
  /** Exceptions the guard caught (a parser bug, never bad input handled on purpose); tests expect 0. */
  readonly faults: number
}

/**
 * The guard every parser's public methods go through: a bug or an input nobody foresaw costs one
 * connection's state (counted as an error), never the agent.
 */
export abstract class GuardedParser implements ProtocolParser {
  abstract readonly protocol: Protocol
  readonly stats: Stats = { records: 0, errors: 0, unmatched: 0 }
  faults = 0
  protected readonly maxBody: number
  protected readonly maxBuffer: number

  constructor(opts: ParserOptions = {}) {
    this.maxBody = Math.max(0, opts.maxBodyBytes ?? defaults.maxBodyBytes)
    this.maxBuffer = Math.max(1024, opts.maxBufferBytes ?? defaults.maxBufferBytes)
  }

  push(ev: DataEvent): TraceRecord[] {
    const out: TraceRecord[] = []
    try {
      this.onEvent(ev, out)
    } catch {
      this.faults++
      this.stats.errors++
      this.reset()
    }
    this.stats.records += out.length
    return out
  }

  end(timeNs: bigint): TraceRecord[] {
    const out: TraceRecord[] = []
    try {
      this.onEnd(timeNs, out)
    } catch {
      this.faults++
      this.stats.errors++
    }
    this.reset()
    this.stats.records += out.length
    return out
  }

  abstract buffered(): number
  protected abstract onEvent(ev: DataEvent, out: TraceRecord[]): void
  protected abstract onEnd(timeNs: bigint, out: TraceRecord[]): void
  /** Forgets all state of the connection (after an internal error or at the end). */
  protected abstract reset(): void
}

/**
 * Passes over `skip` bytes of a message whose rest is not kept (past the buffer bound): first from
 * the captured `data`, then from `gap`, the bytes sent but not captured. What is left of each, and
 * how many bytes were passed over.
 */
export function passOver(skip: number, data: Buffer, gap: number): { skip: number; data: Buffer; gap: number; passed: number } {
  const n = Math.min(skip, data.length)
  const g = Math.min(skip - n, gap)
  return { skip: skip - n - g, data: data.subarray(n), gap: gap - g, passed: n + g }
}

/**
 * The bytes of one direction not yet parsed, with the time of the event each byte arrived in, so a
 * message's time is its first byte's even when it started in an earlier event.
 */
export class ByteQueue {
  /** Storage with room to grow: bytes held are store[start, end). Doubling keeps appends O(1) amortised. */
  private store: Buffer = Buffer.alloc(0)
  private start = 0
  private end = 0
  /** Stream offset of the first byte held. */
  private base = 0
  /** Events still (partly) held: stream offset just past each one's bytes, and its time. */
  private segs: { end: number; time: bigint }[] = []
  private segStart = 0

  get length(): number {
    return this.end - this.start
  }

  /** The bytes held (a view, valid until the next append or consume). */
  bytes(): Buffer {
    return this.store.subarray(this.start, this.end)
  }

  append(data: Buffer, timeNs: bigint): void {
    if (data.length === 0) return
    const len = this.length
    if (this.end + data.length > this.store.length) {
      // Copy (capture may reuse its buffers once push() returns) into a store twice the size needed.
      const next = Buffer.allocUnsafe(Math.max(256, (len + data.length) * 2))
      this.store.copy(next, 0, this.start, this.end)
      this.store = next
      this.start = 0
      this.end = len
    }
    data.copy(this.store, this.end)
    this.end += data.length
    this.segs.push({ end: this.base + this.length, time: timeNs })
  }

  /** Time of the event that brought the byte at `offset` (0 = the first byte held). */
  timeAt(offset = 0): bigint {
    const abs = this.base + offset
    for (let i = this.segStart; i < this.segs.length; i++) {
      const s = this.segs[i]!
      if (s.end > abs) return s.time
    }
    return this.segs[this.segs.length - 1]?.time ?? 0n
  }

  consume(n: number): void {
    n = Math.min(n, this.length)
    this.start += n
    this.base += n
    while (this.segStart < this.segs.length && this.segs[this.segStart]!.end <= this.base) this.segStart++
    // Drop the consumed prefix of the list now and then (an index, not shift(): shift is O(n)).
    if (this.segStart > 64) {
      this.segs = this.segs.slice(this.segStart)
      this.segStart = 0
    }
    if (this.length === 0) {
      this.start = this.end = 0
      this.segs = []
      this.segStart = 0
      // Give back a store grown by one large message.
      if (this.store.length > 16384) this.store = Buffer.alloc(0)
    }
  }

  clear(): void {
    this.consume(this.length)
  }
}

/**
 * A body or value as a column string: UTF-8 text as it is; bytes that are not text (protobuf,
 * gzip) escaped as \xNN so the column stays readable and valid UTF-8.
 */
export function bodyText(b: Buffer): string {
  if (b.length === 0) return ''
  // One pass over the bytes, one decode: control bytes mean binary; ASCII is text as it is.
  let ascii = true
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return escaped(b)
    if (c >= 0x80) ascii = false
  }
  if (ascii) return b.toString('latin1')
  // A UTF-8 sequence cut by truncation is fine (one U+FFFD); anything else invalid is binary.
  const s = b.toString('utf8')
  const bad = s.indexOf('\ufffd')
  return bad < 0 || s.indexOf('\ufffd', bad + 1) < 0 ? s : escaped(b)
}

function escaped(b: Buffer): string {
  let s = ''
  for (const c of b)
    s += c >= 0x20 && c < 0x7f && c !== 0x5c ? String.fromCharCode(c) : c === 0x5c ? '\\\\' : '\\x' + c.toString(16).padStart(2, '0')
  return s
}

/** Keeps the first `max` bytes given to it across calls (body prefixes). */
export class Prefix {
  private parts: Buffer[] = []
  private kept = 0
  constructor(private readonly max: number) {}
  add(b: Buffer): void {
    if (this.kept >= this.max || b.length === 0) return
    const take = b.subarray(0, this.max - this.kept)
    this.parts.push(Buffer.from(take))
    this.kept += take.length
  }
  get size(): number {
    return this.kept
  }
  text(): string {
    return bodyText(this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts))
  }
}

export const ns = (a: bigint, b: bigint): number => (b > a ? Number(b - a) : 0)
