/**
 * Script → queries: parse, evaluate (building the DataFrame plan), then one SQL query per
 * displayed table. Pure: no store, no clock (time enters as the `now` parameter at run time), so
 * a compiled script is cached and re-run.
 */
import { KilnError } from '../model/errors.ts'
import { pxlError, unknownName } from './errors.ts'
import { Interp } from './interp.ts'
import { parse } from './parser.ts'
import { compileQuery } from './sql.ts'
import { shownType, type SemType } from './types.ts'
import type { PxType } from '../model/trace-tables.ts'
import { int, kindOf, type Value } from './values.ts'

/** An argument of a script function as the API or the command line gives it. */
export type PxlArg = string | number | boolean

export interface CompileOptions {
  /** Function to call with `args`; its result is displayed under its name. */
  func?: string
  args?: Record<string, PxlArg>
  /** Database of the tracing tables. */
  db?: string
  /** Rows returned per table at most (one more is fetched to tell that rows were left out). */
  maxRows?: number
}

export interface PxlColumn {
  name: string
  type: PxType
  /** Pixie's semantic type: how to show the value (duration, percentage, bytes, entity name). */
  semanticType: SemType
}

export interface CompiledTable {
  name: string
  debug: boolean
  columns: PxlColumn[]
  sql: string
  params: Record<string, string | number | boolean>
}

export interface CompiledScript {
  tables: CompiledTable[]
  maxRows: number
}

export const DEFAULT_MAX_ROWS = 10_000

/** Compiles a PxL script; every mistake in it is a KILN_PXL error with line and column. */
export function compilePxl(script: string, opts: CompileOptions = {}): CompiledScript {
  const maxRows = opts.maxRows ?? DEFAULT_MAX_ROWS
  const db = opts.db ?? 'kiln'
  try {
    const ast = parse(script)
    const interp = new Interp()
    interp.run(ast.body)
    const funcs = [...interp.globals.vars].filter(([, v]) => v.t === 'func').map(([k]) => k)
    let func = opts.func
    if (!func && interp.sinks.length === 0) {
      if (funcs.length === 1) func = funcs[0]
      else if (funcs.length > 1)
        pxlError(
          { line: 1, col: 1 },
          `the script displays nothing; name the function to run (func, or --func on the command line): ${funcs.join(', ')}`,
        )
      else pxlError({ line: 1, col: 1 }, "the script displays nothing: add px.display(df, 'name')")
    }
    if (func) callFunction(interp, func, funcs, opts.args ?? {})
    else if (opts.args && Object.keys(opts.args).length)
      pxlError(
        { line: 1, col: 1 },
        `arguments were given (${Object.keys(opts.args).join(', ')}) but no function takes them; name one with func (--func)`,
      )
    const tables = interp.sinks.map((s) => ({
      name: s.name,
      debug: s.debug,
      columns: s.node.cols.map((c) => ({ name: c.name, type: shownType(c.type), semanticType: c.sem })),
      ...compileQuery(s.node, db, maxRows),
    }))
    return { tables, maxRows }
  } catch (e) {
    if (e instanceof KilnError) throw e
    // A stack overflow or a compiler bug still reaches the user as a PxL error, never a 500.
    throw new KilnError(
      'KILN_PXL',
      `the script could not be compiled: ${e instanceof RangeError ? 'it nests too deeply' : (e as Error).message}`,
    )
  }
}

function callFunction(interp: Interp, name: string, funcs: string[], args: Record<string, PxlArg>): void {
  const fn = interp.globals.vars.get(name)
  if (!fn || fn.t !== 'func') unknownName({ line: 1, col: 1 }, 'function', name, funcs)
  const pos = { line: fn.body[0]?.line ?? 1, col: 1 }
  const kwargs = new Map<string, { v: Value; pos: typeof pos }>()
  for (const [k, raw] of Object.entries(args)) {
    const i = fn.params.findIndex((p) => p.name === k)
    if (i < 0)
      unknownName(
        pos,
        `argument of ${name}()`,
        k,
        fn.params.map((p) => p.name),
      )
    const p = fn.params[i]!
    kwargs.set(k, { v: argValue(raw, fn.annotations[i], fn.defaults[i], `${name}(${k})`, p), pos: p })
  }
  const out = interp.callUser(fn, { pos, args: [], kwargs })
  if (out.t !== 'df') {
    if (interp.sinks.length) return
    pxlError(pos, `${name}() returned ${kindOf(out)}; a function run as a script returns a DataFrame`)
  }
  interp.display(name, out, pos, false)
}

/** Converts a command-line or JSON argument by the parameter's annotation (or its default's type). */
function argValue(raw: PxlArg, ann: Value | undefined, def: Value | undefined, what: string, pos: { line: number; col: number }): Value {
  const want = ann?.t === 'type' ? ann.name : def?.t === 'int' ? 'int' : def?.t === 'float' ? 'float' : def?.t === 'bool' ? 'bool' : 'str'
  const text = String(raw)
  switch (want) {
    case 'int': {
      if (typeof raw === 'number' && Number.isSafeInteger(raw)) return int(raw)
      if (!/^\s*[-+]?\d+\s*$/.test(text)) pxlError(pos, `${what} is an integer, got '${text}'`)
      return int(Number(text), pos)
    }
    case 'float': {
      const n = Number(text)
      if (text.trim() === '' || !Number.isFinite(n)) pxlError(pos, `${what} is a number, got '${text}'`)
      return { t: 'float', v: n }
    }
    case 'bool':
      if (raw === true || /^(true|1|yes)$/i.test(text)) return { t: 'bool', v: true }
      if (raw === false || /^(false|0|no)$/i.test(text)) return { t: 'bool', v: false }
      return pxlError(pos, `${what} is true or false, got '${text}'`)
    default:
      return { t: 'str', v: text }
  }
}
