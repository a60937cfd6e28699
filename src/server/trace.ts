/** Request tracing: the agent's rows in (`POST /api/v1/trace/events`), the table list out. */
import { traceTables } from '../model/trace-tables.ts'
import { TRACE_GROUPS_TYPE } from '../model/trace-groups.ts'
import { sendJson, type Router } from './http.ts'
import type { Context } from './context.ts'

export function mountTrace(router: Router, ctx: Context): void {
  router.on('POST', '/api/v1/trace/events', async (req, res) => {
    // The agent's grouped body by its content type; anything else is the plain JSON one (older agents, curl).
    const grouped = req.raw.headers['content-type']?.split(';')[0]?.trim().toLowerCase() === TRACE_GROUPS_TYPE
    sendJson(res, 200, { rows: await ctx.ingest.traceEvents(req.tenant, await req.body(), grouped) })
  })
  router.on('GET', '/api/v1/trace/tables', (_req, res) => sendJson(res, 200, traceTables))
}
