import { KilnError } from './errors.ts'
import type { Labels } from './labels.ts'

export type MatchOp = '=' | '!=' | '=~' | '!~'
export interface Matcher {
  name: string
  op: MatchOp
  value: string
}

/** A parsed selector; `prefix` is the text before `{` (`/render` puts the profile type there). */
export interface Selector {
  prefix: string
  matchers: Matcher[]
}

const fail = (src: string, pos: number, what: string): never => {
  throw new KilnError(
    'KILN_SELECTOR_SYNTAX',
    `selector ${JSON.stringify(src.slice(0, 200))}, column ${pos + 1}: ${what}. Example: {service_name="api", env=~"prod|stage"}`,
  )
}

/**
 * 64 KiB of selector: Grafana's multi-value variables make long `=~"a|b|…"` alternations, but
 * nothing real comes near; ClickHouse refuses query text over 256 KiB with an error, not a 4xx.
 */
export const MAX_SELECTOR_LENGTH = 65_536

// What JavaScript's regexes accept and RE2 (ClickHouse's match) does not: lookarounds, backreferences, atomic groups.
const NOT_RE2 = /\(\?<?[=!]|\(\?>|\\[1-9]|\\k</

/** The construct of a regex RE2 cannot run (outside character classes), or null. */
export function re2Incompatible(re: string): string | null {
  let inClass = false
  for (let i = 0; i < re.length; i++) {
    const c = re[i]!
    if (c === '\\') {
      if (!inClass && NOT_RE2.test(re.slice(i, i + 3))) return re.slice(i, i + 3)
      i++
    } else if (c === '[') inClass = true
    else if (c === ']') inClass = false
    else if (!inClass && c === '(' && NOT_RE2.test(re.slice(i, i + 4))) return re.slice(i, i + 4)
  }
  return null
}

/** Parses a PromQL-style selector: `{a="b", c=~"x|y", d!="e", f!~"g"}`, optionally prefixed. */
export function parseSelector(src: string): Selector {
  if (src.length > MAX_SELECTOR_LENGTH) {
    throw new KilnError(
      'KILN_SELECTOR_SYNTAX',
      `selector of ${src.length} characters is over the limit of ${MAX_SELECTOR_LENGTH}; select with fewer or shorter values`,
    )
  }
  let i = 0
  const ws = () => {
    while (i < src.length && /\s/.test(src[i]!)) i++
  }
  ws()
  const startPrefix = i
  while (i < src.length && src[i] !== '{') i++
  const prefix = src.slice(startPrefix, i).trim()
  if (i >= src.length) {
    if (!prefix) return { prefix: '', matchers: [] }
    return { prefix, matchers: [] }
  }
  i++ // {
  const matchers: Matcher[] = []
  ws()
  while (i < src.length && src[i] !== '}') {
    let name: string
    if (src[i] === '"') name = readString()
    else {
      const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(src.slice(i))
      if (!m) fail(src, i, 'expected a label name')
      name = m![0]
      i += name.length
    }
    ws()
    const op = (['=~', '!~', '!=', '='] as const).find((o) => src.startsWith(o, i))
    if (!op) fail(src, i, `expected =, !=, =~ or !~ after ${name}`)
    i += op!.length
    ws()
    if (src[i] !== '"' && src[i] !== "'" && src[i] !== '`') fail(src, i, `expected a quoted value after ${name}${op}`)
    const value = readString()
    if (op === '=~' || op === '!~') {
      try {
        new RegExp(`^(?:${value})$`)
      } catch (e) {
        fail(src, i, `invalid regular expression ${JSON.stringify(value.slice(0, 200))}: ${(e as Error).message}`)
      }
      const bad = re2Incompatible(value)
      if (bad)
        fail(
          src,
          i,
          `regular expression ${JSON.stringify(value.slice(0, 200))} uses ${JSON.stringify(bad)}: lookarounds, backreferences and atomic groups are not supported (RE2 syntax)`,
        )
    }
    matchers.push({ name, op: op!, value })
    ws()
    if (src[i] === ',') {
      i++
      ws()
    } else if (src[i] !== '}') fail(src, i, "expected ',' or '}'")
  }
  if (src[i] !== '}') fail(src, i, "missing closing '}'")
  i++
  ws()
  if (i < src.length) fail(src, i, 'unexpected text after the closing }')
  return { prefix, matchers }

  function readString(): string {
    const q = src[i]!
    i++
    let out = ''
    while (i < src.length && src[i] !== q) {
      if (src[i] === '\\' && q !== '`') {
        const c = src[i + 1]
        if (c === undefined) break
        out += c === 'n' ? '\n' : c === 't' ? '\t' : c
        i += 2
      } else out += src[i++]
    }
    if (src[i] !== q) fail(src, i, 'unterminated string')
    i++
    return out
  }
}

/** Compiles matchers into a predicate over label sets (a missing label counts as ""). */
export function matchesLabels(matchers: Matcher[]): (labels: Labels) => boolean {
  const tests = matchers.map((m) => {
    const re = m.op === '=~' || m.op === '!~' ? new RegExp(`^(?:${m.value})$`) : null
    return (v: string) => {
      switch (m.op) {
        case '=':
          return v === m.value
        case '!=':
          return v !== m.value
        case '=~':
          return re!.test(v)
        case '!~':
          return !re!.test(v)
      }
    }
  })
  return (labels) =>
    matchers.every((m, k) => {
      let v = ''
      for (const [n, val] of labels) if (n === m.name) v = val
      return tests[k]!(v)
    })
}

export function formatSelector(matchers: Matcher[]): string {
  return `{${matchers.map((m) => `${m.name}${m.op}${JSON.stringify(m.value)}`).join(', ')}}`
}
