/** `kiln archive`: bundles a script and every file it uses into a tar that `kiln run` accepts. */
import { readFileSync, writeFileSync } from 'node:fs'
import type { CommandSpec } from './args.ts'
import { str } from './args.ts'
import { spec as runSpec, parseRunArgs, runnerFromArgs, cliLayer } from './run.ts'
import { makeArchive } from '../loadtest/run/archive.ts'

export const spec: CommandSpec = {
  name: 'archive',
  usage: 'kiln archive [OPTIONS] script.js',
  summary: 'Bundle a k6 script, its modules and opened files into a tar for kiln run',
  description: 'Runs the init code once to find every module and open() file; flags given here are stored and apply when the archive runs.',
  options: {
    'archive-out': { type: 'string', short: 'O', arg: 'FILE', default: 'archive.tar', help: 'where to write the archive' },
    ...runSpec.options,
  },
  examples: ['kiln archive -O test.tar script.js', 'kiln run test.tar'],
}

export async function run(argv: string[]): Promise<number> {
  const p = parseRunArgs(spec, argv)
  if (!p) return 0
  const runner = runnerFromArgs(p, 'archive')
  await runner.prepare()
  const files = new Map<string, Buffer>([[runner.script.path, Buffer.from(runner.script.source)]])
  for (const f of runner.filesRead) files.set(f, runner.remote.has(f) ? Buffer.from(runner.remote.get(f)!) : readFileSync(f))
  const out = str(p, 'archive-out') ?? 'archive.tar'
  writeFileSync(out, makeArchive({ filename: runner.script.path, options: cliLayer(p), kiln: '0.1.0' }, files))
  process.stdout.write(`${out}: ${files.size} file${files.size > 1 ? 's' : ''} (${[...files.keys()].join(', ')})\n`)
  return 0
}
