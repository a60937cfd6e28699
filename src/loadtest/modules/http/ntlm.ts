/**
 * NTLM authentication (`params.auth: 'ntlm'`, credentials in the URL, `DOMAIN\user` allowed):
 * the NEGOTIATE message, the server's CHALLENGE, and an NTLMv2 AUTHENTICATE answer (MS-NLMP).
 * NTLM authenticates a connection, so the messages go over one keep-alive connection.
 * MD4 is written out here: Node's OpenSSL 3 no longer offers it.
 */
import { createHmac, randomBytes } from 'node:crypto'

/** MD4 (RFC 1320). */
export function md4(input: Buffer): Buffer {
  const len = input.length
  const padded = Buffer.alloc((((len + 8) >> 6) + 1) * 64)
  input.copy(padded)
  padded[len] = 0x80
  padded.writeUInt32LE((len * 8) >>> 0, padded.length - 8)
  padded.writeUInt32LE(Math.floor((len * 8) / 2 ** 32), padded.length - 4)
  let a = 0x67452301
  let b = 0xefcdab89
  let c = 0x98badcfe
  let d = 0x10325476
  const rotl = (x: number, s: number): number => (x << s) | (x >>> (32 - s))
  const F = (x: number, y: number, z: number): number => (x & y) | (~x & z)
  const G = (x: number, y: number, z: number): number => (x & y) | (x & z) | (y & z)
  const H = (x: number, y: number, z: number): number => x ^ y ^ z
  const X = new Array<number>(16)
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) X[i] = padded.readUInt32LE(off + i * 4)
    const [aa, bb, cc, dd] = [a, b, c, d]
    const r1 = [3, 7, 11, 19]
    for (let i = 0; i < 16; i++) {
      const t = (a + F(b, c, d) + X[i]!) | 0
      ;[a, b, c, d] = [d, rotl(t, r1[i % 4]!), b, c]
    }
    const r2 = [3, 5, 9, 13]
    const o2 = [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15]
    for (let i = 0; i < 16; i++) {
      const t = (a + G(b, c, d) + X[o2[i]!]! + 0x5a827999) | 0
      ;[a, b, c, d] = [d, rotl(t, r2[i % 4]!), b, c]
    }
    const r3 = [3, 9, 11, 15]
    const o3 = [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15]
    for (let i = 0; i < 16; i++) {
      const t = (a + H(b, c, d) + X[o3[i]!]! + 0x6ed9eba1) | 0
      ;[a, b, c, d] = [d, rotl(t, r3[i % 4]!), b, c]
    }
    a = (a + aa) | 0
    b = (b + bb) | 0
    c = (c + cc) | 0
    d = (d + dd) | 0
  }
  const out = Buffer.alloc(16)
  ;[a, b, c, d].forEach((v, i) => out.writeInt32LE(v, i * 4))
  return out
}

const utf16 = (s: string): Buffer => Buffer.from(s, 'utf16le')
const hmac = (key: Buffer, ...data: Buffer[]): Buffer => createHmac('md5', key).update(Buffer.concat(data)).digest()

// NEGOTIATE_UNICODE | REQUEST_TARGET | NEGOTIATE_NTLM | ALWAYS_SIGN | EXTENDED_SESSIONSECURITY | TARGET_INFO | 128 | 56
const FLAGS = 0x00000001 | 0x00000004 | 0x00000200 | 0x00008000 | 0x00080000 | 0x00800000 | 0x20000000 | 0x80000000
const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1')

/** NTOWFv2: the key of the NTLMv2 responses. */
export function ntowfv2(user: string, domain: string, password: string): Buffer {
  return hmac(md4(utf16(password)), utf16(user.toUpperCase() + domain))
}

/** The NEGOTIATE message (type 1), base64. */
export function negotiateMessage(): string {
  const m = Buffer.alloc(32)
  SIGNATURE.copy(m)
  m.writeUInt32LE(1, 8)
  m.writeUInt32LE(FLAGS >>> 0, 12)
  return m.toString('base64')
}

export interface Challenge {
  flags: number
  serverChallenge: Buffer
  targetInfo: Buffer
}

/** The server's CHALLENGE (type 2) from its `WWW-Authenticate: NTLM …` headers; null when absent or malformed. */
export function parseChallengeMessage(header: string | string[] | undefined): Challenge | null {
  for (const h of [header ?? []].flat()) {
    const m = /^NTLM\s+([A-Za-z0-9+/=]+)\s*$/.exec(h.trim())
    if (!m) continue
    const b = Buffer.from(m[1]!, 'base64')
    if (b.length < 48 || !b.subarray(0, 8).equals(SIGNATURE) || b.readUInt32LE(8) !== 2) return null
    const infoLen = b.readUInt16LE(40)
    const infoOff = b.readUInt32LE(44)
    if (infoOff + infoLen > b.length) return null
    return {
      flags: b.readUInt32LE(20),
      serverChallenge: Buffer.from(b.subarray(24, 32)),
      targetInfo: Buffer.from(b.subarray(infoOff, infoOff + infoLen)),
    }
  }
  return null
}

/** The NTLMv2 response to a challenge: NTProofStr followed by the client's blob (MS-NLMP 3.3.2). */
export function ntlmv2Response(key: Buffer, serverChallenge: Buffer, targetInfo: Buffer, clientChallenge: Buffer, time: bigint): Buffer {
  const ts = Buffer.alloc(8)
  ts.writeBigUInt64LE(time)
  const temp = Buffer.concat([Buffer.from([1, 1, 0, 0, 0, 0, 0, 0]), ts, clientChallenge, Buffer.alloc(4), targetInfo, Buffer.alloc(4)])
  return Buffer.concat([hmac(key, serverChallenge, temp), temp])
}

/** Windows FILETIME: 100 ns ticks since 1601. */
const filetime = (): bigint => (BigInt(Date.now()) + 11644473600000n) * 10000n

/** The AUTHENTICATE message (type 3), base64, answering `ch` for `DOMAIN\user` (or `user`) and `password`. */
export function authenticateMessage(
  login: string,
  password: string,
  ch: Challenge,
  o: { clientChallenge?: Buffer; time?: bigint; workstation?: string } = {},
): string {
  const slash = login.indexOf('\\')
  const domain = slash >= 0 ? login.slice(0, slash) : ''
  const user = slash >= 0 ? login.slice(slash + 1) : login
  const key = ntowfv2(user, domain, password)
  const cc = o.clientChallenge ?? randomBytes(8)
  const nt = ntlmv2Response(key, ch.serverChallenge, ch.targetInfo, cc, o.time ?? filetime())
  const lm = Buffer.concat([hmac(key, ch.serverChallenge, cc), cc])
  const fields = [lm, nt, utf16(domain), utf16(user), utf16(o.workstation ?? ''), Buffer.alloc(0)]
  const head = Buffer.alloc(64)
  SIGNATURE.copy(head)
  head.writeUInt32LE(3, 8)
  let off = head.length
  fields.forEach((f, i) => {
    head.writeUInt16LE(f.length, 12 + i * 8)
    head.writeUInt16LE(f.length, 14 + i * 8)
    head.writeUInt32LE(off, 16 + i * 8)
    off += f.length
  })
  head.writeUInt32LE((FLAGS & ch.flags) >>> 0 || FLAGS >>> 0, 60)
  return Buffer.concat([head, ...fields]).toString('base64')
}
