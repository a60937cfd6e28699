/**
 * The grouped body of `POST /api/v1/trace/events` (content type `application/vnd.kiln.trace-groups+json`,
 * what `kiln agent` sends; trace/batch.ts writes it):
 *
 *   {"tables": {"http_events": [[0, {"time_": "…", "req_path": "/a", …}], [1, {…}]], …},
 *    "groups": [{"upid": "…", "pid": 42, "remote_addr": "10.0.0.1", …}, {…}]}
 *
 * A row is `[group, columns]`: its group's columns (a process's and a connection's, sent once per
 * batch) and its own together. Its own may also be an array of values, of the columns the body
 * lists for its table once (`"columns": {"http_events": ["major_version", …, "time_"]}`: the
 * capture loader's compact rows, keys left out). Expanded here into the plain body (`{"<table>": [row, …]}`) that
 * `checkTraceBatch` validates column by column, so both bodies are held to the same rules.
 */
import { KilnError } from './errors.ts'

type Columns = Record<string, unknown>

/** The grouped body's content type. */
export const TRACE_GROUPS_TYPE = 'application/vnd.kiln.trace-groups+json'

const EXAMPLE = '{"tables": {"http_events": [[0, {"time_": "1764676289123456789"}]]}, "groups": [{"pid": 42}]}'

/** The grouped body (parsed JSON) as the plain one: table → rows with every column. */
export function expandGroups(body: unknown): Record<string, Columns[]> {
  if (!isObject(body) || !Array.isArray(body.groups) || !isObject(body.tables))
    throw new KilnError('KILN_BAD_REQUEST', `expected {"tables": {table: [[group, row], …]}, "groups": [columns, …]}, e.g. ${EXAMPLE}`)
  const extra = Object.keys(body).find((k) => k !== 'tables' && k !== 'groups' && k !== 'columns')
  if (extra !== undefined)
    throw new KilnError(
      'KILN_BAD_REQUEST',
      `unknown member ${JSON.stringify(extra)}: a grouped body has only "tables", "columns" and "groups"`,
    )
  const columns = columnLists(body.columns)
  const groups = body.groups as unknown[]
  groups.forEach((g, i) => {
    if (!isObject(g)) throw new KilnError('KILN_BAD_REQUEST', `group ${i}: expected an object of column → value`)
  })
  const out: Record<string, Columns[]> = Object.create(null)
  for (const [name, list] of Object.entries(body.tables as Columns)) {
    if (!Array.isArray(list)) throw new KilnError('KILN_BAD_REQUEST', `${name}: expected an array of [group, row] pairs`)
    out[name] = list.map((pair: unknown, i) => {
      if (!Array.isArray(pair) || pair.length !== 2 || !(isObject(pair[1]) || Array.isArray(pair[1])))
        throw new KilnError('KILN_BAD_REQUEST', `${name} row ${i}: expected [group, {column: value}] or [group, [values]]`)
      const g = pair[0] as unknown
      const own = Array.isArray(pair[1]) ? valuesRow(pair[1], columns.get(name), `${name} row ${i}`) : (pair[1] as Columns)
      if (typeof g !== 'number' || !Number.isInteger(g) || g < 0 || g >= groups.length)
        throw new KilnError(
          'KILN_BAD_REQUEST',
          `${name} row ${i}: group ${JSON.stringify(g)} is not an index of the ${groups.length} groups`,
        )
      // No prototype: a column named __proto__ stays a column (and is refused as unknown), never a setter.
      const row: Columns = Object.create(null)
      const shared = groups[g] as Columns
      for (const k of Object.keys(shared)) row[k] = shared[k]
      for (const k of Object.keys(own)) {
        if (k in row)
          throw new KilnError('KILN_BAD_REQUEST', `${name} row ${i}: column ${JSON.stringify(k)} is in the row and in its group ${g}`)
        row[k] = own[k]
      }
      return row
    })
  }
  return out
}

/** `"columns"`: table → the names of its array rows' values, in order. */
function columnLists(v: unknown): Map<string, string[]> {
  const out = new Map<string, string[]>()
  if (v === undefined) return out
  if (!isObject(v)) throw new KilnError('KILN_BAD_REQUEST', '"columns": expected an object of table → [column name, …]')
  for (const [table, names] of Object.entries(v)) {
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string') || new Set(names).size !== names.length)
      throw new KilnError('KILN_BAD_REQUEST', `"columns".${table}: expected an array of distinct column names`)
    out.set(table, names as string[])
  }
  return out
}

/** An array row as columns: its values under its table's column names. */
function valuesRow(values: unknown[], names: string[] | undefined, where: string): Columns {
  if (!names) throw new KilnError('KILN_BAD_REQUEST', `${where}: an array of values, but "columns" names none for its table`)
  if (values.length !== names.length)
    throw new KilnError(
      'KILN_BAD_REQUEST',
      `${where}: ${values.length} values for the ${names.length} columns "columns" names for its table`,
    )
  const row: Columns = Object.create(null)
  names.forEach((n, i) => {
    row[n] = values[i]
  })
  return row
}

const isObject = (v: unknown): v is Columns => v !== null && typeof v === 'object' && !Array.isArray(v)
