/**
 * The DataFrame plan: what a script's DataFrame operations build, one node per operation. Each
 * node knows its columns (shown) and hidden columns (the source's derived columns and process
 * metadata, reachable by name or through `df.ctx` but not displayed). The SQL compiler turns a
 * displayed node into one query.
 */
import type { CExpr, ColDef } from './types.ts'

interface Base {
  id: number
  cols: ColDef[]
  hidden: ColDef[]
}

export type JoinHow = 'inner' | 'left' | 'right' | 'outer'

export type Node =
  | (Base & { k: 'source'; table: string; start: CExpr | null; end: CExpr | null })
  | (Base & { k: 'project'; input: Node; outs: Out[] })
  | (Base & { k: 'filter'; input: Node; pred: CExpr })
  | (Base & { k: 'agg'; input: Node; keys: string[]; aggs: Out[] })
  | (Base & {
      k: 'join'
      left: Node
      right: Node
      how: JoinHow
      leftOn: string[]
      rightOn: string[]
      outs: { name: string; side: 'l' | 'r'; col: string }[]
    })
  | (Base & { k: 'union'; inputs: Node[] })
  | (Base & { k: 'sort'; input: Node; keys: { name: string; asc: boolean }[] })
  | (Base & { k: 'limit'; input: Node; n: number })

export interface Out {
  name: string
  expr: CExpr
}

let nextId = 1
/** Gives a node its id (ids order nodes for the compiler's bookkeeping). */
export function node<T extends Omit<Node, 'id'>>(n: T): T & { id: number } {
  return { ...n, id: nextId++ }
}

/** Inputs of a node. */
export function inputsOf(n: Node): Node[] {
  switch (n.k) {
    case 'source':
      return []
    case 'join':
      return [n.left, n.right]
    case 'union':
      return n.inputs
    default:
      return [n.input]
  }
}

/** A column by name: shown columns first, then hidden ones (derived columns, metadata). */
export function findCol(n: Node, name: string): ColDef | undefined {
  return n.cols.find((c) => c.name === name) ?? n.hidden.find((c) => c.name === name)
}

/** Names a user may write for a node's columns (for suggestions). */
export function userNames(n: Node): string[] {
  return [...n.cols.map((c) => c.name), ...n.hidden.filter((c) => !c.name.startsWith('$')).map((c) => c.name)]
}

/** A displayed table: one `px.display` (or `px.debug`, or a called function's result). */
export interface Sink {
  name: string
  node: Node
  debug: boolean
}
