/** Pyroscope's `POST /ingest`: reads the request's parameters and body, hands them to ingest, answers 200. */
import type { ServerResponse } from 'node:http'
import type { Req } from './http.ts'
import type { Context } from './context.ts'

export async function handleIngest(ctx: Context, req: Req, res: ServerResponse): Promise<void> {
  const q = req.query
  const params = {
    name: q.get('name'),
    from: q.get('from'),
    until: q.get('until'),
    sampleRate: q.get('sampleRate'),
    spyName: q.get('spyName'),
    format: q.get('format'),
    contentType: String(req.raw.headers['content-type'] ?? ''),
    retime: q.get('retime') === '1' || q.get('retime') === 'true',
  }
  const body = await req.body()
  const series = await ctx.ingest.request(req.tenant, params, body)
  ctx.metrics.ingested(req.tenant, series, body.length)
  res.writeHead(200, { 'content-length': 0 })
  res.end()
}
