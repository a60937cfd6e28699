/** The Connect protocol's unary calls (protobuf or JSON bodies), as connect-go clients send them. */
import type { ServerResponse } from 'node:http'
import { gunzipSync } from 'node:zlib'
import { KilnError, isKilnError } from '../model/errors.ts'
import { ProtoError } from '../formats/proto.ts'
import { decodeMsg, encodeMsg, fromJson, toJson, type MessageDesc, type Msg } from '../formats/protomsg.ts'
import { sendBytes, sendJson, type Req, type Router } from './http.ts'

export interface Method {
  path: string
  input: MessageDesc
  output: MessageDesc
  /** Returns the output message, or raw bytes already encoded (a pprof for SelectMergeProfile). */
  run(req: Req, input: Msg): Promise<Msg | Uint8Array>
}

// Connect error codes and the HTTP statuses Connect uses for them.
const connectCodes: Record<number, [string, number]> = {
  400: ['invalid_argument', 400],
  401: ['unauthenticated', 401],
  404: ['not_found', 404],
  405: ['unimplemented', 405],
  413: ['resource_exhausted', 429],
  415: ['unimplemented', 501],
  422: ['invalid_argument', 400],
  500: ['internal', 500],
  503: ['unavailable', 503],
}

export function sendConnectError(res: ServerResponse, e: unknown, log: (m: string) => void): void {
  if (!isKilnError(e)) log(`internal error: ${(e as Error)?.stack ?? String(e)}`)
  const status = isKilnError(e) ? e.status : 500
  const [code, http] = connectCodes[status] ?? ['unknown', 500]
  const message = isKilnError(e) ? e.message : 'internal server error; the server log has the details'
  sendJson(res, http, { code, message })
}

/** Registers unary Connect methods; their errors are answered by the server as Connect errors. */
export function mountConnect(router: Router, methods: Method[]): void {
  for (const m of methods) {
    router.on('POST', m.path, async (req, res) => {
      const ct = String(req.raw.headers['content-type'] ?? '').split(';')[0]!.trim()
      const json = ct === 'application/json'
      if (!json && ct !== 'application/proto' && ct !== 'application/protobuf') {
        throw new KilnError('KILN_UNSUPPORTED', `content type ${JSON.stringify(ct)} is not supported: use application/proto or application/json (Connect protocol)`)
      }
      let body: Uint8Array = await req.body()
      const enc = String(req.raw.headers['content-encoding'] ?? '')
      if (enc === 'gzip') {
        try {
          body = gunzipSync(body, { maxOutputLength: 64 << 20 })
        } catch (e) {
          throw new KilnError('KILN_BAD_GZIP', `request body is not valid gzip: ${(e as Error).message}`)
        }
      } else if (enc && enc !== 'identity') throw new KilnError('KILN_UNSUPPORTED', `content encoding ${enc} is not supported; use gzip or none`)
      let input: Msg
      try {
        input = json ? fromJson(m.input, body.length ? JSON.parse(Buffer.from(body).toString('utf8')) : {}) : decodeMsg(m.input, body)
      } catch (e) {
        if (e instanceof ProtoError || e instanceof TypeError || e instanceof SyntaxError) throw new KilnError('KILN_BAD_REQUEST', `cannot read ${m.input.name}: ${e.message}`)
        throw e
      }
      const out = await m.run(req, input)
      if (out instanceof Uint8Array) {
        if (json) throw new KilnError('KILN_UNSUPPORTED', `${m.path} answers a pprof profile: call it with application/proto`)
        sendBytes(res, 200, 'application/proto', out)
      } else if (json) sendJson(res, 200, toJson(m.output, out))
      else sendBytes(res, 200, 'application/proto', encodeMsg(m.output, out))
    })
  }
}
