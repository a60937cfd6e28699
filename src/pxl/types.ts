/**
 * PxL's value types and column expressions. Columns have Pixie's types; `QUANTILES` is Kiln's
 * in-store form of `px.quantiles` (an Array(Float64) of p01, p10, p50, p90, p99) that reaches the
 * user as Pixie's JSON string, and `px.pluck_float64` reads by index instead of parsing JSON.
 */
import type { PxType } from '../model/trace-tables.ts'

export type ColType = PxType | 'QUANTILES'

/** Pixie's semantic types, for display (durations, percentages, bytes, entity names). */
export type SemType =
  | 'ST_NONE'
  | 'ST_DURATION_NS'
  | 'ST_PERCENT'
  | 'ST_BYTES'
  | 'ST_SERVICE_NAME'
  | 'ST_POD_NAME'
  | 'ST_NAMESPACE_NAME'
  | 'ST_NODE_NAME'
  | 'ST_CONTAINER_NAME'
  | 'ST_UPID'
  | 'ST_QUANTILES'
  | 'ST_HTTP_RESP_STATUS'

/** A typed column expression over the columns of one DataFrame. */
export type CExpr =
  | { k: 'col'; name: string; type: ColType; sem: SemType }
  | { k: 'lit'; value: string | number | boolean; type: ColType; sem: SemType }
  | { k: 'now'; type: 'TIME64NS'; sem: SemType }
  | { k: 'fn'; fn: string; args: CExpr[]; type: ColType; sem: SemType; sql: (args: string[]) => string }
  | { k: 'agg'; fn: string; arg: CExpr | null; q?: number; type: ColType; sem: SemType; sql: (arg: string, q?: string) => string }

export interface ColDef {
  name: string
  type: ColType
  sem: SemType
}

/** The type a user sees: quantiles are Pixie's JSON string. */
export const shownType = (t: ColType): PxType => (t === 'QUANTILES' ? 'STRING' : t)

export const isNumeric = (t: ColType): boolean => t === 'INT64' || t === 'FLOAT64'

/** True when the expression contains an aggregate (only `.agg()` may hold those). */
export function hasAgg(e: CExpr): boolean {
  if (e.k === 'agg') return true
  return e.k === 'fn' && e.args.some(hasAgg)
}

/** Column names an expression reads. */
export function columnsOf(e: CExpr, out: Set<string> = new Set()): Set<string> {
  if (e.k === 'col') out.add(e.name)
  else if (e.k === 'fn') e.args.forEach((a) => columnsOf(a, out))
  else if (e.k === 'agg' && e.arg) columnsOf(e.arg, out)
  return out
}

/** ClickHouse type of a query parameter holding a literal of this type. */
export const paramType = (t: ColType): string =>
  ({
    STRING: 'String',
    INT64: 'Int64',
    FLOAT64: 'Float64',
    BOOLEAN: 'Bool',
    TIME64NS: 'Int64',
    UINT128: 'UInt128',
    QUANTILES: 'Array(Float64)',
  })[t]
