import { writeFileSync } from 'node:fs'
import { parseCommand, str, type CommandSpec } from './args.ts'
import { defaultServer, request } from '../client/client.ts'
import { KilnError } from '../model/errors.ts'
import { parseSelector } from '../model/selector.ts'
import { formatValue } from '../model/units.ts'

export const spec: CommandSpec = {
  name: 'query',
  usage: "kiln query 'SELECTOR' [--type T] [--from TIME] [--until TIME] [--format top|folded|pprof|speedscope|json]",
  summary: 'Query the merged profile of every series matching a label selector: a top table in the terminal, or an export.',
  options: {
    type: { type: 'string', short: 't', arg: 'TYPE', help: 'profile type id (default: the CPU type, or the only one there is)' },
    from: { type: 'string', arg: 'TIME', help: 'start: unix time, now-1h, ISO date', default: 'now-1h' },
    until: { type: 'string', arg: 'TIME', help: 'end', default: 'now' },
    format: {
      type: 'string',
      short: 'f',
      arg: 'FORMAT',
      help: 'top (a table), folded, pprof (gzipped), speedscope or json (flame graph levels)',
      default: 'top',
    },
    output: { type: 'string', short: 'o', arg: 'FILE', help: 'write the export to FILE instead of standard output' },
    limit: { type: 'string', short: 'n', arg: 'N', help: 'rows of the top table', default: '20' },
    server: { type: 'string', short: 's', arg: 'URL', help: 'server address (default: $KILN_SERVER or http://localhost:4040)' },
    tenant: { type: 'string', arg: 'ID', help: 'X-Scope-OrgID for a multi-tenant server' },
  },
  examples: [
    'kiln query \'{service_name="api"}\'',
    'kiln query \'{service_name="api", env=~"prod|stage"}\' --from now-24h --format pprof -o api.pb.gz',
  ],
}

export async function run(argv: string[]): Promise<number> {
  const p = parseCommand(spec, argv)
  if (!p) return 0
  const selector = p.positionals[0] ?? '{}'
  parseSelector(selector)
  const client = { server: str(p, 'server') ?? defaultServer(), tenant: str(p, 'tenant') }
  const base = { query: selector, from: str(p, 'from')!, until: str(p, 'until')! }
  let type = str(p, 'type')
  if (!type) {
    const types = (await (await request(client, `/api/v1/profile-types?${new URLSearchParams(base)}`)).json()) as { id: string }[]
    if (!types.length)
      throw new KilnError(
        'KILN_NOT_FOUND',
        `no profiles match ${selector} between ${base.from} and ${base.until}; widen --from or check the selector`,
      )
    type = (types.find((t) => t.id.startsWith('process_cpu:cpu:')) ?? (types.length === 1 ? types[0] : undefined))?.id
    if (!type)
      throw new KilnError('KILN_USAGE', `several profile types match; pick one with --type:\n  ${types.map((t) => t.id).join('\n  ')}`)
  }
  const params = new URLSearchParams({ ...base, type })
  const format = str(p, 'format')!
  const out = (data: Uint8Array | string) => {
    const file = str(p, 'output')
    if (file) writeFileSync(file, data)
    else process.stdout.write(data)
  }
  if (format === 'top') {
    params.set('limit', str(p, 'limit')!)
    const r = (await (await request(client, `/api/v1/top?${params}`)).json()) as {
      rows: { name: string; self: number; total: number }[]
      total: number
      unit: string
    }
    out(topText(r.rows, r.total, r.unit, type))
  } else if (format === 'json') {
    out(await (await request(client, `/api/v1/flamegraph?${params}`)).text())
  } else if (format === 'folded' || format === 'pprof' || format === 'speedscope') {
    params.set('format', format)
    out(new Uint8Array(await (await request(client, `/api/v1/export?${params}`)).arrayBuffer()))
  } else throw new KilnError('KILN_USAGE', `unknown --format ${format}: use top, folded, pprof, speedscope or json`)
  return 0
}

/** The top table as aligned text: self and total with their share of the whole. */
export function topText(rows: { name: string; self: number; total: number }[], total: number, unit: string, type: string): string {
  const pct = (v: number) => (total ? `${((v / total) * 100).toFixed(2)}%` : '-')
  const cells = rows.map((r) => [formatValue(r.self, unit), pct(r.self), formatValue(r.total, unit), pct(r.total), r.name])
  const head = ['SELF', '', 'TOTAL', '', 'FUNCTION']
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (c: string[]) => c.map((x, i) => (i === 4 ? x : x.padStart(w[i]!))).join('  ')
  return [`${type}  total ${formatValue(total, unit)}`, line(head), ...cells.map(line)].join('\n') + '\n'
}
