/**
 * POST of a body in pieces to a Kiln server over node:http(s), for the agent's trace batches. fetch
 * (client/client.ts) wraps a Buffer body in a web stream and copies it on the way: for the
 * agent's batches, 1–3 MB a second, that was more CPU than gzip level 1 (bench/README.md,
 * trace-replay). Errors are client.ts's (the same helpers): KILN_STORE when unreachable or 5xx (the queue retries),
 * KILN_BAD_REQUEST with the server's message for a 4xx (refused), KILN_UNAUTHORIZED for 401.
 */
import http from 'node:http'
import https from 'node:https'
import { refusal, serverUrl, unreachable } from '../client/client.ts'

const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) }

/** POSTs `body`, the concatenation of its pieces (written one after another, never joined). */
export function postBuffer(
  server: string,
  path: string,
  body: Uint8Array[],
  headers: Record<string, string>,
  retried = false,
): Promise<void> {
  let url: URL
  try {
    url = serverUrl(server, path)
  } catch (e) {
    return Promise.reject(e)
  }
  const token = process.env.KILN_AUTH_TOKEN
  const tls = url.protocol === 'https:'
  return new Promise((resolve, reject) => {
    const req = (tls ? https : http).request(
      url,
      {
        method: 'POST',
        agent: tls ? agents.https : agents.http,
        headers: {
          ...headers,
          'content-length': body.reduce((n, b) => n + b.length, 0),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        timeout: 120_000,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', (e) => reject(unreachable(server, cause(e))))
        res.on('end', () => {
          const status = res.statusCode ?? 0
          if (status >= 200 && status < 300) return resolve()
          reject(refusal(status, Buffer.concat(chunks).toString('utf8')))
        })
      },
    )
    req.on('timeout', () => req.destroy(new Error('timed out after 120 s')))
    req.on('error', (e) => {
      // A kept-alive connection the server closed as this request went out (its idle timeout):
      // nothing of the request was read, so it goes again at once on a new connection.
      if (req.reusedSocket && (e as NodeJS.ErrnoException).code === 'ECONNRESET' && !retried)
        postBuffer(server, path, body, headers, true).then(resolve, reject)
      else reject(unreachable(server, cause(e)))
    })
    for (const b of body) req.write(b)
    req.end()
  })
}

const cause = (e: Error) => (e as NodeJS.ErrnoException).code ?? e.message
