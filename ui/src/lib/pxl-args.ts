/**
 * A script's arguments and what to ask the run API for: the typed parameters of its `def`s, or a
 * Pixie `vis.json`'s variables, widgets and global functions (Pixie's script folders run
 * unchanged, so their vis.json decides which function each widget shows).
 */
import { tokenize, stringValue, type Token } from './pxl-tokens.ts'

export interface ArgSpec {
  name: string
  /** As written: `str`, `int`, `px.Service`, or vis.json's `PX_STRING`, `PX_SERVICE` … ("" = untyped). */
  type: string
  /** The default value as text ("" = none). */
  default: string
  description: string
  /** The values allowed (vis.json `validValues`), shown as a choice. */
  options?: string[]
}

export interface PxlDef {
  name: string
  params: ArgSpec[]
  line: number
}

/** Pixie's vis.json, the parts the Live view reads. */
export interface Vis {
  variables?: { name: string; type?: string; defaultValue?: string | { value?: string }; description?: string; validValues?: string[] }[]
  globalFuncs?: { outputName: string; func: VisFunc }[]
  widgets?: VisWidget[]
}
export interface VisFunc {
  name: string
  args?: { name: string; variable?: string; value?: string | { value?: string } }[]
}
export interface VisWidget {
  name?: string
  func?: VisFunc
  globalFuncOutputName?: string
  displaySpec?: DisplaySpec
}
/** A widget's display spec (`@type` ends in Table, TimeseriesChart, Graph, RequestGraph, BarChart …). */
export interface DisplaySpec {
  '@type'?: string
  timeseries?: { value: string; series?: string; mode?: string }[]
  adjacencyList?: { fromColumn: string; toColumn: string }
  requestorServiceColumn?: string
  responderServiceColumn?: string
  requestorPodColumn?: string
  responderPodColumn?: string
  [k: string]: unknown
}

/** The functions a script defines, with their parameters (types and defaults as written). */
export function pxlDefs(text: string): PxlDef[] {
  const all = tokenize(text)
  const t = all.filter((x) => x.kind !== 'space' && x.kind !== 'comment')
  const out: PxlDef[] = []
  for (let k = 0; k < t.length; k++) {
    if (t[k]!.text !== 'def' || t[k + 1]?.kind !== 'defname' || t[k + 2]?.text !== '(') continue
    const params: ArgSpec[] = []
    let j = k + 3
    // One parameter per comma at depth 0: name [: type] [= default].
    while (j < t.length && t[j]!.text !== ')') {
      const part: Token[] = []
      let depth = 0
      for (; j < t.length; j++) {
        const x = t[j]!.text
        if (depth === 0 && (x === ',' || x === ')')) break
        if (x === '(' || x === '[' || x === '{') depth++
        if (x === ')' || x === ']' || x === '}') depth--
        part.push(t[j]!)
      }
      if (t[j]?.text === ',') j++
      const name = part[0]
      if (!name || name.kind !== 'name') continue
      const colon = part.findIndex((p) => p.text === ':')
      const eq = part.findIndex((p) => p.text === '=')
      const type =
        colon > 0
          ? part
              .slice(colon + 1, eq > 0 ? eq : undefined)
              .map((p) => p.text)
              .join('')
          : ''
      const def = eq > 0 ? part.slice(eq + 1) : []
      params.push({
        name: name.text,
        type,
        default: def.length === 1 && def[0]!.kind === 'string' ? stringValue(def[0]!.text) : def.map((p) => p.text).join(''),
        description: '',
      })
    }
    out.push({ name: t[k + 1]!.text, params, line: lineOf(text, t[k]!.start) })
  }
  return out
}

/** Whether the script displays something when run as a whole (a `px.display` outside any `def`). */
export function displaysAtTopLevel(text: string): boolean {
  let inDef = false
  let lineStart = true
  const all = tokenize(text)
  for (const [k, t] of all.entries()) {
    if (t.kind === 'space') {
      if (t.text.includes('\n')) lineStart = !/[ \t]$/.test(t.text)
      continue
    }
    if (t.kind === 'comment') continue
    // A statement at column 0 ends the def block before it; a def starts one.
    const atColumn0 = t.start === 0 || (lineStart && text[t.start - 1] === '\n')
    if (atColumn0) inDef = t.text === 'def'
    lineStart = false
    if (!inDef && t.kind === 'pxfn' && (t.text === 'display' || t.text === 'debug') && all[k - 1]?.text === '.') return true
  }
  return false
}

/** One call of the run API and the widgets its tables feed (none: one automatic widget per table). */
export interface RunRequest {
  func?: string
  args: Record<string, string>
  widgets: { name: string; spec?: DisplaySpec }[]
}

/** The arguments to ask for and the run API calls to make, for a script, its vis.json (if any) and the values given. */
export function runPlan(
  text: string,
  vis: Vis | null,
  values: Record<string, string>,
  func = '',
): { args: ArgSpec[]; requests: RunRequest[]; funcs: string[] } {
  const defs = pxlDefs(text)
  const funcs = defs.map((d) => d.name)
  const val = (a: ArgSpec) => values[a.name] ?? a.default
  if (vis?.widgets?.length) {
    const args: ArgSpec[] = (vis.variables ?? []).map((v) => ({
      name: v.name,
      type: v.type ?? '',
      default: strValue(v.defaultValue),
      description: v.description ?? '',
      ...(v.validValues?.length ? { options: v.validValues } : {}),
    }))
    const vals = Object.fromEntries(args.map((a) => [a.name, val(a)]))
    const byKey = new Map<string, RunRequest>()
    for (const [k, w] of vis.widgets.entries()) {
      const fn = w.func ?? vis.globalFuncs?.find((g) => g.outputName === w.globalFuncOutputName)?.func
      if (!fn) continue
      const callArgs = Object.fromEntries(
        (fn.args ?? []).map((a) => [a.name, a.variable !== undefined ? (vals[a.variable] ?? '') : strValue(a.value)]),
      )
      const key = JSON.stringify([fn.name, callArgs])
      let r = byKey.get(key)
      if (!r) byKey.set(key, (r = { func: fn.name, args: callArgs, widgets: [] }))
      r.widgets.push({ name: w.name || `${fn.name} ${k + 1}`, spec: w.displaySpec })
    }
    return { args, requests: [...byKey.values()], funcs }
  }
  if (displaysAtTopLevel(text) || !defs.length) return { args: [], requests: [{ args: {}, widgets: [] }], funcs }
  // A library of functions: run the chosen one (else the last), with its parameters as the arguments.
  const d = defs.find((x) => x.name === func) ?? defs.at(-1)!
  return {
    args: d.params,
    requests: [{ func: d.name, args: Object.fromEntries(d.params.map((a) => [a.name, val(a)])), widgets: [] }],
    funcs,
  }
}

/** A vis.json value: a string, or Pixie's StringValue `{value}` as some vis.json files spell it. */
const strValue = (v: string | { value?: string } | undefined) => (typeof v === 'string' ? v : (v?.value ?? ''))

/** Reads a vis.json text (or object); anything unreadable is no vis. */
export function readVis(v: unknown): Vis | null {
  let o = v
  if (typeof v === 'string') {
    try {
      o = JSON.parse(v)
    } catch {
      return null
    }
  }
  return o && typeof o === 'object' && !Array.isArray(o) ? (o as Vis) : null
}

/** Where an error message points: `line 3, column 9`, `3:9` or `line 3`. */
export function errorLocation(message: string): { line: number; column: number } | null {
  const m = /\bline\s+(\d+)(?:\s*,?\s*col(?:umn)?\s+(\d+))?/i.exec(message) ?? /(?:^|[^\d.])(\d+):(\d+)\b/.exec(message)
  if (!m) return null
  return { line: Number(m[1]), column: m[2] ? Number(m[2]) : 1 }
}

function lineOf(text: string, offset: number): number {
  let n = 1
  for (let k = 0; k < offset; k++) if (text.charCodeAt(k) === 10) n++
  return n
}
