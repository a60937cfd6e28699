/**
 * k6's secret sources (`--secret-source TYPE=CONFIG`, repeatable) for `k6/secrets`: `file` (one
 * `key=value` per line) and `mock` (`key=value` pairs in the flag). CONFIG is comma-separated;
 * `name=NAME` names a source for `secrets.source(NAME)`, a bare `default` makes it the one
 * `secrets.get()` reads (a single source is the default anyway). Values are redacted from every
 * log line as `***SECRET_REDACTED***`.
 */
import { readFileSync } from 'node:fs'
import { ConfigError } from '../../errors.ts'

export interface SecretSource {
  name: string
  type: string
  isDefault: boolean
  values: Record<string, string>
}

export const REDACTED = '***SECRET_REDACTED***'

/** Parses one `--secret-source` value; throws ConfigError (exit 104) with what to write instead. */
export function parseSecretSource(flag: string): SecretSource {
  const eq = flag.indexOf('=')
  const type = eq < 0 ? flag : flag.slice(0, eq)
  const config = eq < 0 ? '' : flag.slice(eq + 1)
  if (type === 'url')
    throw new ConfigError(`--secret-source ${flag}: the url source is not in Kiln yet; use file=PATH (key=value lines) or mock=KEY=VALUE`)
  if (type !== 'file' && type !== 'mock')
    throw new ConfigError(`--secret-source ${flag}: unknown source type '${type}'; use file=PATH (key=value lines) or mock=KEY=VALUE`)
  const source: SecretSource = { name: type, type, isDefault: false, values: {} }
  let filename = ''
  for (const item of config ? config.split(',') : []) {
    const i = item.indexOf('=')
    const key = i < 0 ? item : item.slice(0, i)
    const value = i < 0 ? '' : item.slice(i + 1)
    if (i < 0 && key === 'default') source.isDefault = true
    else if (key === 'name' && i >= 0) source.name = value
    else if (type === 'file' && (i < 0 || key === 'filename')) filename = i < 0 ? key : value
    else if (type === 'mock' && i > 0) source.values[key] = value
    else throw new ConfigError(`--secret-source ${flag}: unknown setting '${item}' for a ${type} source`)
  }
  if (type === 'file') {
    if (!filename) throw new ConfigError(`--secret-source ${flag}: name the file, e.g. --secret-source=file=secrets.txt`)
    source.values = readSecretFile(filename, flag)
  }
  return source
}

function readSecretFile(path: string, flag: string): Record<string, string> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new ConfigError(`--secret-source ${flag}: cannot read '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  const values: Record<string, string> = {}
  text.split(/\r?\n/).forEach((line, n) => {
    if (line === '') return
    const i = line.indexOf('=')
    if (i < 0) throw new ConfigError(`--secret-source ${flag}: ${path} line ${n + 1} has no '=': write key=value, one per line`)
    values[line.slice(0, i)] = line.slice(i + 1)
  })
  return values
}

/** Checks a set of sources as k6 would take them: unique names, at most one default. */
export function checkSecretSources(sources: SecretSource[]): SecretSource[] {
  const names = new Set<string>()
  for (const s of sources) {
    if (names.has(s.name)) throw new ConfigError(`two secret sources are named '${s.name}': give each its own with name=NAME`)
    names.add(s.name)
  }
  if (sources.filter((s) => s.isDefault).length > 1) throw new ConfigError('more than one secret source is marked default')
  return sources
}

/** A secret's value, or the message of the error `secrets.get` rejects with. */
export function lookupSecret(sources: SecretSource[], sourceName: string | null, key: string): { value: string } | { error: string } {
  let source: SecretSource | undefined
  if (sourceName === null) {
    if (!sources.length)
      return { error: 'no secret sources are configured: run with --secret-source, e.g. --secret-source=file=secrets.txt' }
    source = sources.length === 1 ? sources[0] : sources.find((s) => s.isDefault)
    if (!source)
      return {
        error: `no default secret source among ${sources.map((s) => `'${s.name}'`).join(', ')}: use secrets.source(NAME).get(), or mark one with default`,
      }
  } else {
    source = sources.find((s) => s.name === sourceName)
    if (!source)
      return {
        error: `no secret source named '${sourceName}'${sources.length ? `; configured: ${sources.map((s) => `'${s.name}'`).join(', ')}` : ''}`,
      }
  }
  return Object.hasOwn(source.values, key)
    ? { value: source.values[key]! }
    : { error: `secret '${key}' not found in source '${source.name}'` }
}

/** Replaces every secret value in `text` (longest first, so no value leaves a part of another). */
export function redactor(sources: SecretSource[]): (text: string) => string {
  const values = [...new Set(sources.flatMap((s) => Object.values(s.values)))].filter((v) => v !== '').sort((a, b) => b.length - a.length)
  if (!values.length) return (t) => t
  return (text) => {
    for (const v of values) if (text.includes(v)) text = text.split(v).join(REDACTED)
    return text
  }
}
