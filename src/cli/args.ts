import { parseArgs } from 'node:util'
import { KilnError } from '../model/errors.ts'

/** One option of a command: what `--help` prints and what parseArgs needs. */
export interface OptionSpec {
  type: 'string' | 'boolean'
  short?: string
  multiple?: boolean
  default?: string | boolean
  /** Placeholder shown in help, e.g. URL. */
  arg?: string
  help: string
}

export interface CommandSpec {
  name: string
  usage: string
  summary: string
  description?: string
  options: Record<string, OptionSpec>
  examples?: string[]
}

export interface Parsed {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>
  positionals: string[]
}

/** Formats a command's `--help` text. */
export function helpText(spec: CommandSpec): string {
  const lines = [`Usage: ${spec.usage}`, '', spec.summary]
  if (spec.description) lines.push('', spec.description)
  const opts = Object.entries(spec.options)
  if (opts.length) {
    lines.push('', 'Options:')
    const rows = opts.map(([name, o]) => {
      const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.arg ?? 'VALUE'}` : ''}`
      const def = o.default !== undefined && o.default !== false ? ` (default: ${String(o.default)})` : ''
      return [flag, o.help + def] as const
    })
    rows.push(['-h, --help', 'show this help'])
    const w = Math.max(...rows.map((r) => r[0].length))
    for (const [f, h] of rows) lines.push(`  ${f.padEnd(w)}  ${h}`)
  }
  if (spec.examples?.length) lines.push('', 'Examples:', ...spec.examples.map((e) => `  ${e}`))
  return lines.join('\n') + '\n'
}

/** Parses argv for a command; returns null when `--help` was asked (help already printed). */
export function parseCommand(spec: CommandSpec, argv: string[]): Parsed | null {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText(spec))
    return null
  }
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {}
  for (const [name, o] of Object.entries(spec.options)) {
    options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }
  }
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
    const values = { ...r.values } as Parsed['values']
    for (const [name, o] of Object.entries(spec.options)) {
      if (values[name] === undefined && o.default !== undefined) values[name] = o.default
    }
    return { values, positionals: r.positionals }
  } catch (e) {
    throw new KilnError('KILN_USAGE', `${(e as Error).message}\nRun 'kiln ${spec.name} --help' for usage.`)
  }
}

export const str = (p: Parsed, name: string): string | undefined => {
  const v = p.values[name]
  return typeof v === 'string' ? v : undefined
}
export const bool = (p: Parsed, name: string): boolean => p.values[name] === true
export const list = (p: Parsed, name: string): string[] => {
  const v = p.values[name]
  return Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : []
}
