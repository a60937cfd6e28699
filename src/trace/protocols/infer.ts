/**
 * Protocol inference from the first bytes one side of a connection saw, in the spirit of Pixie's
 * protocol_inference.h but decided in user space. Each rule is a sniff in a registry; a rule
 * answers only when the bytes are unmistakable (or shaped right on the protocol's well-known
 * port), so null — "don't know" — is the common answer for anything else.
 */
import type { Protocol } from '../types.ts'
import { decodeDns } from './dns/message.ts'
import { looksLikeStart } from './http1/head.ts'

export interface Inferred {
  protocol: Protocol
  /** Whether these bytes travel from the client to the server. */
  fromClient: boolean
}

export interface Ports {
  local: number
  remote: number
}

type Sniff = (b: Buffer, ports: Ports, egress: boolean) => Inferred | null

const onPort = (ports: Ports, ...p: number[]) => p.includes(ports.local) || p.includes(ports.remote)

/**
 * On a well-known server port, who sent the bytes: the side on that port is the server, so bytes
 * it sent (egress when it is local) travel server → client. null when neither end is on it.
 */
function clientSent(ports: Ports, port: number, egress: boolean): boolean | null {
  if (ports.remote === port) return egress
  if (ports.local === port) return !egress
  return null
}

const h2Preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')

const http2: Sniff = (b) => {
  // 14 bytes ("PRI * HTTP/2.0") are enough: no HTTP/1 method is "PRI".
  if (b.length < 14) return null
  const n = Math.min(b.length, h2Preface.length)
  return b.subarray(0, n).equals(h2Preface.subarray(0, n)) ? { protocol: 'http2', fromClient: true } : null
}

const http1: Sniff = (b) => {
  if (b.length < 8) return null
  if (looksLikeStart(b, 'resp')) {
    // "HTTP/1.1 200 " — three digits after the version.
    return /^HTTP\/1\.[01] \d{3}[ \r]/.test(b.toString('latin1', 0, 14)) ? { protocol: 'http', fromClient: false } : null
  }
  if (!looksLikeStart(b, 'req')) return null
  // A complete first line must end in the version; a cut one must still be plausible.
  const nl = b.indexOf('\r\n')
  const line = b.toString('latin1', 0, nl < 0 ? Math.min(b.length, 256) : nl)
  if (nl >= 0 && !/ HTTP\/1\.[01]$/.test(line)) return null
  return /^[A-Z]+ \S+/.test(line) ? { protocol: 'http', fromClient: true } : null
}

/** PostgreSQL: StartupMessage (protocol 3.0), SSLRequest, GSSENCRequest, CancelRequest; or, on 5432, a query or a reply. */
const pgsql: Sniff = (b, ports, egress) => {
  if (b.length >= 8) {
    const len = b.readUInt32BE(0)
    const code = b.readUInt32BE(4)
    if (len === 8 && (code === 80877103 || code === 80877104)) return { protocol: 'pgsql', fromClient: true }
    if (len === 16 && code === 80877102) return { protocol: 'pgsql', fromClient: true }
    // StartupMessage: version 3.0 then "user\0…" (or another parameter name) pairs, ending in \0.
    if (code === 196608 && len >= 9 && len <= 10000 && (b.length < len || b[len - 1] === 0) && /^[a-z_]/.test(b.toString('latin1', 8, 9))) {
      return { protocol: 'pgsql', fromClient: true }
    }
  }
  // Mid-connection, on 5432 only: replies share letters with requests (C, D, E), so the port says which side sent them.
  const fromClient = clientSent(ports, 5432, egress)
  if (fromClient === null || b.length < 5) return null
  const t = String.fromCharCode(b[0]!)
  const len = b.readUInt32BE(1)
  if (len < 4 || len > 1 << 24) return null
  if (fromClient && 'QPBEDSCFHX'.includes(t) && (t !== 'Q' || b.length < len + 1 || b[len] === 0)) return { protocol: 'pgsql', fromClient }
  if (!fromClient && 'RTDCZKSE12ntIN'.includes(t)) return { protocol: 'pgsql', fromClient }
  return null
}

/** MySQL: the server's Handshake V10 (seq 0, protocol 10, a printable NUL-ended version); commands on 3306. */
const mysql: Sniff = (b, ports, egress) => {
  if (b.length < 8) return null
  const len = b[0]! | (b[1]! << 8) | (b[2]! << 16)
  const seq = b[3]!
  if (seq === 0 && b[4] === 10 && len >= 20 && len < 1024) {
    const nul = b.indexOf(0, 5)
    const end = nul < 0 ? Math.min(b.length, 5 + 40) : nul
    const ver = b.toString('latin1', 5, end)
    if ((nul > 5 || b.length < 5 + 40) && /^\d+\.\d+[\x20-\x7e]*$/.test(ver)) return { protocol: 'mysql', fromClient: false }
  }
  if (clientSent(ports, 3306, egress) !== true || seq !== 0 || len === 0 || len !== b.length - 4) return null
  // COM_QUERY, COM_STMT_PREPARE, COM_INIT_DB, COM_PING, COM_QUIT, COM_STMT_EXECUTE/CLOSE, on 3306 only.
  if ([0x03, 0x16, 0x02, 0x0e, 0x01, 0x17, 0x19].includes(b[4]!)) return { protocol: 'mysql', fromClient: true }
  return null
}

/** Redis: a RESP array of bulk strings ("*2\r\n$3\r\nGET…") is a command; other shapes only on 6379. */
const redis: Sniff = (b, ports, egress) => {
  const head = b.toString('latin1', 0, Math.min(b.length, 32))
  if (/^\*[1-9]\d{0,5}\r\n\$\d{1,9}\r\n/.test(head)) return { protocol: 'redis', fromClient: true }
  const fromClient = clientSent(ports, 6379, egress)
  if (fromClient === null) return null
  if (!fromClient && /^[+\-:$*%~>_#,(=|!][^\r\n]*\r\n/.test(head)) return { protocol: 'redis', fromClient }
  // Inline commands ("PING\r\n"), as redis-cli and telnet users send them.
  if (fromClient && /^[A-Za-z]{3,20}( |\r\n)/.test(head)) return { protocol: 'redis', fromClient }
  return null
}

/** DNS on port 53 (UDP, or TCP with its 2-byte length), or anywhere when the message is shaped exactly right. */
const dns: Sniff = (b, ports) => {
  const on53 = onPort(ports, 53)
  const check = (m: Buffer, strict: boolean): Inferred | null => {
    const msg = decodeDns(m, strict)
    if (!msg) return null
    const h = msg.header
    if (h.opcode !== 0 || h.num_queries === 0 || h.num_queries > 4) return null
    if (!on53) {
      // Away from port 53 only a lone question with a hostname-like name and class IN passes.
      if (h.num_queries !== 1 || (h.qr === 0 && (h.num_answers !== 0 || h.num_auth !== 0 || h.num_addl > 1))) return null
      const q = msg.questions[0]!
      if (!/^([A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}\.?$/.test(q.name) || q.type.startsWith('TYPE')) return null
    }
    return { protocol: 'dns', fromClient: h.qr === 0 }
  }
  if (b.length >= 14 && b.readUInt16BE(0) === b.length - 2) {
    const r = check(b.subarray(2), true)
    if (r) return r
  }
  return b.length >= 12 ? check(b, true) : null
}

/** In order of how sure a match is: fixed magic first, port-assisted shapes last. */
const sniffs: { name: Protocol; sniff: Sniff }[] = [
  { name: 'http2', sniff: http2 },
  { name: 'http', sniff: http1 },
  { name: 'pgsql', sniff: pgsql },
  { name: 'mysql', sniff: mysql },
  { name: 'redis', sniff: redis },
  { name: 'dns', sniff: dns },
]

/**
 * Decides the protocol of a connection from the first bytes one side saw (`egress`: the traced
 * process sent them), and whether they travel client → server; null when unsure.
 */
export function inferProtocol(data: Buffer, egress: boolean, ports: Ports): Inferred | null {
  if (data.length === 0) return null
  try {
    for (const s of sniffs) {
      const r = s.sniff(data, ports, egress)
      if (r) return r
    }
  } catch {
    // A sniff reading past a short buffer is a "no".
  }
  return null
}
