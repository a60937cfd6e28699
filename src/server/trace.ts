/** Request tracing: the agent's rows in (`POST /api/v1/trace/events`), the table list out. */
import { traceTables } from '../model/trace-tables.ts'
import { sendJson, type Router } from './http.ts'
import type { Context } from './context.ts'

export function mountTrace(router: Router, ctx: Context): void {
  router.on('POST', '/api/v1/trace/events', async (req, res) => {
    sendJson(res, 200, { rows: await ctx.ingest.traceEvents(req.tenant, await req.body()) })
  })
  router.on('GET', '/api/v1/trace/tables', (_req, res) => sendJson(res, 200, traceTables))
}
