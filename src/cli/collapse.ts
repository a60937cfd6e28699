import { bool, parseCommand, str, type CommandSpec } from './args.ts'
import { KilnError } from '../model/errors.ts'
import { PerfCollapser } from '../flamegraph/collapse-perf.ts'
import { forEachChunk, Latin1Writer } from '../flamegraph/lines.ts'

export const spec: CommandSpec = {
  name: 'collapse',
  usage: 'kiln collapse perf [OPTIONS] [FILE|-]',
  summary: "Turn `perf script` output into folded stacks (stackcollapse-perf.pl's output, byte for byte).",
  description:
    'Reads `perf script` output (FILE, or stdin when FILE is - or missing) and prints one\n' +
    '`frame;frame;… count` line per distinct stack, root first, sorted in byte order. The count is\n' +
    "the sample's period when perf prints one, else 1. Only the first event type is kept unless\n" +
    '--event-filter names another.',
  options: {
    pid: { type: 'boolean', help: 'root frame is comm-PID' },
    tid: { type: 'boolean', help: 'root frame is comm-PID/TID' },
    kernel: { type: 'boolean', help: 'annotate kernel frames with _[k]' },
    jit: { type: 'boolean', help: 'annotate JIT frames (/tmp/perf-PID.map) with _[j]' },
    all: { type: 'boolean', help: 'both --kernel and --jit' },
    addrs: { type: 'boolean', help: 'name unknown symbols [dso <address>]' },
    'event-filter': { type: 'string', arg: 'EVENT', help: 'keep samples of this event (default: the first event seen)' },
  },
  examples: [
    'perf record -F 99 -g -- ./app && perf script | kiln collapse perf > app.folded',
    'kiln collapse perf --all --pid perf.txt | kiln flamegraph > app.svg',
  ],
}

export async function run(argv: string[]): Promise<number> {
  const p = parseCommand(spec, argv)
  if (!p) return 0
  const [format, file, ...extra] = p.positionals
  if (format !== 'perf') {
    throw new KilnError(
      'KILN_USAGE',
      `collapse: ${format ? `unknown input format '${format}'` : 'missing input format'}; the supported one is 'perf' (kiln collapse perf FILE)`,
    )
  }
  if (extra.length) throw new KilnError('KILN_USAGE', `collapse: one input file at most, got ${extra.length + 1}`)
  const c = new PerfCollapser({
    pid: bool(p, 'pid'),
    tid: bool(p, 'tid'),
    kernel: bool(p, 'kernel'),
    jit: bool(p, 'jit'),
    all: bool(p, 'all'),
    addrs: bool(p, 'addrs'),
    ...(str(p, 'event-filter') !== undefined ? { eventFilter: str(p, 'event-filter')! } : {}),
  })
  // One 256 KiB buffer, for reading and then for writing: on the dev VM a first touch of a page
  // costs ~13 µs, and a 1 MiB read buffer and a 1.26 MB output buffer took ~560 fresh pages.
  const buf = Buffer.allocUnsafeSlow(1 << 18)
  await forEachChunk(file, (chunk) => c.push(chunk), buf)
  c.end()
  if (c.droppedEvent !== undefined) {
    process.stderr.write(`kiln: kept only the first event type; dropped samples of '${c.droppedEvent}' (choose one with --event-filter)\n`)
  }
  const out = new Latin1Writer(process.stdout, buf)
  c.writeFolded(out)
  await out.end()
  return 0
}
