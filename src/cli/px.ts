/**
 * `kiln px run FILE.pxl|DIR|px/NAME [-- --arg=value …]`: runs a PxL script, a script folder in
 * Pixie's layout or a bundled script on a Kiln server (`POST /api/v1/pxl/run`) and prints each
 * displayed table as text, JSON or CSV. `kiln px scripts` lists the bundled scripts.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { parseCommand, str, type CommandSpec } from './args.ts'
import { defaultServer, request } from '../client/client.ts'
import { KilnError } from '../model/errors.ts'
import type { PxlResult, PxlTable } from '../pxl/index.ts'
import { bundledScripts, readScriptFolder } from '../pxl/library.ts'

export const spec: CommandSpec = {
  name: 'px',
  usage:
    'kiln px run (FILE.pxl | DIR | px/NAME) [--func NAME] [-o table|json|csv] [--server URL] [-- --ARG=VALUE …]\n       kiln px scripts',
  summary: "Run a PxL script (Pixie's query language) over the request-tracing tables and print each table it displays.",
  description: [
    "A script is a .pxl file, a folder in Pixie's layout (one .pxl, vis.json, manifest.yaml: every",
    'function vis.json calls is run with its variables, defaults from vis.json) or a bundled script',
    '(px/http_data, px/service_stats, …: `kiln px scripts` lists them).',
    'Arguments after -- are passed to the script function: `-- --start_time=-5m --svc=ns/name`.',
    'Without --func, the script runs from the top; a script that displays nothing and defines one',
    'function runs that function. The language is described in docs/pxl.md.',
  ].join('\n'),
  options: {
    func: { type: 'string', short: 'f', arg: 'NAME', help: 'function of the script to run with the arguments' },
    output: { type: 'string', short: 'o', arg: 'FORMAT', help: 'table, json (the API response) or csv', default: 'table' },
    'max-rows': { type: 'string', arg: 'N', help: 'rows per table at most', default: '10000' },
    server: { type: 'string', short: 's', arg: 'URL', help: 'server address (default: $KILN_SERVER or http://localhost:4040)' },
    tenant: { type: 'string', arg: 'ID', help: 'X-Scope-OrgID for a multi-tenant server' },
  },
  examples: [
    'kiln px scripts',
    'kiln px run px/http_request_stats -- --start_time=-15m',
    'kiln px run ./my_script_dir -- --svc=checkout',
    'kiln px run slow.pxl',
    'kiln px run http.pxl --func http_data -o csv -- --start_time=-15m --svc=production/frontend',
  ],
}

/** Script arguments after `--`: `--name=value` or `--name value`. */
export function scriptArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i < argv.length; i++) {
    const m = /^--?([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/s.exec(argv[i]!)
    if (!m) throw new KilnError('KILN_USAGE', `script argument ${JSON.stringify(argv[i])} is not --name=value`)
    if (m[2] !== undefined) out[m[1]!] = m[2]
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) out[m[1]!] = argv[++i]!
    else out[m[1]!] = 'true'
  }
  return out
}

/** The API request for a `kiln px run` target: a bundled `px/NAME`, a script folder, or a .pxl file. */
export function runBody(target: string, args: Record<string, string>, maxRows: number, func: string | undefined): Record<string, unknown> {
  if (/^px\/[A-Za-z0-9_]+$/.test(target) && !existsSync(target)) {
    if (func) throw new KilnError('KILN_USAGE', '--func goes with a .pxl file; a bundled script runs the functions its vis.json names')
    return { name: target, args }
  }
  let st: ReturnType<typeof statSync>
  try {
    st = statSync(target)
  } catch {
    throw new KilnError(
      'KILN_USAGE',
      `no such script file or folder: ${target}${target.startsWith('px/') ? " (bundled scripts are named px/NAME: 'kiln px scripts' lists them)" : ''}`,
    )
  }
  if (st.isDirectory()) {
    const folder = readScriptFolder(target)
    if (folder.vis) {
      if (func) throw new KilnError('KILN_USAGE', `--func goes with a .pxl file; ${target} has a vis.json that names its functions`)
      return { script: folder.script, vis: folder.vis, args }
    }
    return { script: folder.script, args, maxRows, ...(func ? { func } : {}) }
  }
  return { script: readFileSync(target, 'utf8'), args, maxRows, ...(func ? { func } : {}) }
}

/** `kiln px scripts [NAME]`: the bundled library, or one script's description, variables and source. */
function listScripts(name: string | undefined): number {
  const all = bundledScripts()
  if (name) {
    const s = all.find((x) => x.name === name)
    if (!s) throw new KilnError('KILN_USAGE', `no bundled script ${name}; bundled: ${all.map((x) => x.name).join(', ')}`)
    const vars = (s.vis?.variables ?? []).map(
      (v) =>
        `  --${v.name}  ${v.type}${v.defaultValue ? ` (default ${JSON.stringify(v.defaultValue.value)})` : ''}  ${v.description ?? ''}`,
    )
    process.stdout.write(`${s.name}: ${s.short}\n\n${s.long}\n\nvariables:\n${vars.join('\n') || '  (none)'}\n\n${s.script}`)
    return 0
  }
  const w = Math.max(...all.map((s) => s.name.length))
  process.stdout.write(all.map((s) => `${s.name.padEnd(w)}  ${s.short}`).join('\n') + '\n')
  return 0
}

export async function run(argv: string[]): Promise<number> {
  const cut = argv.indexOf('--')
  const own = cut < 0 ? argv : argv.slice(0, cut)
  const args = cut < 0 ? {} : scriptArgs(argv.slice(cut + 1))
  const p = parseCommand(spec, own)
  if (!p) return 0
  const [sub, target, ...extra] = p.positionals
  if (sub === 'scripts') return listScripts(target ?? extra[0])
  if (sub !== 'run')
    throw new KilnError(
      'KILN_USAGE',
      `${sub ? `unknown subcommand '${sub}'` : 'missing subcommand'}: use 'kiln px run FILE.pxl|DIR|px/NAME' or 'kiln px scripts'`,
    )
  if (!target)
    throw new KilnError('KILN_USAGE', "kiln px run needs a script: 'kiln px run FILE.pxl', a script folder, or a bundled px/NAME")
  if (extra.length)
    throw new KilnError('KILN_USAGE', `unexpected ${JSON.stringify(extra[0])}; script arguments go after --, e.g. -- --start_time=-5m`)
  const format = str(p, 'output')!
  if (!['table', 'json', 'csv'].includes(format)) throw new KilnError('KILN_USAGE', `unknown -o ${format}: use table, json or csv`)
  const maxRows = Number(str(p, 'max-rows'))
  if (!Number.isInteger(maxRows) || maxRows < 1) throw new KilnError('KILN_USAGE', '--max-rows is a positive integer')
  const body = runBody(target, args, maxRows, str(p, 'func'))
  const client = { server: str(p, 'server') ?? defaultServer(), tenant: str(p, 'tenant') }
  const res = await request(client, '/api/v1/pxl/run', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const result = (await res.json()) as PxlResult
  if (format === 'json') process.stdout.write(JSON.stringify(result) + '\n')
  else process.stdout.write(result.tables.map((t) => (format === 'csv' ? csvText(t, result.tables.length > 1) : tableText(t))).join('\n'))
  for (const t of result.tables)
    if (t.truncated) process.stderr.write(`kiln: ${t.name}: only the first ${t.rows.length} rows are shown (--max-rows)\n`)
  return 0
}

/** A cell as text: times as ISO with nanoseconds, floats to 6 significant digits. */
export function cellText(v: unknown, type: string): string {
  if (v === null || v === undefined) return ''
  if (type === 'TIME64NS' && typeof v === 'string' && /^\d+$/.test(v)) {
    const ns = BigInt(v)
    const iso = new Date(Number(ns / 1_000_000n)).toISOString()
    return `${iso.slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`
  }
  if (type === 'FLOAT64' && typeof v === 'number' && !Number.isInteger(v)) return String(Number(v.toPrecision(6)))
  return String(v)
}

export function tableText(t: PxlTable): string {
  const cells = t.rows.map((r) => r.map((v, i) => cellText(v, t.columns[i]!.type)))
  const head = t.columns.map((c) => c.name)
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (c: string[]) => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(w[i]!))).join('  ')
  return [`${t.name} (${t.rows.length} row${t.rows.length === 1 ? '' : 's'})`, line(head), ...cells.map(line)].join('\n') + '\n'
}

const csvCell = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s)

export function csvText(t: PxlTable, titled: boolean): string {
  const lines = [
    t.columns.map((c) => csvCell(c.name)).join(','),
    ...t.rows.map((r) => r.map((v, i) => csvCell(cellText(v, t.columns[i]!.type))).join(',')),
  ]
  return (titled ? `# ${t.name}\n` : '') + lines.join('\n') + '\n'
}
