/**
 * PostgreSQL messages (protocol 3.0): a type byte, an int32 length that counts itself, a payload;
 * plus the untyped messages that open a connection (StartupMessage, SSLRequest, CancelRequest).
 * Framed as ../framed.ts says (a wide DataRow or COPY data is delivered early with its first bytes).
 */
import { type FrameHead, FramedReader } from '../framed.ts'

export interface PgMessage {
  /** The type letter; '' for an untyped startup-phase message. */
  type: string
  len: number
  payload: Buffer
  whole: boolean
  timeNs: bigint
}

/** Startup-phase request codes (the int32 after the length). */
export const startupCodes = new Set([196608, 80877103, 80877104, 80877102])

interface MessageHead extends FrameHead {
  type: string
  len: number
}

export class MessageReader extends FramedReader<MessageHead, PgMessage> {
  constructor(
    maxBuffer: number,
    /** Length of an untyped message at the front of `b`, 1 for a one-byte SSL answer, or 0 when the front is typed. */
    private readonly untyped: (b: Buffer) => number,
    resync: (d: Buffer) => boolean,
  ) {
    super(maxBuffer, resync)
  }

  protected head(b: Buffer): MessageHead | null | 'junk' {
    if (b.length === 0) return null
    const u = this.untyped(b)
    if (u === 1) return { type: String.fromCharCode(b[0]!), len: 0, total: 1, payloadAt: 1 }
    if (b.length < (u ? 4 : 5)) return null
    const len = u ? b.readUInt32BE(0) : b.readUInt32BE(1)
    // Not a message boundary: the stream is junk here.
    if (len < 4 || len > 0x40000000) return 'junk'
    // An untyped message keeps its request code (protocol version, SSLRequest …) in the payload.
    return { type: u ? '' : String.fromCharCode(b[0]!), len, total: (u ? 0 : 1) + len, payloadAt: u ? 4 : 5 }
  }

  protected message(h: MessageHead, payload: Buffer, whole: boolean, timeNs: bigint): PgMessage {
    return { type: h.type, len: h.len, payload, whole, timeNs }
  }
}

/** A NUL-terminated string at `o`. */
export function cstr(b: Buffer, o: number): { s: string; next: number } {
  const nul = b.indexOf(0, o)
  const end = nul < 0 ? b.length : nul
  return { s: b.toString('utf8', o, end), next: end + 1 }
}

/** ErrorResponse / NoticeResponse fields as "ERROR 42P01: message". */
export function errorText(p: Buffer): string {
  const f: Record<string, string> = {}
  for (let o = 0; o < p.length && p[o] !== 0; ) {
    const code = String.fromCharCode(p[o]!)
    const v = cstr(p, o + 1)
    f[code] = v.s
    o = v.next
  }
  return `${f.V ?? f.S ?? 'ERROR'} ${f.C ?? ''}: ${f.M ?? ''}`.replace(' : ', ': ')
}

/** RowDescription: the column names. */
export function columnNames(p: Buffer): string[] {
  if (p.length < 2) return []
  const n = p.readUInt16BE(0)
  const names: string[] = []
  let o = 2
  for (let i = 0; i < n && o < p.length; i++) {
    const c = cstr(p, o)
    names.push(c.s)
    o = c.next + 18
  }
  return names
}

/** DataRow: the values as text (binary ones as hex), NULL as "[NULL]". */
export function rowValues(p: Buffer, max: number): string[] {
  if (p.length < 2) return []
  const n = p.readUInt16BE(0)
  const out: string[] = []
  let o = 2
  for (let i = 0; i < n && o + 4 <= p.length; i++) {
    const len = p.readInt32BE(o)
    o += 4
    if (len < 0) {
      out.push('[NULL]')
      continue
    }
    out.push(p.toString('utf8', o, Math.min(p.length, o + Math.min(len, max))))
    o += len
  }
  return out
}

/** Bind: portal, statement and parameters (text as is; binary decoded by size or shown as hex). */
export function bindMessage(p: Buffer, oids: number[], max: number): { portal: string; statement: string; params: string[] } | null {
  try {
    const portal = cstr(p, 0)
    const stmt = cstr(p, portal.next)
    let o = stmt.next
    const nf = p.readUInt16BE(o)
    o += 2
    const formats: number[] = []
    for (let i = 0; i < nf; i++) formats.push(p.readUInt16BE(o + 2 * i))
    o += 2 * nf
    const np = p.readUInt16BE(o)
    o += 2
    const params: string[] = []
    for (let i = 0; i < np; i++) {
      const len = p.readInt32BE(o)
      o += 4
      if (len < 0) {
        params.push('[NULL]')
        continue
      }
      if (o + len > p.length) throw new RangeError()
      const v = p.subarray(o, o + len)
      o += len
      const fmt = nf === 0 ? 0 : nf === 1 ? formats[0]! : (formats[i] ?? 0)
      params.push(fmt === 0 ? v.subarray(0, max).toString('utf8') : binary(v, oids[i] ?? 0))
    }
    return { portal: portal.s, statement: stmt.s, params }
  } catch (e) {
    if (e instanceof RangeError) return null
    throw e
  }
}

/** A binary parameter: int2/int4/int8/float4/float8/bool by type OID, or by size when the OID is unknown. */
function binary(v: Buffer, oid: number): string {
  if (oid === 16 && v.length === 1) return v[0] ? 'true' : 'false'
  if (oid === 700 && v.length === 4) return String(v.readFloatBE(0))
  if (oid === 701 && v.length === 8) return String(v.readDoubleBE(0))
  if (v.length === 2 && (oid === 21 || oid === 0)) return String(v.readInt16BE(0))
  if (v.length === 4 && (oid === 23 || oid === 0)) return String(v.readInt32BE(0))
  if (v.length === 8 && (oid === 20 || oid === 0)) return String(v.readBigInt64BE(0))
  return '\\x' + v.subarray(0, 64).toString('hex')
}
