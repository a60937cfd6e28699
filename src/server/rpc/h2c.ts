/**
 * HTTP/1.1 and cleartext HTTP/2 on one port. gRPC clients (grpc-js, grpc-go: profilecli, Alloy)
 * open h2c with prior knowledge, i.e. the connection starts with HTTP/2's preface; every other
 * connection goes to the HTTP/1.1 server unchanged. Node's http2 server reads bytes already taken
 * off the socket (it replays the socket's buffer), so the sniffed bytes are put back with unshift.
 */
import type { Server } from 'node:http'
import { createServer as createH2Server, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2'
import type { Socket } from 'node:net'

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')

export interface H2c {
  /** Ends the HTTP/2 sessions (in-flight streams finish) and connections that sent nothing yet. */
  close(): void
}

/** Takes over `http1`'s connections: HTTP/2 ones go to `onRequest`, the rest to `http1` as before. */
export function acceptH2c(http1: Server, onRequest: (req: Http2ServerRequest, res: Http2ServerResponse) => void): H2c {
  const h2 = createH2Server({}, onRequest)
  const sessions = new Set<ServerHttp2Session>()
  const sniffing = new Set<Socket>()
  h2.on('session', (s: ServerHttp2Session) => {
    sessions.add(s)
    s.once('close', () => sessions.delete(s))
  })
  const toHttp1 = http1.listeners('connection')[0] as (socket: Socket) => void
  http1.removeListener('connection', toHttp1)
  http1.on('connection', (socket: Socket) => {
    sniffing.add(socket)
    // A connection that sends nothing is dropped after the time a request's headers may take.
    socket.setTimeout(http1.headersTimeout || 60_000, () => socket.destroy())
    let seen: Buffer = Buffer.alloc(0)
    const onData = (chunk: Buffer) => {
      seen = seen.length ? Buffer.concat([seen, chunk]) : chunk
      const n = Math.min(seen.length, PREFACE.length)
      const isH2 = seen.subarray(0, n).equals(PREFACE.subarray(0, n))
      if (isH2 && seen.length < PREFACE.length) return // a prefix of the preface: wait for more
      socket.removeListener('data', onData)
      socket.setTimeout(0)
      sniffing.delete(socket)
      socket.pause()
      socket.unshift(seen)
      // The HTTP/2 session reads the socket natively and replays its buffer itself; the HTTP/1.1
      // parser reads it through 'data' events, so the socket flows again for it.
      if (isH2) h2.emit('connection', socket)
      else {
        toHttp1.call(http1, socket)
        socket.resume()
      }
    }
    socket.on('data', onData)
    socket.once('close', () => sniffing.delete(socket))
  })
  return {
    close() {
      for (const s of sessions) s.close()
      for (const s of sniffing) s.destroy()
    },
  }
}
