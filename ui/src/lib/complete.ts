/** What the caret in a selector is on: a label name being typed, or a value of a label. */
export type Completion =
  | { kind: 'name'; prefix: string; start: number; end: number }
  | { kind: 'value'; name: string; prefix: string; start: number; end: number }

/**
 * The completion context at `caret` in a selector like `{env="pr|`: a label name after `{` or
 * `,`, or a value inside the quotes after `name=`, `!=`, `=~` or `!~`. `start..end` is the text a
 * suggestion replaces.
 */
export function completionAt(text: string, caret: number): Completion | null {
  const before = text.slice(0, caret)
  const value = /([A-Za-z_][A-Za-z0-9_.]*)\s*(?:=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)$/.exec(before)
  if (value) {
    const rest = /^(?:[^"\\]|\\.)*/.exec(text.slice(caret))![0]
    return {
      kind: 'value',
      name: value[1]!,
      prefix: value[2]!.replace(/\\(.)/g, '$1'),
      start: caret - value[2]!.length,
      end: caret + rest.length,
    }
  }
  if (/"(?:[^"\\]|\\.)*$/.test(before.replace(/"(?:[^"\\]|\\.)*"/g, ''))) return null
  const name = /(?:^|[{,])\s*([A-Za-z0-9_.]*)$/.exec(before)
  if (name) {
    const rest = /^[A-Za-z0-9_.]*/.exec(text.slice(caret))![0]
    return { kind: 'name', prefix: name[1]!, start: caret - name[1]!.length, end: caret + rest.length }
  }
  return null
}

/** The text after accepting a suggestion, and where the caret goes. */
export function applyCompletion(text: string, c: Completion, suggestion: string): { text: string; caret: number } {
  if (c.kind === 'name') {
    const ins = `${suggestion}="`
    const after = text.slice(c.end)
    const fill = after.startsWith('=') ? suggestion : ins
    return { text: text.slice(0, c.start) + fill + after, caret: c.start + fill.length }
  }
  const esc = suggestion.replace(/["\\]/g, '\\$&')
  let after = text.slice(c.end)
  if (after.startsWith('"')) after = after.slice(1)
  const closing = after.trimStart().startsWith('}') || after.trimStart().startsWith(',') ? '"' : '"}'
  const body = text.slice(0, c.start) + esc + closing
  return { text: body + after, caret: c.start + esc.length + 1 }
}

/**
 * The suggestions for a typed prefix, best first: names that start with it, then those with a
 * word in them that does (`ro` → `route`, then `http_route`), then any other containing it
 * (`pyroscope_spy`); alphabetical within each; the exact text itself is left out.
 */
export function rankSuggestions(all: readonly string[], prefix: string, limit = 12): string[] {
  const p = prefix.toLowerCase()
  const rank = (s: string): number => {
    const l = s.toLowerCase()
    if (l.startsWith(p)) return 0
    if (new RegExp(`[^a-z0-9]${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`).test(l)) return 1
    return l.includes(p) ? 2 : -1
  }
  return all
    .filter((s) => s !== prefix)
    .map((s) => ({ s, r: rank(s) }))
    .filter((x) => x.r >= 0)
    .sort((a, b) => a.r - b.r || (a.s < b.s ? -1 : a.s > b.s ? 1 : 0))
    .slice(0, limit)
    .map((x) => x.s)
}
