/**
 * One direction of a length-framed protocol (MySQL packets, PostgreSQL messages) read from a
 * connection's events: messages are cut at the lengths their heads declare. A message larger than
 * the buffer cap is delivered early with its first bytes and the rest skipped by counting, as is
 * one a capture gap falls inside; a gap running past a message's end, or bytes that cannot be a
 * head, lose the framing until `resync` recognises the start of a message in a later event.
 */
import { ByteQueue, passOver } from './common.ts'

/** Payload bytes kept of a message too large to hold: enough for a statement prefix or an error. */
const keptOfBig = 4096

/** Where a message at the front of the bytes ends and its payload starts. */
export interface FrameHead {
  /** Bytes of the whole message, head included. */
  total: number
  payloadAt: number
}

export abstract class FramedReader<H extends FrameHead, M> {
  private q = new ByteQueue()
  private skip = 0
  /** Framing was lost; `resync` decides whether an event's first bytes start a message again. */
  lost = false

  constructor(
    private readonly maxBuffer: number,
    private readonly resync: (data: Buffer) => boolean,
  ) {}

  /** The head at the front of `b`: null when more bytes are needed to read it, 'junk' when none can start there. */
  protected abstract head(b: Buffer): H | null | 'junk'

  /** The message of a head, its payload (or the payload's first bytes when `whole` is false) and time. */
  protected abstract message(head: H, payload: Buffer, whole: boolean, timeNs: bigint): M

  get buffered(): number {
    return this.q.length
  }

  reset(): void {
    this.q.clear()
    this.skip = 0
    this.lost = false
  }

  /** Feeds one event's bytes (`size` of them sent, `data` captured); false when the framing was lost here. */
  push(data: Buffer, size: number, timeNs: bigint, on: (m: M) => void): boolean {
    let gap = size - data.length
    if (this.skip > 0) ({ skip: this.skip, data, gap } = passOver(this.skip, data, gap))
    if (this.lost) {
      if (data.length === 0 || !this.resync(data)) return true
      this.lost = false
    }
    const q = this.q
    q.append(data, timeNs)
    let junk = false
    for (;;) {
      const b = q.bytes()
      const h = this.head(b)
      if (h === null) break
      if (h === 'junk') {
        junk = true
        break
      }
      const time = q.timeAt(0)
      const { total, payloadAt } = h
      if (b.length >= total) {
        on(this.message(h, Buffer.from(b.subarray(Math.min(payloadAt, total), total)), true, time))
        q.consume(total)
        continue
      }
      if (total > this.maxBuffer || gap > 0) {
        // Too large to hold, or cut by a capture gap: deliver its beginning, count past the rest
        // (a gap running past its end loses the framing below).
        const rest = total - b.length
        on(this.message(h, Buffer.from(b.subarray(payloadAt, payloadAt + keptOfBig)), false, time))
        q.clear()
        const g = Math.min(rest, gap)
        gap -= g
        this.skip = rest - g
      }
      break
    }
    if (junk || gap > 0) {
      q.clear()
      this.skip = 0
      this.lost = true
      return false
    }
    return true
  }
}
