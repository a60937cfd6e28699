/**
 * The evaluator: runs a script's statements at compile time. Python values are computed; DataFrame
 * operations build plan nodes; `px.display` records what to show. Nothing here touches rows.
 */
import { aggSpec, columnMethod, convert, literalOf } from './agg.ts'
import type { Expr, Param, Stmt } from './ast.ts'
import { pxlError, unknownName, type Pos } from './errors.ts'
import * as frame from './frame.ts'
import { binary, logical, unary } from './ops.ts'
import type { Node, Sink } from './plan.ts'
import { pxAttr } from './px.ts'
import { dataFrameAttr } from './methods.ts'
import { NONE, Scope, int, kindOf, type Arg, type Args, type Value } from './values.ts'

// User functions calling each other deeper than this are recursing without end (PxL has no `if`).
const MAX_CALL_DEPTH = 40

class Return {
  constructor(readonly value: Value) {}
}

const builtinTypes = ['str', 'int', 'float', 'bool']

export class Interp {
  readonly globals = new Scope(null)
  readonly sinks: Sink[] = []
  private depth = 0

  constructor() {
    for (const t of builtinTypes) this.globals.vars.set(t, { t: 'type', name: t })
  }

  /** Records a displayed table; names stay unique (`name`, `name_2`, …) so each is addressable. */
  display(name: string, v: Value, pos: Pos, debug: boolean): void {
    if (v.t !== 'df') pxlError(pos, `px.${debug ? 'debug' : 'display'} shows a DataFrame, got ${kindOf(v)}`)
    let unique = name
    for (let i = 2; this.sinks.some((s) => s.name === unique); i++) unique = `${name}_${i}`
    this.sinks.push({ name: unique, node: v.box.node, debug })
  }

  run(body: Stmt[], scope: Scope = this.globals): void {
    for (const s of body) this.exec(s, scope)
  }

  private exec(s: Stmt, scope: Scope): void {
    switch (s.k) {
      case 'import':
        if (s.module !== 'px')
          pxlError(s, `module '${s.module}' is not available; PxL scripts import px`, { name: s.module, valid: ['px'] })
        scope.vars.set(s.alias, { t: 'module', name: 'px' })
        return
      case 'pass':
        return
      case 'expr':
        this.eval(s.e, scope)
        return
      case 'return':
        if (scope === this.globals) pxlError(s, "'return' outside a function")
        throw new Return(s.e ? this.eval(s.e, scope) : NONE)
      case 'def': {
        const defaults = s.params.map((p) => (p.default ? this.eval(p.default, scope) : undefined))
        const annotations = s.params.map((p) => (p.annotation ? this.eval(p.annotation, scope) : undefined))
        scope.vars.set(s.name, { t: 'func', name: s.name, params: s.params, defaults, annotations, body: s.body, scope })
        return
      }
      case 'assign':
        this.assign(s.target, this.eval(s.value, scope), scope, s)
        return
    }
  }

  private assign(target: Expr, v: Value, scope: Scope, pos: Pos): void {
    if (target.k === 'name') {
      if (target.id === 'px' && v.t !== 'module') pxlError(target, "assigning to 'px' hides the px module")
      scope.vars.set(target.id, v)
      return
    }
    if (target.k === 'attr' || target.k === 'index') {
      const obj = this.eval(target.obj, scope)
      if (obj.t !== 'df') pxlError(target, `only DataFrame columns can be assigned (df.x = …), not attributes of ${kindOf(obj)}`)
      let name: string
      if (target.k === 'attr') name = target.name
      else {
        const key = this.eval(target.index, scope)
        if (key.t !== 'str') pxlError(target.index, `a column name is a string, got ${kindOf(key)}`)
        name = key.v
      }
      if (name === 'ctx') pxlError(target, "'ctx' is the metadata accessor; name the column differently")
      const e =
        v.t === 'col'
          ? v.e
          : v.t === 'int' || v.t === 'float' || v.t === 'str' || v.t === 'bool'
            ? undefined
            : pxlError(pos, `a column is assigned an expression or a value, got ${kindOf(v)}`)
      obj.box.node = frame.assign(obj.box.node, name, e ?? literalOf(v, pos), pos)
      return
    }
    pxlError(target, 'cannot assign to this expression')
  }

  eval(e: Expr, scope: Scope): Value {
    switch (e.k) {
      case 'num':
        return e.int ? int(e.value, e) : { t: 'float', v: e.value }
      case 'str':
        return { t: 'str', v: e.value }
      case 'const':
        return e.value === null ? NONE : { t: 'bool', v: e.value }
      case 'name': {
        const v = scope.get(e.id)
        if (v) return v
        if (e.id === 'px') pxlError(e, "name 'px' is not defined: start the script with 'import px'")
        return unknownName(e, 'name', e.id, scope.names())
      }
      case 'list':
        return { t: 'list', items: e.items.map((x) => this.eval(x, scope)), tuple: e.tuple }
      case 'dict':
        return { t: 'dict', entries: e.entries.map((x) => [this.eval(x.key, scope), this.eval(x.value, scope)]) }
      case 'lambda':
        return { t: 'lambda', params: e.params, body: e.body, scope }
      case 'bin':
        return binary(e.op, this.eval(e.l, scope), this.eval(e.r, scope), e)
      case 'bool':
        return logical(e.op, this.eval(e.l, scope), () => this.eval(e.r, scope), e)
      case 'unary':
        return unary(e.op, this.eval(e.e, scope), e)
      case 'attr':
        return this.attr(this.eval(e.obj, scope), e.name, e)
      case 'index':
        return this.index(this.eval(e.obj, scope), this.eval(e.index, scope), e)
      case 'call': {
        const fn = this.eval(e.fn, scope)
        const args: Args = {
          pos: e,
          args: e.args.map((a) => ({ v: this.eval(a, scope), pos: a as Pos })),
          kwargs: new Map(e.kwargs.map((k) => [k.name, { v: this.eval(k.value, scope), pos: k.pos }])),
        }
        return this.call(fn, args)
      }
    }
  }

  private attr(obj: Value, name: string, pos: Pos): Value {
    switch (obj.t) {
      case 'module':
        return pxAttr(this, name, pos)
      case 'df':
        return dataFrameAttr(this, obj, name, pos)
      case 'col':
        return columnMethod(obj, name, pos)
      case 'groupby':
        if (name === 'agg')
          return { t: 'builtin', name: 'agg', call: (a) => ({ t: 'df', box: { node: this.aggCall(obj.node, obj.keys, a) } }) }
        return unknownName(pos, 'groupby method', name, ['agg'])
      default:
        pxlError(pos, `${kindOf(obj)} has no attribute '${name}'`, { name })
    }
  }

  private index(obj: Value, key: Value, pos: Pos): Value {
    if (obj.t === 'df') {
      const n = obj.box.node
      if (key.t === 'str') return { t: 'col', e: frame.column(n, key.v, pos), from: n }
      if (key.t === 'list')
        return {
          t: 'df',
          box: {
            node: frame.select(
              n,
              key.items.map((k) => (k.t === 'str' ? k.v : pxlError(pos, `column names are strings, got ${kindOf(k)}`))),
              pos,
            ),
          },
        }
      if (key.t === 'col') return { t: 'df', box: { node: frame.filter(n, key.e, pos) } }
      if (key.t === 'bool')
        return key.v ? obj : { t: 'df', box: { node: frame.filter(n, { k: 'lit', value: false, type: 'BOOLEAN', sem: 'ST_NONE' }, pos) } }
      pxlError(pos, `a DataFrame is indexed by a column name, a list of names or a filter expression, got ${kindOf(key)}`)
    }
    if (obj.t === 'ctx') {
      if (key.t !== 'str') pxlError(pos, `df.ctx is indexed by a string such as 'pod', got ${kindOf(key)}`)
      return { t: 'col', e: frame.ctxColumn(obj.node, key.v, pos), from: obj.node }
    }
    if (obj.t === 'list' || obj.t === 'str') {
      if (key.t !== 'int') pxlError(pos, `an index is an integer, got ${kindOf(key)}`)
      const len = obj.t === 'list' ? obj.items.length : obj.v.length
      const i = key.v < 0 ? len + key.v : key.v
      if (i < 0 || i >= len) pxlError(pos, `index ${key.v} is out of range (length ${len})`)
      return obj.t === 'list' ? obj.items[i]! : { t: 'str', v: obj.v[i]! }
    }
    if (obj.t === 'dict') {
      const hit = obj.entries.find(([k]) => JSON.stringify(k) === JSON.stringify(key))
      if (!hit) pxlError(pos, `key not in the dict`)
      return hit[1]
    }
    pxlError(pos, `${kindOf(obj)} cannot be indexed`)
  }

  call(fn: Value, a: Args): Value {
    switch (fn.t) {
      case 'builtin':
        return fn.call(a)
      case 'func':
      case 'lambda':
        return this.callUser(fn, a)
      case 'uda':
        if (fn.name === 'quantiles' && fn.q === undefined) {
          const q = a.args[0]?.v
          if (a.args.length !== 1 || a.kwargs.size || (q?.t !== 'float' && q?.t !== 'int') || q.v < 0 || q.v > 1)
            pxlError(a.pos, 'px.quantiles(q) takes one level between 0 and 1, e.g. px.quantiles(0.99)')
          return { t: 'uda', name: 'quantiles', q: q.v }
        }
        return pxlError(a.pos, `px.${fn.name} is an aggregate: use it in .agg(name=('column', px.${fn.name}))`)
      case 'type':
        return convert(fn.name, a)
      default:
        pxlError(a.pos, `${kindOf(fn)} is not callable`)
    }
  }

  /** Calls a user function or lambda with Python's binding rules. */
  callUser(fn: Extract<Value, { t: 'func' | 'lambda' }>, a: Args): Value {
    const local = new Scope(fn.scope)
    const name = fn.t === 'func' ? fn.name : 'lambda'
    bindParams(name, fn.params, fn.t === 'func' ? fn.defaults : [], a, (p, v) => local.vars.set(p, v))
    if (++this.depth > MAX_CALL_DEPTH) pxlError(a.pos, `calls nested deeper than ${MAX_CALL_DEPTH} (does '${name}' call itself?)`)
    try {
      if (fn.t === 'lambda') return this.eval(fn.body, local)
      try {
        this.run(fn.body, local)
      } catch (e) {
        if (e instanceof Return) return e.value
        throw e
      }
      return NONE
    } finally {
      this.depth--
    }
  }

  /** `.agg(name=(column, fn), …)` on a groupby (or a whole DataFrame when keys is empty). */
  aggCall(n: Node, keys: string[], a: Args): Node {
    if (a.args.length) pxlError(a.pos, ".agg takes named aggregates only: .agg(count=('time_', px.count))")
    const outs = [...a.kwargs].map(([name, arg]) => ({ name, expr: aggSpec(this, n, name, arg) }))
    if (!outs.length) pxlError(a.pos, ".agg needs at least one aggregate, e.g. .agg(count=('time_', px.count))")
    return frame.aggregate(n, keys, outs, a.pos)
  }
}

/** Binds call arguments to parameters: positional, then keywords, then defaults. */
export function bindParams(
  name: string,
  params: Param[],
  defaults: (Value | undefined)[],
  a: Args,
  set: (name: string, v: Value) => void,
): void {
  if (a.args.length > params.length)
    pxlError(a.pos, `${name}() takes ${params.length} argument${params.length === 1 ? '' : 's'}, got ${a.args.length}`)
  const bound = new Map<string, Arg>()
  a.args.forEach((arg, i) => bound.set(params[i]!.name, arg))
  for (const [k, arg] of a.kwargs) {
    if (!params.some((p) => p.name === k))
      unknownName(
        arg.pos,
        `parameter of ${name}()`,
        k,
        params.map((p) => p.name),
      )
    if (bound.has(k)) pxlError(arg.pos, `${name}() got two values for '${k}'`)
    bound.set(k, arg)
  }
  params.forEach((p, i) => {
    const v = bound.get(p.name)?.v ?? defaults[i]
    if (!v) pxlError(a.pos, `${name}() is missing the argument '${p.name}'`, { name: p.name })
    set(p.name, v)
  })
}
