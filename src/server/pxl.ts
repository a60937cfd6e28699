/** PxL: `POST /api/v1/pxl/run` runs a script for the CLI, the Live view and dashboard panels; `GET /api/v1/pxl/catalog` lists what scripts can name. */
import { KilnError } from '../model/errors.ts'
import { PxlRunner, pxlCatalog, type PxlArg, type PxlRequest } from '../pxl/index.ts'
import { sendJson, type Req, type Router } from './http.ts'
import type { Context } from './context.ts'

// Generous for hand-written scripts (Pixie's largest bundled script is ~12 KB), small for a parser.
const MAX_SCRIPT_BYTES = 256 * 1024
const MAX_ROWS = 100_000

async function pxlRequest(req: Req): Promise<PxlRequest> {
  let body: unknown
  try {
    body = JSON.parse((await req.body()).toString('utf8'))
  } catch (e) {
    throw new KilnError('KILN_BAD_REQUEST', `body is not JSON: ${(e as Error).message}; send {"script": "import px\\n…", "args": {…}, "func": "…"}`)
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new KilnError('KILN_BAD_REQUEST', 'expected a JSON object {"script": …, "args"?: {…}, "func"?: …}')
  const { script, args, func, maxRows, ...rest } = body as Record<string, unknown>
  const unknown = Object.keys(rest)
  if (unknown.length) throw new KilnError('KILN_BAD_REQUEST', `unknown field ${JSON.stringify(unknown[0])}; fields: script, args, func, maxRows`)
  if (typeof script !== 'string' || script.trim() === '') throw new KilnError('KILN_BAD_REQUEST', '"script" is required: the PxL source as a string')
  if (Buffer.byteLength(script) > MAX_SCRIPT_BYTES) throw new KilnError('KILN_TOO_LARGE', `script is over ${MAX_SCRIPT_BYTES} bytes`)
  const out: PxlRequest = { script }
  if (func !== undefined) {
    if (typeof func !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(func)) throw new KilnError('KILN_BAD_REQUEST', '"func" is the name of a function defined in the script')
    out.func = func
  }
  if (args !== undefined) {
    if (!args || typeof args !== 'object' || Array.isArray(args)) throw new KilnError('KILN_BAD_REQUEST', '"args" is an object of argument name → string, number or boolean')
    for (const [k, v] of Object.entries(args)) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new KilnError('KILN_BAD_REQUEST', `argument ${JSON.stringify(k)} is a string, number or boolean`)
    }
    out.args = args as Record<string, PxlArg>
  }
  if (maxRows !== undefined) {
    if (typeof maxRows !== 'number' || !Number.isInteger(maxRows) || maxRows < 1 || maxRows > MAX_ROWS) throw new KilnError('KILN_BAD_REQUEST', `"maxRows" is an integer from 1 to ${MAX_ROWS}`)
    out.maxRows = maxRows
  }
  return out
}

export function mountPxl(router: Router, ctx: Context): void {
  const runner = new PxlRunner(ctx.store.client, ctx.store.db)
  router.on('POST', '/api/v1/pxl/run', async (req, res) => sendJson(res, 200, await runner.run(req.tenant, await pxlRequest(req))))
  router.on('GET', '/api/v1/pxl/catalog', (_req, res) => sendJson(res, 200, pxlCatalog()))
}
