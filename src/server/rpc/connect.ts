/**
 * Pyroscope's RPCs served by connect-node: Connect (protobuf and JSON), gRPC and gRPC-web, on the
 * HTTP API's port (HTTP/1.1 and h2c: see h2c.ts). Message types are generated from proto/.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import { Code, ConnectError, createConnectRouter, createContextValues, type Interceptor } from '@connectrpc/connect'
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from '@connectrpc/connect-node'
import { codeToHttpStatus } from '@connectrpc/connect/protocol-connect'
import type { Context } from '../context.ts'
import { mendParseError, toConnectError, writeRpcError } from './errors.ts'
import { QuerierService } from './gen/querier/v1/querier_pb.ts'
import { PusherService } from './gen/push/v1/push_pb.ts'
import { Version } from './gen/version/v1/version_pb.ts'
import { StatusService } from './gen/status/v1/status_pb.ts'
import { FeatureFlagsService } from './gen/capabilities/v1/feature_flags_pb.ts'
import { SettingsService } from './gen/settings/v1/setting_pb.ts'
import { querierService } from './querier.ts'
import { pushService } from './push.ts'
import { recordingRulesService, settingsService } from './settings.ts'
import { RecordingRulesService } from './gen/settings/v1/recording_rules_pb.ts'
import type { RecordingRulesApi } from '../recording-rules.ts'
import { buildInfoJson, featureFlagsService, statusService, versionService } from './status.ts'
import { tenantKey } from './tenant.ts'

export type RpcRequest = IncomingMessage | Http2ServerRequest
export type RpcResponse = ServerResponse | Http2ServerResponse

// `/package.Service/Method`: every such path is answered here, so an unknown method is
// `unimplemented` in the client's protocol rather than the HTTP API's 404.
const RPC_PATH = /^\/[a-z]\w*(?:\.\w+)*\.[A-Z]\w*\/\w+$/

// HTTP forms of RPCs Pyroscope also serves as plain GET routes (status.v1's build info).
const httpForms: Record<string, () => unknown> = { '/api/v1/status/buildinfo': buildInfoJson }

export interface Rpc {
  claims(path: string): boolean
  /** `admit` checks credentials and returns the tenant; what it throws is answered as an RPC error. */
  handle(req: RpcRequest, res: RpcResponse, admit: () => string): Promise<void>
}

export function createRpc(ctx: Context, late: { recordingRules?: () => RecordingRulesApi | undefined } = {}): Rpc {
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
  router.service(SettingsService, settingsService(ctx))
  router.service(RecordingRulesService, recordingRulesService(late.recordingRules ?? (() => undefined)))
  router.service(Version, versionService)
  router.service(StatusService, statusService)
  router.service(FeatureFlagsService, featureFlagsService)
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, h]))

  const refuse = (req: RpcRequest, res: RpcResponse, err: ConnectError) => {
    ctx.metrics.error(codeToHttpStatus(err.code))
    writeRpcError(req, res, err)
  }
  return {
    claims: (path) => RPC_PATH.test(path) || Object.hasOwn(httpForms, path),
    async handle(req, res, admit) {
      const path = (req.url ?? '/').split('?', 1)[0]!
      let tenant: string
      try {
        tenant = admit()
      } catch (e) {
        return refuse(req, res, toConnectError(e, ctx.log))
      }
      const form = Object.hasOwn(httpForms, path) ? httpForms[path] : undefined
      if (form) {
        const get = req.method === 'GET' || req.method === 'HEAD'
        const body = JSON.stringify(get ? form() : { code: 'KILN_METHOD', message: `${req.method} is not allowed on ${path}: use GET` })
        const out = res as ServerResponse
        out.writeHead(get ? 200 : 405, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
        out.end(req.method === 'HEAD' ? undefined : body)
        return
      }
      const h = handlers.get(path)
      if (!h)
        return refuse(
          req,
          res,
          new ConnectError(`${path.slice(0, 200)} is not a method Kiln serves (docs/pyroscope-compat.md lists them)`, Code.Unimplemented),
        )
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
