/** Kiln's errors as Connect/gRPC status codes, and errors answered before any RPC handler runs. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import { Code, ConnectError } from '@connectrpc/connect'
import { codeToHttpStatus, errorToJsonBytes } from '@connectrpc/connect/protocol-connect'
import { setTrailerStatus } from '@connectrpc/connect/protocol-grpc'
import type { UniversalServerResponse } from '@connectrpc/connect/protocol'
import { isKilnError, type ErrorCode } from '../../model/errors.ts'

// Anything not listed is the client's mistake: invalid_argument (HTTP 400 under Connect).
const codes: Partial<Record<ErrorCode, Code>> = {
  KILN_UNAUTHORIZED: Code.Unauthenticated,
  KILN_NOT_FOUND: Code.NotFound,
  // A stale write (a recording rule's generation): Pyroscope answers it as already_exists.
  KILN_CONFLICT: Code.AlreadyExists,
  KILN_METHOD: Code.Unimplemented,
  KILN_UNSUPPORTED: Code.Unimplemented,
  KILN_TOO_LARGE: Code.ResourceExhausted,
  KILN_STORE: Code.Unavailable,
  KILN_INTERNAL: Code.Internal,
}

/** A KilnError keeps its message under the matching code; anything else is logged and hidden. */
export function toConnectError(e: unknown, log: (m: string) => void): ConnectError {
  if (e instanceof ConnectError) return e
  if (isKilnError(e)) return new ConnectError(e.message, codes[e.code] ?? Code.InvalidArgument)
  log(`internal error: ${(e as Error)?.stack ?? String(e)}`)
  return new ConnectError('internal server error; the server log has the details', Code.Internal)
}

type AnyReq = IncomingMessage | Http2ServerRequest
type AnyRes = ServerResponse | Http2ServerResponse

/**
 * Answers an error in the protocol the client speaks, for what is refused before routing to an
 * RPC (credentials, tenant, unknown method): gRPC and gRPC-web get a trailers-only response
 * (HTTP 200 with grpc-status), Connect gets its JSON error body with the code's HTTP status.
 */
export function writeRpcError(req: AnyReq, res: AnyRes, err: ConnectError): void {
  const ct = String(req.headers['content-type'] ?? '')
  const h = res as ServerResponse
  if (ct.startsWith('application/grpc')) {
    const web = ct.startsWith('application/grpc-web')
    const headers = Object.fromEntries(
      setTrailerStatus(new Headers({ 'content-type': web ? 'application/grpc-web+proto' : 'application/grpc+proto' }), err),
    )
    // gRPC over HTTP/2 reads the status from a HEADERS frame that ends the stream (trailers-only);
    // gRPC-web reads it from the response headers.
    if (!web && 'stream' in res) res.stream.respond({ ':status': 200, ...headers }, { endStream: true })
    else {
      h.writeHead(200, headers)
      h.end()
    }
    return
  }
  const body = errorToJsonBytes(err, {})
  h.writeHead(codeToHttpStatus(err.code), { 'content-type': 'application/json', 'content-length': body.length })
  h.end(body)
}

/**
 * connect-es answers a protobuf request it cannot decode as `internal` ("parse binary: …"); the
 * mistake is the client's, and connect-go (so Pyroscope) answers invalid_argument: the Connect
 * error body and the gRPC trailer are rewritten so. gRPC-web carries its trailer in the body
 * stream and keeps connect-es's code.
 */
export async function mendParseError(r: UniversalServerResponse): Promise<UniversalServerResponse> {
  const trailer = r.trailer
  if (trailer) {
    // gRPC: the trailer is filled in while the body streams, so it is mended after the body.
    const body = r.body
    const mend = async function* () {
      if (body) yield* body
      if (trailer.get('grpc-status') === String(Code.Internal) && decodeURIComponent(trailer.get('grpc-message') ?? '').startsWith(PARSE))
        trailer.set('grpc-status', String(Code.InvalidArgument))
    }
    return { ...r, body: mend() }
  }
  if (r.status !== 500 || !r.body || !(r.header?.get('content-type') ?? '').startsWith('application/json')) return r
  const chunks: Uint8Array[] = []
  for await (const c of r.body) chunks.push(c)
  const body = Buffer.concat(chunks)
  const again = (b: Uint8Array) => ({
    ...r,
    body: (async function* () {
      yield b
    })(),
  })
  let err: { code?: string; message?: string }
  try {
    err = JSON.parse(body.toString('utf8'))
  } catch {
    return again(body)
  }
  if (err.code !== 'internal' || !err.message?.startsWith(PARSE)) return again(body)
  const mended = errorToJsonBytes(new ConnectError(err.message, Code.InvalidArgument), {})
  const header = new Headers(r.header)
  header.set('content-length', String(mended.length))
  return { ...again(mended), status: codeToHttpStatus(Code.InvalidArgument), header }
}

const PARSE = 'parse binary: '
