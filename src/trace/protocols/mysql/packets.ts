/**
 * MySQL packets (3-byte little-endian length, 1-byte sequence id, payload) from one direction's
 * bytes, framed as ../framed.ts says.
 */
import { type FrameHead, FramedReader } from '../framed.ts'

export interface Packet {
  seq: number
  /** Declared payload length. */
  len: number
  /** The payload, or its first bytes when `whole` is false. */
  payload: Buffer
  whole: boolean
  timeNs: bigint
}

interface PacketHead extends FrameHead {
  seq: number
  len: number
}

export class PacketReader extends FramedReader<PacketHead, Packet> {
  protected head(b: Buffer): PacketHead | null {
    if (b.length < 4) return null
    const len = b[0]! | (b[1]! << 8) | (b[2]! << 16)
    return { seq: b[3]!, len, total: 4 + len, payloadAt: 4 }
  }

  protected message(h: PacketHead, payload: Buffer, whole: boolean, timeNs: bigint): Packet {
    return { seq: h.seq, len: h.len, payload, whole, timeNs }
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
