/**
 * PxL on Kiln: the public surface. `compilePxl` turns a script into one SQL query per displayed
 * table; `PxlRunner` runs them on the store (with a compile cache); `pxlCatalog` lists tables,
 * columns and functions for editors (completion) and docs.
 */
import { aggFns, scalarFns, upidMetadataFns } from './functions.ts'
import { pxNames } from './px.ts'
import { ctxKeys, derivedColumns, sourceSchema, tableNames } from './tables.ts'
import { shownType } from './types.ts'
import { dataFrameMethods } from './methods.ts'

export {
  compilePxl,
  DEFAULT_MAX_ROWS,
  type CompileOptions,
  type CompiledScript,
  type CompiledTable,
  type PxlArg,
  type PxlColumn,
} from './compile.ts'
export { PxlRunner, type PxlRequest, type PxlResult, type PxlTable } from './runner.ts'
export { parse } from './parser.ts'
export { tokenize } from './lexer.ts'
export type { PxlErrorDetails } from './errors.ts'
export type { SemType } from './types.ts'

export interface PxlCatalog {
  tables: { name: string; columns: { name: string; type: string; derived: boolean; doc: string }[] }[]
  functions: { name: string; kind: 'scalar' | 'aggregate' | 'metadata' | 'other'; sig: string; doc: string }[]
  ctxKeys: string[]
  dataFrameMethods: string[]
}

/** Tables, columns (stored and derived), px functions and ctx keys, for completion and docs. */
export function pxlCatalog(): PxlCatalog {
  const derived = derivedColumns()
  const tables = tableNames.map((name) => {
    const s = sourceSchema(name)!
    return {
      name,
      columns: [
        ...s.cols.map((c) => ({ name: c.name, type: shownType(c.type), derived: false, doc: c.doc ?? '' })),
        ...(derived[name] ?? []).map((c) => ({ name: c.name, type: shownType(c.type), derived: true, doc: c.doc })),
      ],
    }
  })
  const functions: PxlCatalog['functions'] = [
    ...Object.entries(scalarFns).map(([n, f]) => ({ name: `px.${n}`, kind: 'scalar' as const, sig: f.sig, doc: f.doc })),
    ...Object.entries(aggFns).map(([n, f]) => ({ name: `px.${n}`, kind: 'aggregate' as const, sig: f.sig, doc: f.doc })),
    ...Object.entries(upidMetadataFns).map(([n, k]) => ({
      name: `px.${n}`,
      kind: 'metadata' as const,
      sig: '(UINT128) → STRING',
      doc: `the process's ${k}, as df.ctx['${k}']`,
    })),
  ]
  const listed = new Set(functions.map((f) => f.name))
  for (const n of pxNames) if (!listed.has(`px.${n}`)) functions.push({ name: `px.${n}`, kind: 'other', sig: '', doc: '' })
  return { tables, functions, ctxKeys: Object.keys(ctxKeys), dataFrameMethods }
}
