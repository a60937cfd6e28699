/**
 * A minimal MySQL client for tests: mysql_native_password login, then raw commands, so a test can
 * drive what the mariadb CLI never sends (COM_STMT_PREPARE / EXECUTE / CLOSE with binary parameters).
 */
import { createHash } from 'node:crypto'
import { connect, type Socket } from 'node:net'

export interface MysqlConn {
  /** Sends one command (command byte + body) and returns the response packets' payloads (until `until` says the response ended). */
  command(payload: Buffer, until?: (packets: Buffer[]) => boolean): Promise<Buffer[]>
  /** Sends a command that gets no response. */
  send(payload: Buffer): void
  close(): void
}

const sha1 = (...b: Buffer[]) => {
  const h = createHash('sha1')
  for (const x of b) h.update(x)
  return h.digest()
}

/** mysql_native_password: SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))). */
function nativePassword(password: string, scramble: Buffer): Buffer {
  const p1 = sha1(Buffer.from(password))
  const p2 = sha1(p1)
  const p3 = sha1(scramble, p2)
  return Buffer.from(p1.map((x, i) => x ^ p3[i]!))
}

function packet(seq: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(4)
  h.writeUIntLE(payload.length, 0, 3)
  h[3] = seq
  return Buffer.concat([h, payload])
}

/** Reads whole packets from a socket, in order. */
class Packets {
  private buf = Buffer.alloc(0)
  private waiters: ((p: Buffer) => void)[] = []
  private ready: Buffer[] = []
  constructor(sock: Socket) {
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d])
      while (this.buf.length >= 4) {
        const len = this.buf.readUIntLE(0, 3)
        if (this.buf.length < 4 + len) break
        const p = this.buf.subarray(4, 4 + len)
        this.buf = this.buf.subarray(4 + len)
        const w = this.waiters.shift()
        if (w) w(p)
        else this.ready.push(p)
      }
    })
  }
  next(): Promise<Buffer> {
    const p = this.ready.shift()
    if (p) return Promise.resolve(p)
    return new Promise((r) => this.waiters.push(r))
  }
}

const CLIENT = {
  longPassword: 1,
  connectWithDb: 8,
  protocol41: 0x200,
  transactions: 0x2000,
  secureConnection: 0x8000,
  pluginAuth: 0x80000,
  deprecateEof: 0x01000000,
}

/** A response ends at OK/ERR as the first packet, or at the second EOF (0xfe, short) of a result set. */
export function endsResultSet(ps: Buffer[]): boolean {
  const first = ps[0]
  if (!first) return false
  if (first[0] === 0x00 || first[0] === 0xff) return true
  return ps.filter((p) => p[0] === 0xfe && p.length < 9).length >= 2 || ps[ps.length - 1]![0] === 0xff
}

export async function mysqlConnect(port: number, user: string, password: string, db: string): Promise<MysqlConn> {
  const sock = connect(port, '127.0.0.1')
  await new Promise((r, j) => {
    sock.once('connect', r)
    sock.once('error', j)
  })
  const packets = new Packets(sock)
  const hs = await packets.next()
  // Handshake V10: version NUL, thread id (4), scramble part 1 (8), filler, caps, charset, status, caps hi, auth len, 10 reserved, scramble part 2.
  let o = hs.indexOf(0, 1) + 1 + 4
  const s1 = hs.subarray(o, o + 8)
  o += 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10
  const s2 = hs.subarray(o, o + 12)
  const scramble = Buffer.concat([s1, s2])
  const caps =
    CLIENT.longPassword | CLIENT.connectWithDb | CLIENT.protocol41 | CLIENT.transactions | CLIENT.secureConnection | CLIENT.pluginAuth
  const head = Buffer.alloc(32)
  head.writeUInt32LE(caps, 0)
  head.writeUInt32LE(1 << 24, 4)
  head[8] = 45 // utf8mb4_general_ci
  const auth = nativePassword(password, scramble)
  const resp = Buffer.concat([
    head,
    Buffer.from(user + '\0'),
    Buffer.from([auth.length]),
    auth,
    Buffer.from(db + '\0'),
    Buffer.from('mysql_native_password\0'),
  ])
  sock.write(packet(1, resp))
  let r = await packets.next()
  if (r[0] === 0xfe) {
    // Auth switch: answer the new scramble with the same method.
    const nul = r.indexOf(0, 1)
    const scr = r.subarray(nul + 1, r.length - 1)
    sock.write(packet(3, nativePassword(password, scr)))
    r = await packets.next()
  }
  if (r[0] !== 0x00) throw new Error(`login failed: ${r.subarray(9).toString()}`)
  return {
    async command(payload, until = endsResultSet) {
      sock.write(packet(0, payload))
      const got: Buffer[] = []
      do got.push(await packets.next())
      while (!until(got))
      return got
    },
    send(payload) {
      sock.write(packet(0, payload))
    },
    close() {
      sock.end()
    },
  }
}
