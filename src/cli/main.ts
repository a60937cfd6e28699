import { commands } from './commands.ts'
import { isKilnError } from '../model/errors.ts'

function usage(): string {
  const w = Math.max(...Object.keys(commands).map((n) => n.length))
  const rows = Object.entries(commands).map(([n, c]) => `  ${n.padEnd(w)}  ${c.summary}`)
  return [
    'Usage: kiln COMMAND [OPTIONS]',
    '',
    'Kiln: continuous profiling, flame-graph tools and load testing.',
    '',
    'Commands:',
    ...rows,
    '',
    "Run 'kiln COMMAND --help' for a command's options.",
    '',
  ].join('\n')
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage())
    return name ? 0 : 2
  }
  if (name === '--version' || name === 'version') {
    process.stdout.write('kiln 0.1.0\n')
    return 0
  }
  const entry = commands[name]
  if (!entry) {
    process.stderr.write(`kiln: unknown command '${name}'\n\n${usage()}`)
    return 2
  }
  const mod = await entry.load()
  return mod.run(rest)
}

main(process.argv.slice(2)).then(
  (code) => {
    // Servers keep running; a finished command exits with its code.
    if (code !== -1) process.exitCode = code
  },
  (e: unknown) => {
    if (isKilnError(e)) {
      process.stderr.write(`kiln: ${e.message}\n`)
      process.exitCode = e.exitCode
    } else {
      process.stderr.write(`kiln: unexpected error: ${(e as Error)?.stack ?? String(e)}\n`)
      process.exitCode = 1
    }
  },
)
