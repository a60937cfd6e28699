/**
 * Runs compiled PxL against the store: one query per displayed table with the tenant and `now`
 * bound, results decoded by the column types. Compiled scripts are cached by (script, function,
 * arguments), so a refreshing Live view or dashboard compiles once.
 */
import type { ClickHouseClient } from '@clickhouse/client'
import { KilnError } from '../model/errors.ts'
import { compilePxl, type CompiledScript, type PxlArg, type PxlColumn } from './compile.ts'

export interface PxlRequest {
  script: string
  /** Function to run (its parameters come from `args`); default: the script's top level. */
  func?: string
  args?: Record<string, PxlArg>
  /** Rows per table at most (default 10,000). */
  maxRows?: number
}

export interface PxlTable {
  name: string
  columns: PxlColumn[]
  /** Values by column: numbers, strings, booleans; TIME64NS and UINT128 as decimal strings. */
  rows: unknown[][]
  /** More rows matched than `maxRows`; the first `maxRows` are returned. */
  truncated: boolean
  debug?: boolean
}

export interface PxlResult {
  tables: PxlTable[]
  compileMs: number
  runMs: number
}

// Distinct (script, arguments) pairs kept compiled; a dashboard has tens, a Live view a few.
const CACHE_SIZE = 256
// A script is a user's query on a shared server: one that would scan for longer (a merge on a
// constant key of two large tables) stops with a KILN_PXL error instead of holding the store.
const QUERY_SECONDS = 60

export class PxlRunner {
  private readonly cache = new Map<string, CompiledScript>()

  constructor(
    private readonly client: ClickHouseClient,
    private readonly db: string,
  ) {}

  /** Compiles (or takes from the cache) a request. */
  compile(req: PxlRequest): { compiled: CompiledScript; ms: number } {
    const start = performance.now()
    const key = JSON.stringify([req.script, req.func ?? null, req.args ?? {}, req.maxRows ?? null])
    let compiled = this.cache.get(key)
    if (compiled) {
      // Re-insert: Map order is recency, so the oldest entry is evicted first.
      this.cache.delete(key)
    } else {
      compiled = compilePxl(req.script, { func: req.func, args: req.args, db: this.db, maxRows: req.maxRows })
      if (this.cache.size >= CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!)
    }
    this.cache.set(key, compiled)
    return { compiled, ms: performance.now() - start }
  }

  /** Runs a script for a tenant; `nowNs` fixes `px.now()` (tests, reproducible dashboards). */
  async run(tenant: string, req: PxlRequest, nowNs: bigint = BigInt(Date.now()) * 1_000_000n): Promise<PxlResult> {
    const { compiled, ms } = this.compile(req)
    const start = performance.now()
    const tables = await Promise.all(compiled.tables.map((t) => this.query(t, tenant, nowNs, compiled.maxRows)))
    return { tables, compileMs: round(ms), runMs: round(performance.now() - start) }
  }

  private async query(t: CompiledScript['tables'][number], tenant: string, nowNs: bigint, maxRows: number): Promise<PxlTable> {
    let rows: unknown[][]
    try {
      const rs = await this.client.query({
        query: t.sql,
        query_params: { ...t.params, tenant, now: nowNs.toString() },
        format: 'JSONCompactEachRow',
        clickhouse_settings: { max_execution_time: QUERY_SECONDS },
      })
      rows = (await rs.json()) as unknown[][]
    } catch (e) {
      const err = e as { code?: string; message?: string }
      // A ClickHouse exception (it has a numeric code) means the compiled query was refused: report
      // it as a script problem with the engine's reason; anything else is the store being unreachable.
      if (err.code && /^\d+$/.test(err.code)) {
        throw new KilnError('KILN_PXL', `table '${t.name}': the store refused the compiled query: ${firstLine(err.message ?? '')}`, {
          details: { table: t.name },
        })
      }
      throw new KilnError('KILN_STORE', `table '${t.name}': the store did not answer: ${err.message ?? String(e)}`)
    }
    const truncated = rows.length > maxRows
    if (truncated) rows.length = maxRows
    const decode = t.columns.map((c) => decoder(c.type))
    for (const r of rows) {
      r.length = decode.length
      for (let i = 0; i < r.length; i++) r[i] = decode[i]!(r[i])
    }
    const out: PxlTable = { name: t.name, columns: t.columns, rows, truncated }
    if (t.debug) out.debug = true
    return out
  }
}

function decoder(type: PxlColumn['type']): (v: unknown) => unknown {
  switch (type) {
    case 'INT64':
      // Exact as a number up to 2^53; larger values stay decimal strings rather than lose digits.
      return (v) => {
        const n = Number(v)
        return Number.isSafeInteger(n) ? n : v
      }
    case 'BOOLEAN':
      return (v) => v === true || v === 1 || v === '1' || v === 'true'
    default:
      return (v) => v
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100
const firstLine = (s: string) => s.split('\n')[0]!.slice(0, 500)
