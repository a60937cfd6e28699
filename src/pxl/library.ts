/**
 * PxL script folders in Pixie's layout — a `.pxl` file, `vis.json` (variables with defaults,
 * `globalFuncs`, widgets) and `manifest.yaml` — and the library bundled with Kiln (`pxl/px/*`,
 * run as `px/NAME`). A folder runs as Pixie's Live UI runs it: each global function and each
 * widget's own function is called with the variables' values; each call is one displayed table.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { KilnError } from '../model/errors.ts'
import type { PxlArg } from './compile.ts'
import type { PxlRunner, PxlResult, PxlTable } from './runner.ts'

/** Where Kiln's own scripts live: `px/http_data` is `<root>/px/http_data/`. */
export const bundledRoot = new URL('../../pxl', import.meta.url).pathname

export interface VisVariable {
  name: string
  type: string
  description?: string
  defaultValue?: { value: string }
  validValues?: string[]
}

interface VisFunc {
  name: string
  args: { name: string; value?: string; variable?: string }[]
}

export interface VisWidget {
  name?: string
  position?: { x: number; y: number; w: number; h: number }
  func?: VisFunc
  globalFuncOutputName?: string
  displaySpec?: { '@type'?: string; [k: string]: unknown }
}

export interface Vis {
  variables: VisVariable[]
  globalFuncs: { outputName: string; func: VisFunc }[]
  widgets: VisWidget[]
}

export interface ScriptFolder {
  /** `px/http_data` for a bundled script, else the folder's name. */
  name: string
  short: string
  long: string
  script: string
  vis: Vis | null
}

/** One function call of a folder run: its table is shown under `output`. */
export interface VisCall {
  output: string
  func: string
  args: Record<string, PxlArg>
  /** Widgets that show this output (their names and display specs). */
  widgets: VisWidget[]
}

/** Reads a script folder (or a lone `.pxl` file). Errors say which file is wrong and how. */
export function readScriptFolder(path: string, name = basename(path)): ScriptFolder {
  if (!existsSync(path)) throw new KilnError('KILN_NOT_FOUND', `no script at ${path}`)
  if (!statSync(path).isDirectory()) return { name, short: '', long: '', script: readFileSync(path, 'utf8'), vis: null }
  const files = readdirSync(path)
  const pxl = files.filter((f) => f.endsWith('.pxl'))
  if (pxl.length !== 1)
    throw new KilnError(
      'KILN_USAGE',
      `${path}: a script folder holds exactly one .pxl file (found ${pxl.length ? pxl.join(', ') : 'none'})`,
    )
  const script = readFileSync(join(path, pxl[0]!), 'utf8')
  let vis: Vis | null = null
  if (files.includes('vis.json')) vis = parseVis(readFileSync(join(path, 'vis.json'), 'utf8'), join(path, 'vis.json'))
  let short = ''
  let long = ''
  if (files.includes('manifest.yaml')) {
    let doc: unknown
    try {
      doc = parseYaml(readFileSync(join(path, 'manifest.yaml'), 'utf8'))
    } catch (e) {
      throw new KilnError('KILN_USAGE', `${join(path, 'manifest.yaml')}: not YAML: ${(e as Error).message}`)
    }
    const m = (doc ?? {}) as Record<string, unknown>
    short = typeof m.short === 'string' ? m.short.trim() : ''
    long = typeof m.long === 'string' ? m.long.trim() : ''
  }
  return { name, short, long, script, vis }
}

/** Checks a vis.json text: the shapes the runner reads, with the file and field in each error. */
export function parseVis(text: string, where = 'vis.json'): Vis {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (e) {
    throw new KilnError('KILN_USAGE', `${where}: not JSON: ${(e as Error).message}`)
  }
  const bad = (what: string): never => {
    throw new KilnError('KILN_USAGE', `${where}: ${what}`)
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) bad('expected an object with variables, globalFuncs and widgets')
  const d = doc as Record<string, unknown>
  const list = (k: string): Record<string, unknown>[] => {
    const v = d[k] ?? []
    if (!Array.isArray(v) || v.some((x) => !x || typeof x !== 'object')) bad(`${k} must be a list of objects`)
    return v as Record<string, unknown>[]
  }
  const func = (f: unknown, at: string): VisFunc => {
    const o = (f ?? {}) as Record<string, unknown>
    if (typeof o.name !== 'string' || !o.name) bad(`${at}.func.name must be the name of a function in the script`)
    const args = (o.args ?? []) as unknown
    if (!Array.isArray(args)) bad(`${at}.func.args must be a list`)
    for (const [i, a] of (args as Record<string, unknown>[]).entries()) {
      if (!a || typeof a.name !== 'string') bad(`${at}.func.args[${i}].name must be a parameter name`)
      if (a.variable === undefined && a.value === undefined) bad(`${at}.func.args[${i}] needs a variable or a value`)
    }
    return { name: o.name as string, args: args as VisFunc['args'] }
  }
  const variables = list('variables').map((v, i) => {
    if (typeof v.name !== 'string' || !v.name) bad(`variables[${i}].name must be a string`)
    return v as unknown as VisVariable
  })
  const globalFuncs = list('globalFuncs').map((g, i) => {
    if (typeof g.outputName !== 'string' || !g.outputName) bad(`globalFuncs[${i}].outputName must be a string`)
    return { outputName: g.outputName as string, func: func(g.func, `globalFuncs[${i}]`) }
  })
  const widgets = list('widgets').map((w, i) => {
    if (w.func === undefined && typeof w.globalFuncOutputName !== 'string') bad(`widgets[${i}] needs a func or a globalFuncOutputName`)
    return { ...(w as VisWidget), func: w.func === undefined ? undefined : func(w.func, `widgets[${i}]`) }
  })
  for (const [i, w] of widgets.entries()) {
    if (w.globalFuncOutputName && !globalFuncs.some((g) => g.outputName === w.globalFuncOutputName)) {
      bad(
        `widgets[${i}].globalFuncOutputName '${w.globalFuncOutputName}' is not an outputName of globalFuncs (${globalFuncs.map((g) => g.outputName).join(', ') || 'none'})`,
      )
    }
  }
  return { variables, globalFuncs, widgets }
}

/**
 * The calls a folder run makes: variables take `given` values (command line, URL) or their
 * defaults, typed as vis.json says (PX_INT64 and PX_FLOAT64 are numbers, PX_BOOLEAN a boolean).
 */
export function visCalls(vis: Vis, given: Record<string, string> = {}): VisCall[] {
  const known = new Set(vis.variables.map((v) => v.name))
  for (const k of Object.keys(given)) {
    if (!known.has(k))
      throw new KilnError(
        'KILN_USAGE',
        `unknown argument --${k}; this script takes ${[...known].map((n) => `--${n}`).join(', ') || 'no arguments'}`,
      )
  }
  const values = new Map<string, PxlArg>()
  for (const v of vis.variables) {
    const raw = given[v.name] ?? v.defaultValue?.value
    if (raw === undefined) throw new KilnError('KILN_USAGE', `argument --${v.name} is required (${v.description ?? v.type})`)
    if (v.validValues?.length && !v.validValues.includes(raw))
      throw new KilnError('KILN_USAGE', `--${v.name}: ${JSON.stringify(raw)} is not one of ${v.validValues.join(', ')}`)
    values.set(v.name, typed(v, raw))
  }
  const argsOf = (f: VisFunc): Record<string, PxlArg> =>
    Object.fromEntries(
      f.args.map((a) => [
        a.name,
        a.variable !== undefined
          ? (values.get(a.variable) ?? fail(`function ${f.name}: argument ${a.name} names an unknown variable '${a.variable}'`))
          : a.value!,
      ]),
    )
  const calls: VisCall[] = vis.globalFuncs.map((g) => ({
    output: g.outputName,
    func: g.func.name,
    args: argsOf(g.func),
    widgets: vis.widgets.filter((w) => w.globalFuncOutputName === g.outputName),
  }))
  vis.widgets.forEach((w, i) => {
    if (w.func) calls.push({ output: w.name || `widget ${i + 1}`, func: w.func.name, args: argsOf(w.func), widgets: [w] })
  })
  return calls
}

function typed(v: VisVariable, raw: string): PxlArg {
  if (v.type === 'PX_INT64' || v.type === 'PX_FLOAT64') {
    const n = Number(raw)
    if (raw.trim() === '' || !Number.isFinite(n) || (v.type === 'PX_INT64' && !Number.isInteger(n))) {
      throw new KilnError(
        'KILN_USAGE',
        `--${v.name}: expected ${v.type === 'PX_INT64' ? 'a whole number' : 'a number'}, got ${JSON.stringify(raw)}`,
      )
    }
    return n
  }
  if (v.type === 'PX_BOOLEAN') {
    if (!['true', 'false', '1', '0'].includes(raw.toLowerCase()))
      throw new KilnError('KILN_USAGE', `--${v.name}: expected true or false, got ${JSON.stringify(raw)}`)
    return raw === 'true' || raw === '1'
  }
  return raw
}

function fail(message: string): never {
  throw new KilnError('KILN_USAGE', message)
}

/** The bundled scripts, `px/NAME`, sorted by name. */
export function bundledScripts(root = bundledRoot): ScriptFolder[] {
  const dir = join(root, 'px')
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((n) => statSync(join(dir, n)).isDirectory())
    .sort()
    .map((n) => readScriptFolder(join(dir, n), `px/${n}`))
}

/** A bundled script by name (`px/http_data`); unknown names suggest the list. */
export function bundledScript(name: string, root = bundledRoot): ScriptFolder {
  const all = bundledScripts(root)
  const s = all.find((x) => x.name === name)
  if (!s)
    throw new KilnError('KILN_NOT_FOUND', `no bundled script ${name}; \`kiln px scripts\` lists them: ${all.map((x) => x.name).join(', ')}`)
  return s
}

/** A folder run's result: one table per call, named by its output, with the widgets that show it. */
export interface FolderResult extends PxlResult {
  tables: (PxlTable & { widgets?: VisWidget[] })[]
}

/**
 * Runs a script folder: with a vis.json, each of its calls (in parallel, one query each); without,
 * the script itself (its `px.display` calls). `given` are the variables' values as text.
 */
export async function runFolder(
  runner: PxlRunner,
  tenant: string,
  folder: ScriptFolder,
  given: Record<string, string> = {},
  nowNs?: bigint,
): Promise<FolderResult> {
  if (!folder.vis) return runner.run(tenant, { script: folder.script, args: given }, nowNs)
  const calls = visCalls(folder.vis, given)
  const results = await Promise.all(calls.map((c) => runner.run(tenant, { script: folder.script, func: c.func, args: c.args }, nowNs)))
  const tables = results.flatMap((r, i) => r.tables.map((t) => ({ ...t, name: calls[i]!.output, widgets: calls[i]!.widgets })))
  return { tables, compileMs: sum(results.map((r) => r.compileMs)), runMs: Math.max(0, ...results.map((r) => r.runMs)) }
}

const sum = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) * 100) / 100
