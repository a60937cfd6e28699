import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { parseCommand, str, type CommandSpec } from './args.ts'
import { defaultServer, request } from '../client/client.ts'
import { KilnError } from '../model/errors.ts'
import { gzip, isGzip, maybeGunzip, sniffFormat } from '../formats/index.ts'
import { collapsePerf } from '../flamegraph/collapse-perf.ts'
import { parseAppName } from '../model/labels.ts'

export const spec: CommandSpec = {
  name: 'ingest',
  usage: "kiln ingest FILE… [--name 'app.cpu{k=v}'] [--at TIME] [--server URL]",
  summary:
    'Send profile files to a Kiln (or Pyroscope) server. The format is sniffed: pprof (gzipped or not), folded stacks, perf script output, speedscope JSON.',
  description:
    "Folded stacks and perf script are typed by the name's suffix, as Pyroscope does: app.cpu (default), app.wall,\n" +
    'app.alloc_space, app.inuse_objects, … For pprof every sample type becomes its own series. Bodies are sent gzipped.\n' +
    "A pprof or JFR file carries its own time; an old recording is refused by the server's retention unless it is\n" +
    're-timed: --at now (or any TIME) stores it as taken then, and --from, when given, wins over the time in the file.',
  options: {
    name: { type: 'string', short: 'n', arg: "'APP{k=v}'", help: 'application name and labels (default: the file name)' },
    server: { type: 'string', short: 's', arg: 'URL', help: 'server address (default: $KILN_SERVER or http://localhost:4040)' },
    format: { type: 'string', arg: 'FORMAT', help: 'pprof, folded, lines, speedscope or perf (default: sniffed)' },
    'sample-rate': {
      type: 'string',
      arg: 'HZ',
      help: 'sampling frequency of folded/perf input (perf record -F); the server assumes 100; JFR and pprof carry their own',
    },
    from: { type: 'string', arg: 'TIME', help: "start of the profile (unix time, now-1m, ISO date); replaces the file's own time" },
    at: { type: 'string', arg: 'TIME', help: 'store the profile as taken at TIME (e.g. now), whatever time the file carries' },
    until: { type: 'string', arg: 'TIME', help: 'end of the profile' },
    tenant: { type: 'string', arg: 'ID', help: 'X-Scope-OrgID for a multi-tenant server' },
  },
  examples: [
    "kiln ingest cpu.pb.gz --name 'checkout{env=prod}'",
    'kiln ingest old-recording.pb.gz --at now',
    "perf script | kiln collapse perf > out.folded && kiln ingest out.folded --name 'db.cpu' --sample-rate 99",
  ],
}

/** True when text looks like `perf script` output: a header line, then indented address + symbol lines. */
export function sniffPerfScript(bytes: Uint8Array): boolean {
  const head = Buffer.from(bytes.subarray(0, 8192)).toString('latin1')
  return /^\S.*\s\d+(\/\d+)?\s.*:\s*\n[\t ]+[0-9a-f]+ .+ \(.*\)$/m.test(head)
}

export async function run(argv: string[]): Promise<number> {
  const p = parseCommand(spec, argv)
  if (!p) return 0
  if (!p.positionals.length) throw new KilnError('KILN_USAGE', "no files given: kiln ingest FILE… --name 'app.cpu{env=prod}'")
  const server = str(p, 'server') ?? defaultServer()
  for (const file of p.positionals) {
    let bytes: Uint8Array
    try {
      bytes = readFileSync(file === '-' ? 0 : file)
    } catch (e) {
      throw new KilnError('KILN_USAGE', `cannot read ${file}: ${(e as Error).message}`)
    }
    const name =
      str(p, 'name') ??
      basename(file)
        .replace(/\.(gz|pb|pprof|prof|folded|txt|json|perf)$/g, '')
        .replace(/[^A-Za-z0-9_.-]/g, '_')
    parseAppName(name)
    const plain = maybeGunzip(bytes)
    let format = str(p, 'format') ?? (sniffPerfScript(plain) ? 'perf' : sniffFormat(plain))
    if (!format)
      throw new KilnError(
        'KILN_BAD_FORMAT',
        `${file}: not a profile Kiln can read (pprof, folded, perf script, speedscope); pass --format if it is one`,
      )
    let body: Uint8Array = bytes
    let sampleRate = str(p, 'sample-rate')
    if (format === 'perf') {
      // perf script's period is the count stackcollapse-perf keeps; for the clock events it is
      // nanoseconds already, so no scaling by a sampling rate.
      const event = /^\S.*\s\d+(?:\/\d+)?\s.*?(\S+):\s*$/m.exec(Buffer.from(plain.subarray(0, 4096)).toString('latin1'))?.[1] ?? ''
      if (/^(cpu-clock|task-clock)/.test(event)) sampleRate = '1000000000'
      const folded = collapsePerf(Buffer.from(plain).toString('latin1'))
      if (!folded.trim()) throw new KilnError('KILN_BAD_FORMAT', `${file}: perf script output without any complete sample (truncated?)`)
      body = Buffer.from(folded, 'latin1')
      format = 'folded'
    }
    const params = new URLSearchParams({ name, format })
    if (sampleRate) params.set('sampleRate', sampleRate)
    const from = str(p, 'at') ?? str(p, 'from')
    if (from) params.set('from', from)
    if (str(p, 'until')) params.set('until', str(p, 'until')!)
    // The request's time replaces the file's (retime=1): old recordings can be stored as now.
    if (from) params.set('retime', '1')
    // Gzipped: folded and perf text shrink 10–30×; the server tells gzip by its magic bytes.
    if (!isGzip(body)) body = gzip(body)
    await request({ server, tenant: str(p, 'tenant') }, `/ingest?${params}`, { method: 'POST', body: Buffer.from(body) })
    process.stderr.write(`${file}: sent as ${format} to ${server} (${name})\n`)
  }
  return 0
}
