/**
 * A loopback recording proxy: client → 127.0.0.1:proxy.port → 127.0.0.1:target, every chunk kept
 * with its direction and wall-clock time, as capture would hand them to a parser. UDP too (DNS):
 * each datagram is one chunk.
 */
import { createServer, connect, type Socket } from 'node:net'
import { createSocket, type RemoteInfo } from 'node:dgram'
import type { DataEvent } from '../../../src/trace/types.ts'

export interface Chunk {
  conn: number
  fromClient: boolean
  timeNs: bigint
  data: Buffer
}

const epochOffset = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint()
/** Nanoseconds since the epoch, with hrtime's resolution. */
export const nowNs = (): bigint => epochOffset + process.hrtime.bigint()

export interface Recorder {
  port: number
  chunks: Chunk[]
  /** The chunks of one connection (all of them when conn is omitted and there is one) as DataEvents. */
  events(conn?: number): DataEvent[]
  conns(): number[]
  close(): Promise<void>
}

function recorder(chunks: Chunk[], port: number, close: () => Promise<void>): Recorder {
  return {
    port,
    chunks,
    conns: () => [...new Set(chunks.map((c) => c.conn))],
    events: (conn) =>
      chunks
        .filter((c) => conn === undefined || c.conn === conn)
        .map((c) => ({ timeNs: c.timeNs, fromClient: c.fromClient, data: c.data, size: c.data.length })),
    close,
  }
}

/** A TCP proxy to 127.0.0.1:target. */
export async function tcpProxy(target: number): Promise<Recorder> {
  const chunks: Chunk[] = []
  const sockets = new Set<Socket>()
  let next = 0
  const server = createServer((client) => {
    const conn = next++
    const upstream = connect(target, '127.0.0.1')
    sockets.add(client).add(upstream)
    client.pause()
    upstream.once('connect', () => client.resume())
    client.on('data', (d) => {
      chunks.push({ conn, fromClient: true, timeNs: nowNs(), data: Buffer.from(d) })
      upstream.write(d)
    })
    upstream.on('data', (d) => {
      chunks.push({ conn, fromClient: false, timeNs: nowNs(), data: Buffer.from(d) })
      client.write(d)
    })
    client.on('end', () => upstream.end())
    upstream.on('end', () => client.end())
    const drop = () => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    client.on('error', drop)
    upstream.on('error', drop)
    client.on('close', () => upstream.end())
    upstream.on('close', () => client.end())
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const a = server.address()
  const port = typeof a === 'object' && a ? a.port : 0
  let closed = false
  return recorder(chunks, port, async () => {
    if (closed) return
    closed = true
    for (const s of sockets) s.destroy()
    await new Promise<void>((r) => server.close(() => r()))
  })
}

/** A UDP proxy to 127.0.0.1:target: each client address is one "connection". */
export async function udpProxy(target: number): Promise<Recorder> {
  const chunks: Chunk[] = []
  const front = createSocket('udp4')
  const uplinks = new Map<string, { sock: ReturnType<typeof createSocket>; conn: number }>()
  let next = 0
  front.on('message', (msg: Buffer, from: RemoteInfo) => {
    const key = `${from.address}:${from.port}`
    let up = uplinks.get(key)
    if (!up) {
      const sock = createSocket('udp4')
      up = { sock, conn: next++ }
      const conn = up.conn
      sock.on('message', (reply: Buffer) => {
        chunks.push({ conn, fromClient: false, timeNs: nowNs(), data: Buffer.from(reply) })
        front.send(reply, from.port, from.address)
      })
      uplinks.set(key, up)
    }
    chunks.push({ conn: up.conn, fromClient: true, timeNs: nowNs(), data: Buffer.from(msg) })
    up.sock.send(msg, target, '127.0.0.1')
  })
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', () => r()))
  let closed = false
  return recorder(chunks, front.address().port, async () => {
    if (closed) return
    closed = true
    for (const u of uplinks.values()) u.sock.close()
    await new Promise<void>((r) => front.close(() => r()))
  })
}
