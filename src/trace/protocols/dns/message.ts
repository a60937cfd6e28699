/** DNS messages (RFC 1035 §4): header, questions and resource records, names with compression. */

export interface DnsHeader {
  txid: number
  qr: number
  opcode: number
  aa: number
  tc: number
  rd: number
  ra: number
  ad: number
  cd: number
  rcode: number
  num_queries: number
  num_answers: number
  num_auth: number
  num_addl: number
}

export interface DnsQuestion {
  name: string
  type: string
}

export interface DnsRecord {
  name: string
  type: string
  addr?: string
  cname?: string
  data?: string
}

export interface DnsMessage {
  header: DnsHeader
  questions: DnsQuestion[]
  answers: DnsRecord[]
  /** Bytes the message occupied (for UDP the whole datagram; trailing bytes mean junk). */
  size: number
  /** The message ended early (a capture gap): questions and answers are those before the cut. */
  partial: boolean
}

const typeNames: Record<number, string> = {
  1: 'A',
  2: 'NS',
  5: 'CNAME',
  6: 'SOA',
  12: 'PTR',
  13: 'HINFO',
  15: 'MX',
  16: 'TXT',
  28: 'AAAA',
  33: 'SRV',
  35: 'NAPTR',
  39: 'DNAME',
  41: 'OPT',
  43: 'DS',
  46: 'RRSIG',
  47: 'NSEC',
  48: 'DNSKEY',
  64: 'SVCB',
  65: 'HTTPS',
  99: 'SPF',
  251: 'IXFR',
  252: 'AXFR',
  255: 'ANY',
  257: 'CAA',
}

export const typeName = (t: number): string => typeNames[t] ?? `TYPE${t}`

/** 128 pointer jumps: a valid name has at most 127 labels, so more means a loop. */
const maxJumps = 128
/** RFC 1035 §2.3.4: 255 octets per name. */
const maxName = 255
/** Records decoded per section; the counts in the header still say how many there were. */
const maxRecords = 64

class Bad extends Error {}

function u16(b: Buffer, o: number): number {
  if (o + 2 > b.length) throw new Bad()
  return b.readUInt16BE(o)
}

/** Reads a possibly compressed name at `o`: the name and the offset just past it in the message. */
export function readName(b: Buffer, o: number): { name: string; next: number } {
  const labels: string[] = []
  let next = -1
  let jumps = 0
  let len = 0
  for (;;) {
    if (o >= b.length) throw new Bad()
    const n = b[o]!
    if (n === 0) {
      if (next < 0) next = o + 1
      break
    }
    const kind = n & 0xc0
    if (kind === 0xc0) {
      if (o + 2 > b.length || ++jumps > maxJumps) throw new Bad()
      if (next < 0) next = o + 2
      o = ((n & 0x3f) << 8) | b[o + 1]!
      continue
    }
    if (kind !== 0) throw new Bad()
    if (o + 1 + n > b.length) throw new Bad()
    len += n + 1
    if (len > maxName) throw new Bad()
    labels.push(b.toString('latin1', o + 1, o + 1 + n))
    o += 1 + n
  }
  return { name: labels.join('.'), next }
}

function header(b: Buffer): DnsHeader {
  if (b.length < 12) throw new Bad()
  const f = b.readUInt16BE(2)
  return {
    txid: b.readUInt16BE(0),
    qr: f >> 15,
    opcode: (f >> 11) & 0xf,
    aa: (f >> 10) & 1,
    tc: (f >> 9) & 1,
    rd: (f >> 8) & 1,
    ra: (f >> 7) & 1,
    ad: (f >> 5) & 1,
    cd: (f >> 4) & 1,
    rcode: f & 0xf,
    num_queries: b.readUInt16BE(4),
    num_answers: b.readUInt16BE(6),
    num_auth: b.readUInt16BE(8),
    num_addl: b.readUInt16BE(10),
  }
}

function ipv6(r: Buffer): string {
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(r.readUInt16BE(i).toString(16))
  // The longest run of zero groups (two or more) becomes "::" (RFC 5952).
  let best = -1
  let bestLen = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === '0') j++
    if (j - i > bestLen) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  if (best < 0) return groups.join(':')
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`
}

function rdata(b: Buffer, type: number, o: number, len: number, rec: DnsRecord): void {
  const r = b.subarray(o, o + len)
  if (type === 1 && len === 4) rec.addr = `${r[0]}.${r[1]}.${r[2]}.${r[3]}`
  else if (type === 28 && len === 16) rec.addr = ipv6(r)
  else if (type === 5 || type === 2 || type === 12 || type === 39) {
    const n = readName(b, o).name
    if (type === 5) rec.cname = n
    else rec.data = n
  } else if (type === 15 && len >= 3) rec.data = `${r.readUInt16BE(0)} ${readName(b, o + 2).name}`
  else if (type === 16) {
    const parts: string[] = []
    for (let i = 0; i < r.length; ) {
      const n = r[i]!
      parts.push(r.toString('utf8', i + 1, Math.min(r.length, i + 1 + n)))
      i += 1 + n
    }
    rec.data = parts.join('')
  } else if (type === 33 && len >= 7) rec.data = `${r.readUInt16BE(0)} ${r.readUInt16BE(2)} ${r.readUInt16BE(4)} ${readName(b, o + 6).name}`
  else rec.data = r.toString('hex')
}

/**
 * Decodes one message, or null when the bytes are not one. `strict` also rejects trailing bytes;
 * `lenient` returns a message cut short with what came before the cut (`partial`).
 */
export function decodeDns(b: Buffer, strict = false, lenient = false): DnsMessage | null {
  let h: DnsHeader
  try {
    h = header(b)
  } catch {
    return null
  }
  const questions: DnsQuestion[] = []
  const answers: DnsRecord[] = []
  try {
    let o = 12
    for (let i = 0; i < h.num_queries; i++) {
      const { name, next } = readName(b, o)
      const t = u16(b, next)
      u16(b, next + 2)
      o = next + 4
      if (questions.length < maxRecords) questions.push({ name, type: typeName(t) })
    }
    const rrs = h.num_answers + h.num_auth + h.num_addl
    for (let i = 0; i < rrs; i++) {
      const { name, next } = readName(b, o)
      const t = u16(b, next)
      if (next + 10 > b.length) throw new Bad()
      const len = b.readUInt16BE(next + 8)
      const start = next + 10
      if (start + len > b.length) throw new Bad()
      if (i < h.num_answers && answers.length < maxRecords) {
        const rec: DnsRecord = { name, type: typeName(t) }
        rdata(b, t, start, len, rec)
        answers.push(rec)
      }
      o = start + len
    }
    if (strict && o !== b.length) return null
    return { header: h, questions, answers, size: o, partial: false }
  } catch (e) {
    if (!(e instanceof Bad || e instanceof RangeError)) throw e
    return lenient ? { header: h, questions, answers, size: b.length, partial: true } : null
  }
}
