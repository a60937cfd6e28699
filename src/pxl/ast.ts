/** The syntax tree of a PxL script: Python's statements and expressions that PxL uses. */
import type { Pos } from './errors.ts'

export type Expr =
  | ({ k: 'name'; id: string } & Pos)
  | ({ k: 'num'; value: number; int: boolean; text: string } & Pos)
  | ({ k: 'str'; value: string } & Pos)
  | ({ k: 'const'; value: boolean | null } & Pos)
  | ({ k: 'attr'; obj: Expr; name: string } & Pos)
  | ({ k: 'index'; obj: Expr; index: Expr } & Pos)
  | ({ k: 'call'; fn: Expr; args: Expr[]; kwargs: { name: string; value: Expr; pos: Pos }[] } & Pos)
  | ({ k: 'bin'; op: BinOp; l: Expr; r: Expr } & Pos)
  | ({ k: 'unary'; op: '-' | '+' | '~' | 'not'; e: Expr } & Pos)
  | ({ k: 'bool'; op: 'and' | 'or'; l: Expr; r: Expr } & Pos)
  | ({ k: 'list'; items: Expr[]; tuple: boolean } & Pos)
  | ({ k: 'dict'; entries: { key: Expr; value: Expr }[] } & Pos)
  | ({ k: 'lambda'; params: Param[]; body: Expr } & Pos)

export type BinOp = '+' | '-' | '*' | '/' | '//' | '%' | '**' | '&' | '|' | '^' | '<<' | '>>' | '==' | '!=' | '<' | '<=' | '>' | '>='

export interface Param extends Pos {
  name: string
  annotation?: Expr
  default?: Expr
}

export type Stmt =
  | ({ k: 'import'; module: string; alias: string } & Pos)
  | ({ k: 'assign'; target: Expr; value: Expr } & Pos)
  | ({ k: 'expr'; e: Expr } & Pos)
  | ({ k: 'def'; name: string; params: Param[]; body: Stmt[] } & Pos)
  | ({ k: 'return'; e: Expr | null } & Pos)
  | ({ k: 'pass' } & Pos)

export interface Script {
  body: Stmt[]
}
