/**
 * MySQL packets (3-byte little-endian length, 1-byte sequence id, payload) from one direction's
 * bytes. A packet larger than the buffer cap is delivered early with the payload's first bytes and
 * the rest skipped by counting, as is a capture gap that falls inside one packet.
 */
import { ByteQueue } from '../common.ts'

export interface Packet {
  seq: number
  /** Declared payload length. */
  len: number
  /** The payload, or its first bytes when `whole` is false. */
  payload: Buffer
  whole: boolean
  timeNs: bigint
}

/** Payload bytes kept of a packet too large to hold: enough for a statement prefix or an error. */
const keptOfBig = 4096

export class PacketReader {
  private q = new ByteQueue()
  private skip = 0
  /** Framing was lost; `resync` decides whether an event's first bytes start a packet again. */
  lost = false

  constructor(
    private readonly maxBuffer: number,
    private readonly resync: (data: Buffer) => boolean,
  ) {}

  get buffered(): number {
    return this.q.length
  }

  reset(): void {
    this.q.clear()
    this.skip = 0
    this.lost = false
  }

  /** Feeds one event's bytes; calls `onPacket` for each packet found. Returns false if framing was lost here. */
  push(data: Buffer, size: number, timeNs: bigint, onPacket: (p: Packet) => void): boolean {
    let gap = size - data.length
    if (this.skip > 0) {
      const n = Math.min(this.skip, data.length)
      this.skip -= n
      data = data.subarray(n)
      const g = Math.min(this.skip, gap)
      this.skip -= g
      gap -= g
    }
    if (this.lost) {
      if (data.length === 0 || !this.resync(data)) return true
      this.lost = false
    }
    const q = this.q
    q.append(data, timeNs)
    for (;;) {
      const b = q.bytes()
      if (b.length < 4) break
      const len = b[0]! | (b[1]! << 8) | (b[2]! << 16)
      const seq = b[3]!
      const time = q.timeAt(0)
      if (b.length >= 4 + len) {
        onPacket({ seq, len, payload: Buffer.from(b.subarray(4, 4 + len)), whole: true, timeNs: time })
        q.consume(4 + len)
        continue
      }
      if (4 + len > this.maxBuffer || gap > 0) {
        // Too large to hold, or cut by a capture gap: deliver its beginning, count past the rest
        // (a gap running past its end loses the framing below).
        const rest = 4 + len - b.length
        onPacket({ seq, len, payload: Buffer.from(b.subarray(4, 4 + keptOfBig)), whole: false, timeNs: time })
        q.clear()
        const g = Math.min(rest, gap)
        gap -= g
        this.skip = rest - g
      }
      break
    }
    if (gap > 0) {
      this.q.clear()
      this.skip = 0
      this.lost = true
      return false
    }
    return true
  }
}

/** Reads a length-encoded integer at `o`: its value and the offset after it, or null. */
export function lenenc(b: Buffer, o: number): { v: number; next: number } | null {
  const c = b[o]
  if (c === undefined) return null
  if (c < 0xfb) return { v: c, next: o + 1 }
  if (c === 0xfc && o + 3 <= b.length) return { v: b.readUInt16LE(o + 1), next: o + 3 }
  if (c === 0xfd && o + 4 <= b.length) return { v: b.readUIntLE(o + 1, 3), next: o + 4 }
  if (c === 0xfe && o + 9 <= b.length) return { v: Number(b.readBigUInt64LE(o + 1)), next: o + 9 }
  return null
}

/** A length-encoded string at `o`. */
export function lenencStr(b: Buffer, o: number): { s: Buffer; next: number } | null {
  const n = lenenc(b, o)
  if (!n || n.next + n.v > b.length) return null
  return { s: b.subarray(n.next, n.next + n.v), next: n.next + n.v }
}
