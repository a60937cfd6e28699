/** `kiln server`: wires the store, the ingest and query APIs, the web UI and self-profiling. */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { availableParallelism } from 'node:os'
import { KilnError } from '../model/errors.ts'
import { defaultLabelLimits } from '../model/labels.ts'
import { defaultLimits } from '../model/profile.ts'
import { openStore } from '../store/index.ts'
import { retentionDays, retentionHours, type ServerConfig } from './config.ts'
import { Metrics, type Context } from './context.ts'
import { Router, checkAuth, drainBody, readBody, sendBytes, sendError, sendJson, tenantOf, type Req, type RequestHeaders } from './http.ts'
import { createRpc } from './rpc/connect.ts'
import { acceptH2c } from './rpc/h2c.ts'
import { handleIngest } from './ingest.ts'
import { handleRender, handleRenderDiff, handleLabelValuesLegacy } from './render.ts'
import { mountApi } from './api.ts'
import { mountRuns } from './runs.ts'
import { mountTrace } from './trace.ts'
import { mountPxl } from './pxl.ts'
import { mountDashboards } from './dashboards.ts'
import { startRecordingRules, type RecordingRulesApi } from './recording-rules.ts'
import { staticHandler } from './static.ts'
import { EventLoopMonitor } from './event-loop.ts'
import { Ingester, IngestPool } from '../ingest/index.ts'
import { startSelfProfiling } from '../collect/self-profile.ts'
import { Scraper } from '../collect/scrape.ts'

// Draining costs bandwidth only (nothing is kept): 1 GiB is ~1 s on a LAN; the 30 s cap stops slow senders.
const DRAIN_MAX_BYTES = 1 << 30

export interface RunningServer {
  url: string
  port: number
  ctx: Context
  close(): Promise<void>
}

export async function startServer(
  config: ServerConfig,
  log: (m: string) => void = (m) => process.stderr.write(`${new Date().toISOString()} ${m}\n`),
): Promise<RunningServer> {
  const store = await openStore({
    dataDir: config.dataDir,
    clickhouseUrl: config.clickhouseUrl,
    database: config.database,
    retentionDays: retentionDays(config.retention),
    traceRetentionHours: retentionHours(config.traceRetention),
    flushMs: config.flushMs,
  })
  const labelLimits = { ...defaultLabelLimits, maxLabels: config.maxLabels }
  const limits = { ...defaultLimits, maxStackDepth: config.maxStackDepth }
  const ingestConfig = {
    maxDecompressedBytes: config.maxDecompressedBytes,
    limits,
    labelLimits,
    retentionDays: retentionDays(config.retention),
    retention: config.retention,
    traceRetentionHours: retentionHours(config.traceRetention),
  }
  const ingest = new Ingester(store, ingestConfig, new IngestPool(ingestWorkers(), ingestConfig, log))
  const ctx: Context = { config, store, ingest, labelLimits, limits, metrics: new Metrics(), log }
  // Started here, after the store opened: startup's own work is not what it measures.
  const loop = new EventLoopMonitor()
  const router = new Router()
  // Credentials first: without them a client learns nothing, not even which routes exist.
  const admit = (raw: RequestHeaders): string => {
    checkAuth(raw, config)
    return tenantOf(raw, config.multitenancy)
  }
  // Handlers throw; the one catch in the request handler below answers with the error.
  let ready = false
  router.on('GET', '/ready', (_req, res) => {
    // A store that refuses writes (disk full) fails every ingest: a load balancer should stop
    // sending there until a group commit succeeds again.
    const refusing = store.writer.lastError
    const status = !ready ? 'starting\n' : refusing ? `the store refuses writes: ${refusing}\n` : 'ready\n'
    sendBytes(res, ready && !refusing ? 200 : 503, 'text/plain', status)
  })
  // Under --multitenancy a tenant sees only its own counters (the tenant header is required there).
  router.on('GET', '/metrics', (req, res) => {
    const tenant = config.multitenancy ? req.tenant : undefined
    const own = tenant === undefined ? loop.metricsText().join('\n') + '\n' : ''
    sendBytes(res, 200, 'text/plain; version=0.0.4', metricsText(ctx, tenant) + own + recording.metricsText(tenant))
  })
  router.on('POST', '/ingest', (req, res) => handleIngest(ctx, req, res))
  router.on('POST', '/pyroscope/ingest', (req, res) => handleIngest(ctx, req, res))
  router.on('GET', '/pyroscope/render', (req, res) => handleRender(ctx, req, res))
  router.on('GET', '/pyroscope/render-diff', (req, res) => handleRenderDiff(ctx, req, res))
  router.on('GET', '/pyroscope/label-values', (req, res) => handleLabelValuesLegacy(ctx, req, res))
  // Pyroscope's RPCs (push.v1, querier.v1, …): Connect, gRPC and gRPC-web, HTTP/1.1 and h2c.
  // The recording-rules RPCs answer once the rules are loaded, below.
  let recordingApi: RecordingRulesApi | undefined
  const rpc = createRpc(ctx, { recordingRules: () => recordingApi })
  mountApi(router, ctx)
  mountRuns(router, ctx)
  mountTrace(router, ctx)
  mountPxl(router, ctx)
  mountDashboards(router, ctx)
  // Profiles turned into counters for the /metrics above (recording rules, docs/recording-rules.md).
  const recording = await startRecordingRules(router, ctx)
  recordingApi = recording.api
  let scraper: Scraper | null = null
  router.on('GET', '/api/v1/scrape-targets', (req, res) =>
    sendJson(res, 200, scraper?.status(config.multitenancy ? req.tenant : undefined) ?? []),
  )
  router.prefix('GET', '/', staticHandler(config.uiDir))

  // 1 MiB of request line and headers: long `name=app{…}` parameters get a clear JSON error from
  // the label checks instead of Node's bare 431.
  const server: Server = createServer({ maxHeaderSize: 1 << 20 }, async (raw, res) => {
    const url = new URL(raw.url ?? '/', 'http://x')
    const path = url.pathname
    if (rpc.claims(path)) return rpc.handle(raw, res, () => admit(raw))
    try {
      // Credentials first: without them a client learns nothing, not even which routes exist.
      if (path !== '/ready') checkAuth(raw, config)
      const h = router.find(raw.method ?? 'GET', path)
      if (h === undefined) throw new KilnError('KILN_NOT_FOUND', `no route ${raw.method} ${path}; the APIs are listed in docs/api.md`)
      if (h === 'method') throw new KilnError('KILN_METHOD', `${raw.method} is not allowed on ${path}`)
      const req: Req = {
        raw,
        method: raw.method ?? 'GET',
        path,
        query: url.searchParams,
        tenant: path === '/ready' ? 'anonymous' : tenantOf(raw, config.multitenancy),
        body: () => readBody(raw, config.maxBodyBytes),
      }
      await h(req, res)
    } catch (e) {
      if (e instanceof KilnError) ctx.metrics.error(e.status)
      // The client may still be sending (a body over the limit): read it to the end first, so the
      // answer reaches it rather than a reset (EPIPE). Up to 1 GiB or 30 s, then the connection closes.
      if (!raw.readableEnded && !(await drainBody(raw, DRAIN_MAX_BYTES))) res.setHeader('connection', 'close')
      sendError(res, e, log)
    }
  })
  // Over HTTP/2 (h2c: gRPC clients) only the RPCs are served; the HTTP API stays on HTTP/1.1.
  const h2c = acceptH2c(server, (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0]!
    if (rpc.claims(path)) return void rpc.handle(req, res, () => admit(req))
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end(
      JSON.stringify({
        code: 'KILN_NOT_FOUND',
        message: `over HTTP/2 Kiln serves the RPCs only (/package.Service/Method): call ${path.slice(0, 200)} over HTTP/1.1`,
      }),
    )
  })
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy()
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW'
    const body = JSON.stringify({
      code: tooLarge ? 'KILN_TOO_LARGE' : 'KILN_BAD_REQUEST',
      message: tooLarge ? 'request line and headers are over 1 MiB' : `malformed HTTP request: ${err.message}`,
    })
    socket.end(
      `HTTP/1.1 ${tooLarge ? 431 : 400} Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    )
  })
  server.keepAliveTimeout = 65_000
  server.headersTimeout = 66_000
  server.requestTimeout = 120_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE'
          ? new KilnError('KILN_USAGE', `port ${config.port} is in use: stop the other server or pick another with --port`)
          : e,
      ),
    )
    server.listen(config.port, config.host, () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  // Under --multitenancy any tenant name can be claimed by a client, so no tenant is safe to hold
  // the server's own stacks (file paths, internals): self-profiling is off there.
  const selfProfile = config.selfProfile && !config.multitenancy
  if (config.selfProfile && config.multitenancy) log("self-profiling is off under --multitenancy: every tenant name is a client's to claim")
  const stopSelf = selfProfile ? await startSelfProfiling({ ingest, tenant: 'anonymous', log }) : null
  scraper = new Scraper(config.scrape, { ingest, maxBodyBytes: config.maxBodyBytes, log })
  ready = true
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host
  return {
    url: `http://${host}:${port}`,
    port,
    ctx,
    async close() {
      ready = false
      await stopSelf?.()
      await scraper?.stop()
      await recording.close()
      h2c.close()
      await new Promise<void>((r) => {
        server.close(() => r())
        server.closeIdleConnections()
      })
      await ingest.close()
      await store.close()
      loop.stop()
    },
  }
}

/**
 * Decoding threads: one per core beyond the first, at least 1, at most 4 (KILN_INGEST_WORKERS
 * overrides); the main thread keeps HTTP and the group commit, the engine has its own threads.
 */
function ingestWorkers(): number {
  const n = Number(process.env.KILN_INGEST_WORKERS)
  if (Number.isInteger(n) && n > 0) return n
  return Math.max(1, Math.min(4, availableParallelism() - 1))
}

/** Prometheus text; with a tenant, only that tenant's ingest counters (the rest are the whole server's). */
function metricsText(ctx: Context, tenant?: string): string {
  const m = ctx.metrics
  const ingest = m.ingest(tenant)
  const lines = [
    '# HELP kiln_ingest_requests_total Ingest requests accepted.',
    '# TYPE kiln_ingest_requests_total counter',
    `kiln_ingest_requests_total ${ingest.requests}`,
    '# HELP kiln_ingest_series_total Series written by ingest requests.',
    '# TYPE kiln_ingest_series_total counter',
    `kiln_ingest_series_total ${ingest.series}`,
    '# HELP kiln_ingest_bytes_total Request body bytes accepted by ingest.',
    '# TYPE kiln_ingest_bytes_total counter',
    `kiln_ingest_bytes_total ${ingest.bytes}`,
  ]
  if (tenant !== undefined) return lines.join('\n') + '\n'
  lines.push(
    '# HELP kiln_store_samples_written_total Sample rows written to the store.',
    '# TYPE kiln_store_samples_written_total counter',
    `kiln_store_samples_written_total ${ctx.store.writer.samplesWritten}`,
    '# HELP kiln_http_errors_total Requests answered with an error, by status.',
    '# TYPE kiln_http_errors_total counter',
    ...[...m.errors].map(([s, n]) => `kiln_http_errors_total{status="${s}"} ${n}`),
    '# HELP kiln_trace_rows_written_total Request-tracing rows written, by table.',
    '# TYPE kiln_trace_rows_written_total counter',
    ...[...ctx.store.trace.written].map(([t, n]) => `kiln_trace_rows_written_total{table="${t}"} ${n}`),
  )
  return lines.join('\n') + '\n'
}
