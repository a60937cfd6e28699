import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { parseCommand, str, type CommandSpec } from './args.ts'
import { KilnError } from '../model/errors.ts'
import { parseDuration } from '../model/time.ts'
import { parseAppName } from '../model/labels.ts'
import { CallTree } from '../model/tree.ts'
import { flameGraph } from '../model/flamegraph.ts'
import { collapsePerfData, recordPerf } from '../flamegraph/perf-record.ts'
import { renderSvg } from '../flamegraph/svg.ts'
import { writeLatin1 } from '../flamegraph/lines.ts'
import type { PerfCollapser } from '../flamegraph/collapse-perf.ts'

export const spec: CommandSpec = {
  name: 'profile',
  usage: "kiln profile (--pid PID | -- CMD ARGS…) [--duration 30s] [--frequency 99] [--svg out.svg | --server URL --name 'app{k=v}']",
  summary: 'Profile one process with perf (CPU, call graphs): an SVG flame graph, folded stacks, or a push to a server.',
  description:
    'Records the process PID for --duration, or runs CMD until it exits (or --duration ends), with\n' +
    '`perf record -g` at --frequency Hz, then collapses the stacks (one count per sample). Writes an\n' +
    'SVG flame graph with --svg, pushes the profile to a Kiln or Pyroscope server with --server\n' +
    '(POST /ingest, format=folded), or else prints folded stacks. Needs perf (Debian: linux-perf) and\n' +
    'the right to use it (root, CAP_PERFMON, or kernel.perf_event_paranoid ≤ 1). For JIT frames run\n' +
    'Node with --perf-basic-prof, Java with -XX:+DumpPerfMapAtExit or a perf map agent.',
  options: {
    pid: { type: 'string', short: 'p', arg: 'PID', help: 'the process to record' },
    duration: {
      type: 'string',
      short: 'd',
      arg: 'DURATION',
      help: 'how long to record (default 30s with --pid; with a command, until it exits)',
    },
    frequency: { type: 'string', short: 'F', arg: 'HZ', default: '99', help: 'samples per second' },
    svg: { type: 'string', arg: 'FILE', help: 'write an SVG flame graph' },
    server: { type: 'string', arg: 'URL', help: 'push to this Kiln/Pyroscope server' },
    name: { type: 'string', arg: "'app{k=v}'", help: 'application name and labels for --server' },
    title: { type: 'string', arg: 'TEXT', help: 'SVG title (default: what was profiled)' },
    input: { type: 'string', arg: 'PERF.DATA', help: 'use an existing perf.data instead of recording' },
  },
  examples: [
    'kiln profile --pid 1234 --duration 30s --svg app.svg',
    'kiln profile --svg node.svg -- node --perf-basic-prof server.js',
    "kiln profile --pid 1234 --server http://localhost:4040 --name 'myapp.cpu{env=prod}'",
  ],
}

interface Plan {
  pid?: number
  command: string[]
  durationMs?: number
  frequency: number
  svg?: string
  server?: URL
  name?: string
  input?: string
}

function plan(p: NonNullable<ReturnType<typeof parseCommand>>): Plan {
  const pidText = str(p, 'pid')
  const command = p.positionals
  const input = str(p, 'input')
  const sources = [pidText !== undefined, command.length > 0, input !== undefined].filter(Boolean).length
  if (sources !== 1)
    throw new KilnError('KILN_USAGE', 'profile: give one of --pid PID, a command after -- (kiln profile -- ./app), or --input perf.data')
  const out: Plan = { command, frequency: Number(str(p, 'frequency')) }
  if (!Number.isInteger(out.frequency) || out.frequency < 1 || out.frequency > 100000)
    throw new KilnError('KILN_USAGE', `--frequency ${str(p, 'frequency')}: expected whole Hz between 1 and 100000 (99 is usual)`)
  if (pidText !== undefined) {
    if (!/^\d+$/.test(pidText) || Number(pidText) < 1)
      throw new KilnError('KILN_USAGE', `--pid ${pidText}: expected a process id (a positive number)`)
    out.pid = Number(pidText)
    if (!existsSync(`/proc/${out.pid}`)) throw new KilnError('KILN_NOT_FOUND', `no process with pid ${out.pid}; list processes with ps -e`)
  }
  const d = str(p, 'duration')
  if (d !== undefined) out.durationMs = parseDuration(/^\d+(\.\d+)?$/.test(d) ? `${d}s` : d)
  else if (out.pid !== undefined) out.durationMs = 30000
  if (out.durationMs !== undefined && !(out.durationMs > 0)) throw new KilnError('KILN_USAGE', `--duration ${d}: must be more than 0`)
  const svg = str(p, 'svg')
  const server = str(p, 'server')
  if (svg !== undefined && server !== undefined)
    throw new KilnError('KILN_USAGE', 'profile: --svg and --server are exclusive; run twice or use kiln flamegraph on the folded output')
  if (svg !== undefined) out.svg = svg
  if (server !== undefined) {
    try {
      out.server = new URL(server)
    } catch {
      throw new KilnError('KILN_USAGE', `--server ${server}: not a URL; e.g. http://localhost:4040`)
    }
    const name = str(p, 'name')
    if (!name) throw new KilnError('KILN_USAGE', "--server needs --name 'app{k=v}' (the application name and labels)")
    parseAppName(name)
    out.name = name
  } else if (str(p, 'name') !== undefined) throw new KilnError('KILN_USAGE', '--name goes with --server')
  if (input !== undefined) out.input = input
  return out
}

/** POSTs folded stacks to `{server}/ingest` as the Pyroscope ingest API takes them. */
async function push(o: Plan, folded: string, from: number, until: number): Promise<void> {
  const url = new URL('ingest', o.server!.href.endsWith('/') ? o.server! : new URL(o.server!.href + '/'))
  url.searchParams.set('name', o.name!)
  url.searchParams.set('from', String(Math.floor(from / 1000)))
  url.searchParams.set('until', String(Math.ceil(until / 1000)))
  url.searchParams.set('format', 'folded')
  url.searchParams.set('sampleRate', String(o.frequency))
  url.searchParams.set('spyName', 'perf')
  let res: Response
  try {
    res = await fetch(url, {
      method: 'POST',
      body: Buffer.from(folded, 'latin1'),
      headers: { 'content-type': 'text/plain' },
      signal: AbortSignal.timeout(30000),
    })
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause
    throw new KilnError(
      'KILN_BAD_REQUEST',
      `cannot reach ${o.server!.origin}: ${cause?.code ?? cause?.message ?? (e as Error).message}; is the server running?`,
    )
  }
  if (!res.ok) {
    const body = (await res.text().catch(() => '')).slice(0, 300)
    throw new KilnError('KILN_BAD_REQUEST', `${o.server!.origin} refused the profile: HTTP ${res.status} ${body}`)
  }
}

const treeOf = (c: PerfCollapser): CallTree => {
  const t = new CallTree()
  for (const [stack, n] of c.entries()) t.add(stack.split(';'), n)
  return t
}

export async function run(argv: string[]): Promise<number> {
  const p = parseCommand(spec, argv)
  if (!p) return 0
  const o = plan(p)
  const dir = mkdtempSync(join(tmpdir(), 'kiln-profile-'))
  try {
    let from = Date.now()
    let until = from
    let expected: number | undefined
    let dataFile = o.input
    if (!dataFile) {
      const what = o.pid !== undefined ? `pid ${o.pid}` : `'${o.command.join(' ')}'`
      process.stderr.write(
        `kiln: recording ${what} at ${o.frequency} Hz${o.durationMs !== undefined ? ` for ${o.durationMs / 1000}s` : ''}\n`,
      )
      const rec = await recordPerf({
        ...(o.pid !== undefined ? { pid: o.pid } : { command: o.command }),
        ...(o.durationMs !== undefined ? { durationMs: o.durationMs } : {}),
        frequency: o.frequency,
        dataFile: join(dir, 'perf.data'),
        commandStdout: o.svg !== undefined || o.server ? 'stdout' : 'stderr',
      })
      ;({ from, until, dataFile } = rec)
      expected = rec.samples
    }
    const c = await collapsePerfData(dataFile, expected !== undefined ? { expectedSamples: expected } : {})
    if (c.samples === 0)
      throw new KilnError(
        'KILN_NOT_FOUND',
        'perf recorded no samples: the process used no CPU while recorded; record longer or while it is busy',
      )
    const folded = c.folded()
    if (o.server) {
      await push(o, folded, from, until)
      process.stderr.write(`kiln: pushed ${c.samples} samples to ${o.server.origin} as ${o.name}\n`)
    } else if (o.svg !== undefined) {
      const title =
        str(p, 'title') ?? `CPU: ${o.pid !== undefined ? `pid ${o.pid}` : o.input ? basename(o.input) : basename(o.command[0]!)}`
      const svg = renderSvg(flameGraph(treeOf(c)), { title, subtitle: `${c.samples} samples at ${o.frequency} Hz (kiln profile)` })
      writeFileSync(o.svg, svg, 'latin1')
      process.stderr.write(`kiln: wrote ${o.svg} (${c.samples} samples)\n`)
    } else await writeLatin1(folded)
    return 0
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
