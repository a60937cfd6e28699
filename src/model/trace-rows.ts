/**
 * Checks a batch of tracing rows as the ingest API receives it — `{ "<table>": [ {column: value} ] }`
 * — and converts values to what the store inserts. Every refusal names the table, row and column.
 */
import { KilnError } from './errors.ts'
import { traceTable, traceTableNames, type PxType } from './trace-tables.ts'
import { nearest } from './nearest.ts'

export type TraceRow = Record<string, string | number | boolean>
export type TraceBatch = Map<string, TraceRow[]>

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
const UINT128_MAX = 2n ** 128n - 1n

/**
 * Validates a parsed JSON body; returns rows per table with times as `seconds.nanoseconds` strings.
 * Rows older than `oldestNs` (now − retention) are refused: the TTL would drop them unseen.
 */
export function checkTraceBatch(body: unknown, oldestNs = 0n): { batch: TraceBatch; rows: number } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new KilnError(
      'KILN_BAD_REQUEST',
      'expected a JSON object of table name → array of rows, e.g. {"http_events": [{"time_": "1764676289123456789", …}]}',
    )
  }
  const batch: TraceBatch = new Map()
  let rows = 0
  for (const [name, list] of Object.entries(body)) {
    const table = traceTable(name)
    if (!table)
      throw new KilnError(
        'KILN_BAD_REQUEST',
        `unknown table ${JSON.stringify(name)}${hint(name, traceTableNames)}; tables: ${traceTableNames.join(', ')}`,
      )
    if (table.view)
      throw new KilnError(
        'KILN_BAD_REQUEST',
        `${name} is read-only: Kiln fills it from the stored profiles; send profiles to /ingest instead`,
      )
    if (!Array.isArray(list)) throw new KilnError('KILN_BAD_REQUEST', `${name}: expected an array of rows`)
    const types = new Map(table.columns.map((c) => [c.name, c.type]))
    const out: TraceRow[] = []
    list.forEach((row: unknown, i) => {
      if (row === null || typeof row !== 'object' || Array.isArray(row))
        throw new KilnError('KILN_BAD_REQUEST', `${name} row ${i}: expected an object of column → value`)
      const r: TraceRow = {}
      for (const [k, v] of Object.entries(row)) {
        const type = types.get(k)
        if (!type)
          throw new KilnError('KILN_BAD_REQUEST', `${name} row ${i}: unknown column ${JSON.stringify(k)}${hint(k, [...types.keys()])}`)
        r[k] = convert(v, type, () => `${name} row ${i} column ${k}`)
      }
      if (r.time_ === undefined)
        throw new KilnError('KILN_BAD_REQUEST', `${name} row ${i}: time_ is required (nanoseconds since the epoch)`)
      if (BigInt((r.time_ as string).replace('.', '')) < oldestNs) {
        throw new KilnError(
          'KILN_BAD_TIME',
          `${name} row ${i}: time_ ${r.time_ as string} is older than the tracing retention; send current rows, or start the server with a longer --trace-retention`,
        )
      }
      out.push(r)
    })
    rows += out.length
    if (out.length) batch.set(name, out)
  }
  return { batch, rows }
}

function convert(v: unknown, type: PxType, where: () => string): string | number | boolean {
  switch (type) {
    case 'STRING':
      if (typeof v !== 'string') throw new KilnError('KILN_BAD_REQUEST', `${where()}: expected a string, got ${kind(v)}`)
      return v
    case 'BOOLEAN':
      if (typeof v === 'boolean') return v
      if (v === 0 || v === 1) return v === 1
      throw new KilnError('KILN_BAD_REQUEST', `${where()}: expected true or false, got ${kind(v)}`)
    case 'FLOAT64':
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw new KilnError('KILN_BAD_REQUEST', `${where()}: expected a finite number, got ${kind(v)}`)
      return v
    case 'INT64': {
      const n = integer(v, where)
      if (n < INT64_MIN || n > INT64_MAX) throw new KilnError('KILN_BAD_REQUEST', `${where()}: ${n} does not fit in Int64`)
      return typeof v === 'number' ? v : n.toString()
    }
    case 'UINT128': {
      const n = integer(v, where)
      if (n < 0n || n > UINT128_MAX) throw new KilnError('KILN_BAD_REQUEST', `${where()}: ${n} does not fit in UInt128`)
      return n.toString()
    }
    case 'TIME64NS': {
      const n = integer(v, where)
      // Year 1970 to 2262: the range of Int64 nanoseconds, which ClickHouse's DateTime64(9) holds.
      if (n < 0n || n > INT64_MAX)
        throw new KilnError('KILN_BAD_TIME', `${where()}: ${n} is not a time in nanoseconds since the epoch (1970–2262)`)
      const s = n / 1_000_000_000n
      return `${s}.${(n % 1_000_000_000n).toString().padStart(9, '0')}`
    }
  }
}

function integer(v: unknown, where: () => string): bigint {
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v)
  if (typeof v === 'string' && /^-?\d{1,40}$/.test(v)) return BigInt(v)
  throw new KilnError(
    'KILN_BAD_REQUEST',
    `${where()}: expected an integer (a number, or a string of digits for 64-bit values), got ${kind(v)}`,
  )
}

function kind(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`
}

function hint(name: string, names: readonly string[]): string {
  const n = nearest(name, names)
  return n.length ? ` (did you mean ${n.map((x) => JSON.stringify(x)).join(' or ')}?)` : ''
}
