/**
 * Pyroscope's RPCs served by connect-node: Connect (protobuf and JSON), gRPC and gRPC-web, on the
 * HTTP API's port (HTTP/1.1 and h2c: see h2c.ts). Message types are generated from proto/.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import { Code, ConnectError, createConnectRouter, createContextValues, type Interceptor } from '@connectrpc/connect'
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from '@connectrpc/connect-node'
import { codeToHttpStatus } from '@connectrpc/connect/protocol-connect'
import type { Context } from '../context.ts'
import { mendParseError, toConnectError, writeRpcError } from './errors.ts'
import { QuerierService } from './gen/querier/v1/querier_pb.ts'
import { PusherService } from './gen/push/v1/push_pb.ts'
import { querierService } from './querier.ts'
import { pushService } from './push.ts'
import { tenantKey } from './tenant.ts'

export type RpcRequest = IncomingMessage | Http2ServerRequest
export type RpcResponse = ServerResponse | Http2ServerResponse

// `/package.Service/Method`: every such path is answered here, so an unknown method is
// `unimplemented` in the client's protocol rather than the HTTP API's 404.
const RPC_PATH = /^\/[a-z]\w*(?:\.\w+)*\.[A-Z]\w*\/\w+$/

export interface Rpc {
  claims(path: string): boolean
  /** `admit` checks credentials and returns the tenant; what it throws is answered as an RPC error. */
  handle(req: RpcRequest, res: RpcResponse, admit: () => string): Promise<void>
}

export function createRpc(ctx: Context): Rpc {
  // Kiln's errors become Connect codes here; anything unexpected is logged and answered `internal`.
  const errors: Interceptor = (next) => async (req) => {
    try {
      return await next(req)
    } catch (e) {
      const err = toConnectError(e, ctx.log)
      ctx.metrics.error(codeToHttpStatus(err.code))
      throw err
    }
  }
  const router = createConnectRouter({
    acceptCompression: [compressionGzip, compressionBrotli],
    // Applies to the decompressed message too, so a gzip bomb stops at the body limit.
    readMaxBytes: ctx.config.maxBodyBytes,
    interceptors: [errors],
  })
  router.service(QuerierService, querierService(ctx))
  router.service(PusherService, pushService(ctx))
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, h]))

  const refuse = (req: RpcRequest, res: RpcResponse, err: ConnectError) => {
    ctx.metrics.error(codeToHttpStatus(err.code))
    writeRpcError(req, res, err)
  }
  return {
    claims: (path) => RPC_PATH.test(path),
    async handle(req, res, admit) {
      const path = (req.url ?? '/').split('?', 1)[0]!
      let tenant: string
      try {
        tenant = admit()
      } catch (e) {
        return refuse(req, res, toConnectError(e, ctx.log))
      }
      const h = handlers.get(path)
      if (!h) return refuse(req, res, new ConnectError(`${path.slice(0, 200)} is not a method Kiln serves (docs/pyroscope-compat.md lists them)`, Code.Unimplemented))
      try {
        const uRes = await h(universalRequestFromNodeRequest(req, res, undefined, createContextValues().set(tenantKey, tenant)))
        await universalResponseToNodeResponse(await mendParseError(uRes), res)
      } catch (e) {
        // The client went away mid-answer, or the stream broke: nothing left to tell it.
        if (ConnectError.from(e).code !== Code.Aborted) ctx.log(`rpc ${path} failed while answering: ${(e as Error)?.message ?? String(e)}`)
        if (!res.headersSent) refuse(req, res, toConnectError(e, ctx.log))
        else res.destroy()
      }
    },
  }
}
