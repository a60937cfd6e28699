/**
 * Reads the loader's stdout: events as `bpf/events.h` lays them out (a 112-byte little-endian
 * header, then `cap` bytes). Chunks from the pipe split events anywhere; the decoder joins them.
 */

export const EventType = { data: 1, open: 2, close: 3, stats: 4, log: 5, hello: 6 } as const
export const EventFlag = { ssl: 1, inSsl: 2, noSock: 4 } as const

const HEADER = 112
const EMPTY = Buffer.alloc(0)
/** The loader never sends more than MAX_CAP (16 KiB) after a header; anything larger is a broken stream. */
const MAX_PAYLOAD = 64 * 1024

export interface CaptureEvent {
  /** CLOCK_MONOTONIC ns. */
  ts: bigint
  /** The kernel's struct sock address (with tgid, a connection's identity); 0 with FL_NO_SK. */
  sk: bigint
  /** The SSL session of TLS plaintext events, else 0. */
  ssl: bigint
  tgid: number
  fd: number
  /** Bytes the call moved; `data.length < size` means the rest was not captured. */
  size: number
  type: number
  /** 0 send, 1 receive. */
  dir: number
  flags: number
  /** EV_OPEN: 1 client (connect), 2 server (accept). */
  role: number
  family: number
  protocol: number
  lport: number
  rport: number
  laddr: Buffer
  raddr: Buffer
  data: Buffer
  /** The process's start in clock ticks since boot (USER_HZ 100), as /proc/PID/stat field 22 says. */
  startTicks: bigint
  comm: string
}

const cString = (b: Buffer) => {
  const end = b.indexOf(0)
  return b.toString('utf8', 0, end < 0 ? b.length : end)
}

/** Splits a byte stream into events; keeps at most one partial event between chunks. */
export class EventDecoder {
  private pending: Buffer = Buffer.alloc(0)

  /** Feeds a chunk; returns the events it completed. Throws when the stream is not the loader's. */
  push(chunk: Buffer): CaptureEvent[] {
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk
    const out: CaptureEvent[] = []
    let at = 0
    while (buf.length - at >= HEADER) {
      const cap = buf.readUInt32LE(at + 36)
      if (cap > MAX_PAYLOAD) throw new Error(`capture stream out of step: an event says ${cap} bytes follow`)
      if (buf.length - at < HEADER + cap) break
      out.push({
        ts: buf.readBigUInt64LE(at),
        sk: buf.readBigUInt64LE(at + 8),
        ssl: buf.readBigUInt64LE(at + 16),
        tgid: buf.readUInt32LE(at + 24),
        fd: buf.readUInt32LE(at + 28),
        size: buf.readUInt32LE(at + 32),
        type: buf[at + 40]!,
        dir: buf[at + 41]!,
        flags: buf[at + 42]!,
        role: buf[at + 43]!,
        family: buf.readUInt16LE(at + 44),
        protocol: buf.readUInt16LE(at + 46),
        lport: buf.readUInt16LE(at + 48),
        rport: buf.readUInt16LE(at + 50),
        laddr: buf.subarray(at + 56, at + 72),
        raddr: buf.subarray(at + 72, at + 88),
        startTicks: buf.readBigUInt64LE(at + 88) / 10_000_000n,
        comm: cString(buf.subarray(at + 96, at + 112)),
        // A view, not a copy: the pipe's chunks are fresh buffers, never reused by Node.
        data: buf.subarray(at + HEADER, at + HEADER + cap),
      })
      at += HEADER + cap
    }
    this.pending = at === buf.length ? EMPTY : Buffer.from(buf.subarray(at))
    return out
  }
}

/** An address as text: dotted IPv4 (IPv4-mapped IPv6 included), else compressed IPv6. */
export function formatAddr(family: number, raw: Buffer): string {
  if (family === 2) return `${raw[0]}.${raw[1]}.${raw[2]}.${raw[3]}`
  if (family !== 10) return ''
  if (raw.subarray(0, 10).every((b) => b === 0) && raw[10] === 0xff && raw[11] === 0xff) return `${raw[12]}.${raw[13]}.${raw[14]}.${raw[15]}`
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(raw.readUInt16BE(i).toString(16))
  // The longest run of zero groups (two or more) becomes '::' (RFC 5952).
  let best = -1
  let len = 0
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === '0') j++
    if (j - i > len && j - i > 1) [best, len] = [i, j - i]
    i = j
  }
  if (best < 0) return groups.join(':')
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + len).join(':')}`
}
