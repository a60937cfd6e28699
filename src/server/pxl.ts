/**
 * PxL: `POST /api/v1/pxl/run` runs a script (or a script folder's vis.json, or a bundled `px/NAME`)
 * for the CLI, the Live view and dashboard panels; `GET /api/v1/pxl/catalog` lists what scripts can
 * name; `GET /api/v1/pxl/scripts` the bundled library.
 */
import { KilnError } from '../model/errors.ts'
import { PxlRunner, pxlCatalog, type PxlArg, type PxlRequest } from '../pxl/index.ts'
import { bundledScript, bundledScripts, parseVis, runFolder, type ScriptFolder } from '../pxl/library.ts'
import { sendJson, type Req, type Router } from './http.ts'
import type { Context } from './context.ts'

// Generous for hand-written scripts (Pixie's largest bundled script is ~12 KB), small for a parser.
const MAX_SCRIPT_BYTES = 256 * 1024
const MAX_ROWS = 100_000

/** A run request: a script with its function and arguments, or a folder (bundled by name, or a script with its vis.json). */
type RunRequest = { kind: 'script'; req: PxlRequest } | { kind: 'folder'; folder: ScriptFolder; args: Record<string, string> }

async function pxlRequest(req: Req): Promise<RunRequest> {
  let body: unknown
  try {
    body = JSON.parse((await req.body()).toString('utf8'))
  } catch (e) {
    throw new KilnError(
      'KILN_BAD_REQUEST',
      `body is not JSON: ${(e as Error).message}; send {"script": "import px\\n…", "args": {…}, "func": "…"}`,
    )
  }
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new KilnError('KILN_BAD_REQUEST', 'expected a JSON object {"script": …, "args"?: {…}, "func"?: …}')
  const { script, args, func, maxRows, name, vis, ...rest } = body as Record<string, unknown>
  const unknown = Object.keys(rest)
  if (unknown.length)
    throw new KilnError('KILN_BAD_REQUEST', `unknown field ${JSON.stringify(unknown[0])}; fields: script, args, func, maxRows, name, vis`)
  if (name !== undefined || vis !== undefined) return folderRequest(script, name, vis, args, func, maxRows)
  if (typeof script !== 'string' || script.trim() === '')
    throw new KilnError('KILN_BAD_REQUEST', '"script" is required: the PxL source as a string (or "name": "px/…" for a bundled script)')
  if (Buffer.byteLength(script) > MAX_SCRIPT_BYTES) throw new KilnError('KILN_TOO_LARGE', `script is over ${MAX_SCRIPT_BYTES} bytes`)
  const out: PxlRequest = { script }
  if (func !== undefined) {
    if (typeof func !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(func))
      throw new KilnError('KILN_BAD_REQUEST', '"func" is the name of a function defined in the script')
    out.func = func
  }
  if (args !== undefined) {
    if (!args || typeof args !== 'object' || Array.isArray(args))
      throw new KilnError('KILN_BAD_REQUEST', '"args" is an object of argument name → string, number or boolean')
    for (const [k, v] of Object.entries(args)) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
        throw new KilnError('KILN_BAD_REQUEST', `argument ${JSON.stringify(k)} is a string, number or boolean`)
    }
    out.args = args as Record<string, PxlArg>
  }
  if (maxRows !== undefined) {
    if (typeof maxRows !== 'number' || !Number.isInteger(maxRows) || maxRows < 1 || maxRows > MAX_ROWS)
      throw new KilnError('KILN_BAD_REQUEST', `"maxRows" is an integer from 1 to ${MAX_ROWS}`)
    out.maxRows = maxRows
  }
  return { kind: 'script', req: out }
}

/** `{name: "px/http_data", args}` or `{script, vis, args}`: variables are given as text, as on a command line. */
function folderRequest(script: unknown, name: unknown, vis: unknown, args: unknown, func: unknown, maxRows: unknown): RunRequest {
  if (func !== undefined || maxRows !== undefined)
    throw new KilnError('KILN_BAD_REQUEST', '"func" and "maxRows" go with "script" alone; a vis.json names its functions itself')
  let folder: ScriptFolder
  if (name !== undefined) {
    if (typeof name !== 'string' || script !== undefined || vis !== undefined)
      throw new KilnError('KILN_BAD_REQUEST', '"name" is a bundled script such as "px/http_data", given alone (without script or vis)')
    folder = bundledScript(name)
  } else {
    if (typeof script !== 'string' || script.trim() === '')
      throw new KilnError('KILN_BAD_REQUEST', '"vis" needs its "script": the PxL source as a string')
    if (Buffer.byteLength(script) > MAX_SCRIPT_BYTES) throw new KilnError('KILN_TOO_LARGE', `script is over ${MAX_SCRIPT_BYTES} bytes`)
    const v = parseVis(typeof vis === 'string' ? vis : JSON.stringify(vis), 'vis')
    folder = { name: 'script', short: '', long: '', script, vis: v }
  }
  const given: Record<string, string> = {}
  if (args !== undefined) {
    if (!args || typeof args !== 'object' || Array.isArray(args))
      throw new KilnError('KILN_BAD_REQUEST', '"args" is an object of variable name → value')
    for (const [k, v] of Object.entries(args)) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
        throw new KilnError('KILN_BAD_REQUEST', `argument ${JSON.stringify(k)} is a string, number or boolean`)
      given[k] = String(v)
    }
  }
  return { kind: 'folder', folder, args: given }
}

export function mountPxl(router: Router, ctx: Context): void {
  const runner = new PxlRunner(ctx.store.client, ctx.store.db)
  router.on('POST', '/api/v1/pxl/run', async (req, res) => {
    const r = await pxlRequest(req)
    sendJson(res, 200, r.kind === 'script' ? await runner.run(req.tenant, r.req) : await runFolder(runner, req.tenant, r.folder, r.args))
  })
  router.on('GET', '/api/v1/pxl/catalog', (_req, res) => sendJson(res, 200, pxlCatalog()))
  // Read once: the library ships with the server and does not change while it runs.
  const library = bundledScripts().map(({ name, short, long, script, vis }) => ({ name, short, long, script, vis }))
  router.on('GET', '/api/v1/pxl/scripts', (_req, res) => sendJson(res, 200, library))
}
