/**
 * Completion in the PxL editor: table names inside `px.DataFrame('…`, columns after `df.` or
 * inside `df['…` / `groupby(['…` / `('col', px.count)`, `px.` functions, DataFrame methods,
 * `df.ctx['…` keys, and otherwise keywords and the script's own names.
 */
import type { TraceTable } from '../../../src/model/trace-tables.ts'
import { tokenize, stringValue, keywords, type Token } from './pxl-tokens.ts'
import { pxFunctions, dataFrameMethods, derivedColumns, ctxKeys, type PxFunction } from './pxl-functions.ts'

/** What completion knows: tables with their columns (derived ones included), px functions, ctx keys. */
export interface PxlSchema {
  tables: readonly { name: string; desc?: string; columns: readonly { name: string; type: string; desc?: string }[] }[]
  functions: readonly PxFunction[]
  ctxKeys: readonly string[]
}

/** GET /api/v1/pxl/catalog's answer (the compiler's own lists). */
export interface PxlCatalog {
  tables: { name: string; columns: { name: string; type: string; derived?: boolean; doc?: string }[] }[]
  functions: { name: string; kind?: string; sig?: string; doc?: string }[]
  ctxKeys?: string[]
}

/** The schema from the compiler's catalog, else from the tracing tables and the UI's own lists. */
export function pxlSchema(tables: readonly TraceTable[], catalog: PxlCatalog | null = null): PxlSchema {
  if (catalog?.tables?.length) {
    const desc = new Map(tables.map((t) => [t.name, t.desc]))
    return {
      tables: catalog.tables.map((t) => ({
        name: t.name,
        desc: desc.get(t.name) ?? '',
        columns: t.columns.map((c) => ({ name: c.name, type: c.type, desc: c.doc ?? '' })),
      })),
      functions: catalog.functions.map((f) => ({ name: f.name.replace(/^px\./, ''), sig: f.sig ?? '', doc: f.doc || f.kind || '' })),
      ctxKeys: catalog.ctxKeys ?? ctxKeys,
    }
  }
  return {
    tables: tables.map((t) => ({ ...t, columns: [...t.columns, ...(derivedColumns[t.name] ?? [])] })),
    functions: pxFunctions,
    ctxKeys,
  }
}

export type SuggestionKind = 'table' | 'column' | 'function' | 'method' | 'keyword' | 'name' | 'key'

export interface Suggestion {
  label: string
  kind: SuggestionKind
  detail: string
}

/** What the caret may complete: the text `start..end` a chosen label replaces, and the choices. */
export interface PxlCompletion {
  start: number
  end: number
  prefix: string
  items: Suggestion[]
}

/** The tables a script reads: the first argument or `table=` of each `px.DataFrame(…)`. */
export function tablesRead(text: string): string[] {
  const t = solid(tokenize(text))
  const out: string[] = []
  for (let k = 0; k < t.length; k++) {
    if (t[k]!.text !== 'DataFrame' || t[k + 1]?.text !== '(') continue
    let j = k + 2
    if (t[j]?.text === 'table' && t[j + 1]?.text === '=') j += 2
    if (t[j]?.kind === 'string') out.push(stringValue(t[j]!.text))
  }
  return [...new Set(out)]
}

/** Columns a script creates: `df.x = …`, `df['x'] = …` and `name=('col', fn)` in agg. */
export function columnsMade(text: string): string[] {
  const t = solid(tokenize(text))
  const out: string[] = []
  for (let k = 1; k < t.length; k++) {
    const a = t[k]!
    const next = t[k + 1]?.text
    if (a.kind === 'name' && t[k - 1]!.text === '.' && next === '=') out.push(a.text)
    if (a.kind === 'string' && t[k - 1]!.text === '[' && t[k + 1]?.text === ']' && t[k + 2]?.text === '=') out.push(stringValue(a.text))
    if (a.kind === 'name' && next === '=' && t[k + 2]?.text === '(' && (t[k - 1]!.text === '(' || t[k - 1]!.text === ',')) out.push(a.text)
  }
  return [...new Set(out)]
}

/** The completions at `caret`, or null where nothing completes (comments, ordinary strings, numbers). */
export function pxlCompletions(text: string, caret: number, schema: PxlSchema): PxlCompletion | null {
  const all = tokenize(text)
  const at = all.findIndex((t) => t.start < caret && caret <= t.end)
  const tok = all[at]
  if (!tok || tok.kind === 'comment' || tok.kind === 'number') return null
  const before = solid(all.slice(0, at))
  const prev = before.at(-1)
  // Inside a string: a table name, a column, or a ctx key by what the string follows.
  if (tok.kind === 'string' || (tok.kind === 'error' && /^[rRbBfFuU]{0,2}['"]/.test(tok.text))) {
    const open = /^[rRbBfFuU]{0,2}('''|"""|'|")/.exec(tok.text)![0].length
    if (caret < tok.start + open) return null
    const closed = tok.kind === 'string'
    const quote = open - /^[rRbBfFuU]*/.exec(tok.text)![0].length
    const contentEnd = closed ? tok.end - quote : tok.end
    if (caret > contentEnd) return null
    const start = tok.start + open
    const prefix = text.slice(start, caret)
    const kind = stringContext(before)
    if (!kind) return null
    const items =
      kind === 'table'
        ? tableItems(schema)
        : kind === 'key'
          ? schema.ctxKeys.map((k) => ({ label: k, kind: 'key' as const, detail: 'process metadata' }))
          : columnItems(text, schema)
    return rank({ start, end: contentEnd, prefix, items })
  }
  let start = caret
  let end = caret
  let prefix = ''
  let dotBefore: Token | undefined
  if (tok.kind === 'name' || tok.kind === 'pxfn' || tok.kind === 'keyword' || tok.kind === 'px' || tok.kind === 'defname') {
    if (tok.kind === 'defname') return null
    start = tok.start
    end = tok.end
    prefix = text.slice(tok.start, caret)
    if (prev?.text === '.') dotBefore = before.at(-2)
  } else if (tok.text === '.' && tok.end === caret) {
    dotBefore = prev
  } else return null
  if (dotBefore) {
    if (dotBefore.kind === 'px')
      return rank({
        start,
        end,
        prefix,
        items: schema.functions.map((f) => ({ label: f.name, kind: 'function', detail: [f.sig, f.doc].filter(Boolean).join(' — ') })),
      })
    if (dotBefore.kind === 'number' || dotBefore.kind === 'string') return null
    return rank({
      start,
      end,
      prefix,
      items: [
        ...columnItems(text, schema),
        ...dataFrameMethods.map((m) => ({ label: m.name, kind: 'method' as const, detail: `${m.sig} — ${m.doc}` })),
      ],
    })
  }
  if (!prefix) return null
  const names = new Set(
    solid(all)
      .filter((t) => (t.kind === 'name' || t.kind === 'defname') && t.end !== end)
      .map((t) => t.text),
  )
  const items: Suggestion[] = [
    { label: 'px', kind: 'name', detail: 'the PxL module' },
    ...[...keywords].map((k) => ({ label: k, kind: 'keyword' as const, detail: 'keyword' })),
    ...[...names].map((n) => ({ label: n, kind: 'name' as const, detail: 'in this script' })),
  ]
  return rank({ start, end, prefix, items })
}

/** The text after accepting a suggestion, and where the caret goes. */
export function applyPxlCompletion(text: string, c: PxlCompletion, label: string): { text: string; caret: number } {
  return { text: text.slice(0, c.start) + label + text.slice(c.end), caret: c.start + label.length }
}

const solid = (t: readonly Token[]) => t.filter((x) => x.kind !== 'space' && x.kind !== 'comment')

/** What a string after these tokens names: a table (`px.DataFrame('…` / `table='…`), a ctx key (`.ctx['…`), a column, or nothing. */
function stringContext(before: readonly Token[]): 'table' | 'column' | 'key' | null {
  const [a, b, c] = [before.at(-1)?.text, before.at(-2)?.text, before.at(-3)?.text]
  if (a === '(' && b === 'DataFrame') return 'table'
  if (a === '=' && b === 'table') return 'table'
  if (a === '[' && b === 'ctx') return 'key'
  if (a === '=' && ['left_on', 'right_on', 'on', 'by', 'select'].includes(b ?? '')) return 'column'
  if (a === '[' && b === '=' && ['left_on', 'right_on', 'select', 'by'].includes(c ?? '')) return 'column'
  if (a === '[' || a === '(' || a === ',') {
    // Not inside px.display(df, 'name') or a call of another px function with text arguments.
    const call = enclosingCall(before)
    if (call && call.kind === 'pxfn' && call.text !== 'DataFrame') return null
    return 'column'
  }
  return null
}

/** The name before the innermost unclosed `(` among these tokens. */
function enclosingCall(before: readonly Token[]): Token | undefined {
  let depth = 0
  for (let k = before.length - 1; k >= 0; k--) {
    const t = before[k]!.text
    if (t === ')' || t === ']') depth++
    else if (t === '(' || t === '[') {
      if (depth === 0 && t === '(') return before[k - 1]
      if (depth > 0) depth--
    }
  }
  return undefined
}

function tableItems(schema: PxlSchema): Suggestion[] {
  return schema.tables.map((t) => ({ label: t.name, kind: 'table', detail: t.desc ?? '' }))
}

/** Columns of the tables the script reads (of all tables when it names none), then those it makes. */
function columnItems(text: string, schema: PxlSchema): Suggestion[] {
  const read = tablesRead(text)
  const from = read.length ? schema.tables.filter((t) => read.includes(t.name)) : schema.tables
  const seen = new Map<string, Suggestion>()
  for (const t of from) {
    for (const c of t.columns)
      if (!seen.has(c.name))
        seen.set(c.name, { label: c.name, kind: 'column', detail: `${c.type} · ${t.name}${c.desc ? ` — ${c.desc}` : ''}` })
  }
  for (const n of columnsMade(text)) if (!seen.has(n)) seen.set(n, { label: n, kind: 'column', detail: 'made in this script' })
  return [...seen.values()]
}

/** Prefix matches first (in their order), then matches elsewhere in the name; the exact text alone is no suggestion. */
function rank(c: PxlCompletion): PxlCompletion | null {
  const p = c.prefix.toLowerCase()
  const starts = c.items.filter((s) => s.label.toLowerCase().startsWith(p))
  const inside = c.items.filter((s) => !s.label.toLowerCase().startsWith(p) && s.label.toLowerCase().includes(p))
  const items = [...starts, ...inside].filter((s) => s.label !== c.prefix).slice(0, 50)
  return items.length ? { ...c, items } : null
}
