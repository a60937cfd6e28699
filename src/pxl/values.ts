/**
 * Values of the PxL evaluator: Python scalars and containers, the `px` module, user functions,
 * DataFrames (a mutable box holding a plan node, since `df.x = …` changes the object as in
 * Python) and column expressions.
 */
import type { Expr, Param, Stmt } from './ast.ts'
import { pxlError, type Pos } from './errors.ts'
import type { Node } from './plan.ts'
import type { CExpr, ColType } from './types.ts'

export type Value =
  | { t: 'none' }
  | { t: 'bool'; v: boolean }
  | { t: 'int'; v: number }
  | { t: 'float'; v: number }
  | { t: 'str'; v: string }
  | { t: 'list'; items: Value[]; tuple: boolean }
  | { t: 'dict'; entries: [Value, Value][] }
  | { t: 'module'; name: string }
  | { t: 'builtin'; name: string; call: (a: Args) => Value }
  | {
      t: 'func'
      name: string
      params: Param[]
      defaults: (Value | undefined)[]
      annotations: (Value | undefined)[]
      body: Stmt[]
      scope: Scope
    }
  | { t: 'lambda'; params: Param[]; body: Expr; scope: Scope }
  | { t: 'df'; box: { node: Node } }
  | { t: 'col'; e: CExpr; from?: Node }
  | { t: 'groupby'; node: Node; keys: string[] }
  | { t: 'ctx'; node: Node }
  | { t: 'uda'; name: string; q?: number }
  | { t: 'type'; name: string }

export interface Arg {
  v: Value
  pos: Pos
}

/** A call's arguments as evaluated, with positions for errors. */
export interface Args {
  pos: Pos
  args: Arg[]
  kwargs: Map<string, Arg>
}

export class Scope {
  readonly vars = new Map<string, Value>()
  constructor(readonly parent: Scope | null) {}
  get(name: string): Value | undefined {
    return this.vars.get(name) ?? this.parent?.get(name)
  }
  names(): string[] {
    return [...this.vars.keys(), ...(this.parent?.names() ?? [])]
  }
}

export const NONE: Value = { t: 'none' }
export const str = (v: string): Value => ({ t: 'str', v })
export const int = (v: number, pos?: Pos): Value => {
  if (!Number.isSafeInteger(v)) pxlError(pos, `integer ${v} is outside the range PxL computes exactly (±2^53)`)
  return { t: 'int', v }
}

/** A short description of a value's kind, for error messages. */
export function kindOf(v: Value): string {
  switch (v.t) {
    case 'none':
      return 'None'
    case 'bool':
      return 'a boolean'
    case 'int':
      return 'an integer'
    case 'float':
      return 'a float'
    case 'str':
      return 'a string'
    case 'list':
      return v.tuple ? 'a tuple' : 'a list'
    case 'dict':
      return 'a dict'
    case 'module':
      return `the module ${v.name}`
    case 'builtin':
      return `the function ${v.name}`
    case 'func':
      return `the function ${v.name}`
    case 'lambda':
      return 'a lambda'
    case 'df':
      return 'a DataFrame'
    case 'col':
      return `a column expression (${v.e.type})`
    case 'groupby':
      return 'a groupby (call .agg(...) on it)'
    case 'ctx':
      return "df.ctx (index it: df.ctx['pod'])"
    case 'uda':
      return `the aggregate px.${v.name}`
    case 'type':
      return `the type ${v.name}`
  }
}

export const isScalar = (v: Value): v is Extract<Value, { t: 'bool' | 'int' | 'float' | 'str' }> =>
  v.t === 'bool' || v.t === 'int' || v.t === 'float' || v.t === 'str'

/** A Python scalar as a typed literal column expression. */
export function literal(v: Value, pos: Pos): CExpr {
  switch (v.t) {
    case 'bool':
      return { k: 'lit', value: v.v, type: 'BOOLEAN', sem: 'ST_NONE' }
    case 'int':
      return { k: 'lit', value: v.v, type: 'INT64', sem: 'ST_NONE' }
    case 'float':
      if (!Number.isFinite(v.v)) pxlError(pos, `${v.v} is not a finite number`)
      return { k: 'lit', value: v.v, type: 'FLOAT64', sem: 'ST_NONE' }
    case 'str':
      return { k: 'lit', value: v.v, type: 'STRING', sem: 'ST_NONE' }
    case 'col':
      return v.e
    default:
      pxlError(pos, `expected a column or a value, got ${kindOf(v)}`)
  }
}

/** Python truthiness of a scalar. */
export function truthy(v: Value, pos: Pos): boolean {
  switch (v.t) {
    case 'none':
      return false
    case 'bool':
      return v.v
    case 'int':
    case 'float':
      return v.v !== 0
    case 'str':
      return v.v !== ''
    case 'list':
      return v.items.length > 0
    case 'dict':
      return v.entries.length > 0
    default:
      pxlError(pos, `${kindOf(v)} has no truth value here`)
  }
}

/** Column type of a Python scalar kind. */
export const scalarType = (v: Value): ColType | undefined =>
  v.t === 'int' ? 'INT64' : v.t === 'float' ? 'FLOAT64' : v.t === 'str' ? 'STRING' : v.t === 'bool' ? 'BOOLEAN' : undefined
