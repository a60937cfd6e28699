/**
 * Reads the loader's stdout: events as `bpf/events.h` lays them out (a 112-byte little-endian
 * header, then `cap` bytes). Chunks from the pipe split events anywhere; the decoder joins them.
 */

export const EventType = { data: 1, open: 2, close: 3, stats: 4, log: 5, hello: 6, http: 7 } as const
/** EV_HTTP's flags: `unmatched` (a response without its request), `compact` (--http1-rows compact). */
export const EventFlag = { ssl: 1, inSsl: 2, noSock: 4, replay: 8, unmatched: 1, compact: 2 } as const

/** The columns of an EV_HTTP row with the `compact` flag, in the order of its JSON array (bpf/events.h, FL_COMPACT). */
export const compactHttpColumns: readonly string[] = [
  'major_version',
  'minor_version',
  'content_type',
  'req_headers',
  'req_method',
  'req_path',
  'req_body',
  'req_body_size',
  'resp_headers',
  'resp_status',
  'resp_message',
  'resp_body',
  'resp_body_size',
  'latency',
  'time_',
]

const HEADER = 112
const EMPTY = Buffer.alloc(0)
/** The loader never sends more than MAX_CAP (16 KiB) after a header; anything larger is a broken stream. */
const MAX_PAYLOAD = 64 * 1024

const cString = (b: Buffer) => {
  const end = b.indexOf(0)
  return b.toString('utf8', 0, end < 0 ? b.length : end)
}

/**
 * One event, read from the stream's bytes: the fields every event needs are read at once, the
 * addresses, start time and comm (needed once per connection) only when asked — at 20k events/s a
 * string, two Buffer views and two BigInts per event were a third of the decoder's garbage.
 */
export class CaptureEvent {
  /** CLOCK_MONOTONIC ns. */
  readonly ts: bigint
  /**
   * The kernel's struct sock address (with tgid, a connection's identity); 0 with FL_NO_SK. As a
   * number of its low 53 bits (exact, and unique: kernel objects are never 2^53 bytes apart), so
   * a connection is found by number keys — a BigInt and its hex text per event cost more.
   */
  readonly sk: number
  /** The SSL session of TLS plaintext events (a user-space address, low 53 bits), else 0. */
  readonly ssl: number
  readonly tgid: number
  readonly fd: number
  /** Bytes the call moved; `data.length < size` means the rest was not captured. */
  readonly size: number
  readonly type: number
  /** 0 send, 1 receive. */
  readonly dir: number
  readonly flags: number
  /** EV_OPEN: 1 client (connect), 2 server (accept). */
  readonly role: number
  readonly family: number
  readonly protocol: number
  readonly lport: number
  readonly rport: number
  /** A view, not a copy: the pipe's chunks are fresh buffers, never reused by Node. */
  readonly data: Buffer

  constructor(
    private readonly buf: Buffer,
    private readonly at: number,
    cap: number,
  ) {
    this.ts = buf.readBigUInt64LE(at)
    this.sk = addr53(buf, at + 8)
    this.ssl = addr53(buf, at + 16)
    this.tgid = buf.readUInt32LE(at + 24)
    this.fd = buf.readUInt32LE(at + 28)
    this.size = buf.readUInt32LE(at + 32)
    this.type = buf[at + 40]!
    this.dir = buf[at + 41]!
    this.flags = buf[at + 42]!
    this.role = buf[at + 43]!
    this.family = buf.readUInt16LE(at + 44)
    this.protocol = buf.readUInt16LE(at + 46)
    this.lport = buf.readUInt16LE(at + 48)
    this.rport = buf.readUInt16LE(at + 50)
    this.data = buf.subarray(at + HEADER, at + HEADER + cap)
  }

  get laddr(): Buffer {
    return this.buf.subarray(this.at + 56, this.at + 72)
  }

  get raddr(): Buffer {
    return this.buf.subarray(this.at + 72, this.at + 88)
  }

  /** The process's start in clock ticks since boot (USER_HZ 100), as /proc/PID/stat field 22 says. */
  get startTicks(): bigint {
    return this.buf.readBigUInt64LE(this.at + 88) / 10_000_000n
  }

  get comm(): string {
    return cString(this.buf.subarray(this.at + 96, this.at + 112))
  }
}

/** A 64-bit address as the number of its low 53 bits. */
const addr53 = (b: Buffer, at: number) => (b.readUInt32LE(at + 4) & 0x1fffff) * 0x1_0000_0000 + b.readUInt32LE(at)

/** Splits a byte stream into events; keeps at most one partial event between chunks. */
export class EventDecoder {
  private pending: Buffer = EMPTY

  /** Feeds a chunk; returns the events it completed. Throws when the stream is not the loader's. */
  push(chunk: Buffer): CaptureEvent[] {
    const out: CaptureEvent[] = []
    let at = 0
    if (this.pending.length) {
      // The event that straddles two chunks is completed in a buffer of its own and the rest read
      // where it is: joining whole 64 KiB chunks copied every byte once more (6 % of the agent).
      let p = this.pending
      const fill = (n: number) => {
        const take = Math.min(n - p.length, chunk.length - at)
        if (take > 0) {
          p = Buffer.concat([p, chunk.subarray(at, at + take)])
          at += take
        }
        return p.length >= n
      }
      if (!fill(HEADER) || !fill(HEADER + payload(p, 0))) {
        this.pending = p
        return out
      }
      out.push(new CaptureEvent(p, 0, payload(p, 0)))
    }
    while (chunk.length - at >= HEADER) {
      const cap = payload(chunk, at)
      if (chunk.length - at < HEADER + cap) break
      out.push(new CaptureEvent(chunk, at, cap))
      at += HEADER + cap
    }
    // A view: the pipe's chunks are fresh buffers, never reused by Node.
    this.pending = at === chunk.length ? EMPTY : chunk.subarray(at)
    return out
  }
}

/** The payload length of the event at `at`. */
function payload(b: Buffer, at: number): number {
  const cap = b.readUInt32LE(at + 36)
  if (cap > MAX_PAYLOAD) throw new Error(`capture stream out of step: an event says ${cap} bytes follow`)
  return cap
}

/** An address as text: dotted IPv4 (IPv4-mapped IPv6 included), else compressed IPv6. */
export function formatAddr(family: number, raw: Buffer): string {
  if (family === 2) return `${raw[0]}.${raw[1]}.${raw[2]}.${raw[3]}`
  if (family !== 10) return ''
  if (raw.subarray(0, 10).every((b) => b === 0) && raw[10] === 0xff && raw[11] === 0xff)
    return `${raw[12]}.${raw[13]}.${raw[14]}.${raw[15]}`
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
