/** HTTP/2 for `kiln run`'s transport: the session on a TLS socket that chose h2, and a request head in h2's form. */
import type tls from 'node:tls'
import http2 from 'node:http2'

/** The HTTP/2 session on a TLS socket whose handshake chose h2. */
export function openH2(
  url: URL,
  sock: tls.TLSSocket,
  retire: () => void,
  gone: (err?: NodeJS.ErrnoException) => void,
): http2.ClientHttp2Session {
  const session = http2.connect(url.origin, { createConnection: () => sock })
  session.on('goaway', retire)
  session.on('error', (e: NodeJS.ErrnoException) => gone(e))
  session.on('close', () => gone())
  return session
}

// Connection-specific headers HTTP/2 forbids (RFC 9113 §8.2.2); Host becomes :authority.
const H1_ONLY = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host'])

/** The request's serialised HTTP/1.1 head as HTTP/2 headers. */
export function h2Headers(head: string): http2.OutgoingHttpHeaders {
  const lines = head.split('\r\n')
  const first = lines[0]!.split(' ')
  const out: http2.OutgoingHttpHeaders = { ':method': first[0], ':path': first[1], ':scheme': 'https' }
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!
    if (!l) continue
    const c = l.indexOf(':')
    const k = l.slice(0, c).toLowerCase()
    const v = l.slice(c + 1).trim()
    if (k === 'host') out[':authority'] = v
    else if (!H1_ONLY.has(k)) {
      const had = out[k]
      out[k] = had === undefined ? v : [...[had].flat().map(String), v]
    }
  }
  return out
}
