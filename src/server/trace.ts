/** Request tracing: the agent's rows in (`POST /api/v1/trace/events`), the table list out. */
import { KilnError } from '../model/errors.ts'
import { checkTraceBatch } from '../model/trace-rows.ts'
import { traceTables } from '../model/trace-tables.ts'
import { maybeGunzip } from '../formats/gzip.ts'
import { retentionHours } from './config.ts'
import { sendJson, type Router } from './http.ts'
import type { Context } from './context.ts'

export function mountTrace(router: Router, ctx: Context): void {
  router.on('POST', '/api/v1/trace/events', async (req, res) => {
    // The agent gzips its batches (JSON of repetitive rows shrinks ~10×); bombs stop at the configured cap.
    const raw = maybeGunzip(await req.body(), { maxBytes: ctx.config.maxDecompressedBytes })
    let body: unknown
    try {
      body = JSON.parse(Buffer.from(raw).toString('utf8'))
    } catch (e) {
      throw new KilnError('KILN_BAD_REQUEST', `body is not JSON: ${(e as Error).message}`)
    }
    const hours = retentionHours(ctx.config.traceRetention)
    const oldest = hours > 0 ? BigInt(Date.now() - hours * 3_600_000) * 1_000_000n : 0n
    const { batch, rows } = checkTraceBatch(body, oldest)
    await ctx.store.trace.insert(req.tenant, batch)
    sendJson(res, 200, { rows })
  })
  router.on('GET', '/api/v1/trace/tables', (_req, res) => sendJson(res, 200, traceTables))
}
