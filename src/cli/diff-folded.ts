import { bool, parseCommand, type CommandSpec } from './args.ts'
import { KilnError } from '../model/errors.ts'
import { diffFolded } from '../flamegraph/diff-folded.ts'
import { readLines, writeLatin1 } from '../flamegraph/lines.ts'

export const spec: CommandSpec = {
  name: 'diff-folded',
  usage: 'kiln diff-folded [-n] [-s] BEFORE AFTER',
  summary: 'Pair two folded profiles as `stack before after` lines (difffolded.pl).',
  description:
    'Prints every stack of either file with its count in BEFORE and in AFTER (0 where missing).\n' +
    'Pipe it into `kiln flamegraph` for a differential flame graph: widths from AFTER, red where\n' +
    'it grew, blue where it shrank. To draw widths from BEFORE instead, swap the files and pass\n' +
    '--negate to kiln flamegraph.',
  options: {
    normalize: { type: 'boolean', short: 'n', help: "scale BEFORE's counts to AFTER's total" },
    'strip-hex': { type: 'boolean', short: 's', help: 'replace hex addresses (0x…) by 0x... before pairing' },
  },
  examples: ['kiln diff-folded -n before.folded after.folded | kiln flamegraph > diff.svg'],
}

export async function run(argv: string[]): Promise<number> {
  const p = parseCommand(spec, argv)
  if (!p) return 0
  if (p.positionals.length !== 2)
    throw new KilnError('KILN_USAGE', `diff-folded: expected two folded files (BEFORE AFTER), got ${p.positionals.length}`)
  const [before, after] = p.positionals as [string, string]
  if (before === '-' && after === '-') throw new KilnError('KILN_USAGE', 'diff-folded: only one of BEFORE and AFTER can be stdin (-)')
  const out = diffFolded(await readLines(before), await readLines(after), {
    normalize: bool(p, 'normalize'),
    stripHex: bool(p, 'strip-hex'),
  })
  await writeLatin1(out)
  return 0
}
