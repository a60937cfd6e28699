/**
 * A batch of tracing rows for the ingest API, built as the rows arrive: each row is written as
 * UTF-8 into its table's buffer, and every ~128 KB of it is compressed at once (gzip level 1), or
 * kept as it is when the batch is not compressed. Each piece is a gzip member of its own and the
 * body their concatenation: a gzip file is a series of members (RFC 1952 §2.2), read whole by
 * gunzip, Node's zlib and Go's gzip reader alike. Tables fill their pieces independently; the body
 * still lists each table's rows together.
 *
 * Two bodies (model/trace-groups.ts has the server's side):
 * - `grouped` (TRACE_GROUPS_TYPE): a row's columns shared with other rows — the process's and the
 *   connection's, the same for every request of a keep-alive connection — are written once per
 *   batch as a group, and each row as `[group,{its own columns}]`. The socket capture's rows were
 *   ~1 KB of JSON each, over half of it those columns again: their text, its UTF-8 and its gzip
 *   were a third of the agent's CPU per row.
 * - `json`: `{"<table>":[row,…],…}` with every column in every row, as servers before the grouped
 *   body read it.
 */
import { gzipSync } from 'node:zlib'
import { TRACE_GROUPS_TYPE } from '../model/trace-groups.ts'

// ~100–300 rows: large enough that a compressor's start-up and its empty dictionary cost little
// (level 1 shrinks these rows ~10×), small enough that nothing is held for long.
const PIECE_BYTES = 128 * 1024

interface Table {
  /** UTF-8 of the rows not compressed yet: buf[0, len). */
  buf: Buffer
  len: number
  rows: number
  pieces: Buffer[]
  /** The columns of its array rows (the loader's compact ones), sent once in the body. */
  columns?: readonly string[]
}

export interface RowBatchOptions {
  /** `grouped` (the default) or `json` for servers that read only the first body. */
  format?: 'grouped' | 'json'
  /** gzip level 1 (the default), or the text as it is (a server on the same host: no network to spare). */
  gzip?: boolean
}

export class RowBatch {
  private readonly tables = new Map<string, Table>()
  /** Shared columns' text → its group's index. */
  private readonly groups = new Map<string, number>()
  readonly format: 'grouped' | 'json'
  readonly gzip: boolean
  /** Rows added. */
  count = 0

  constructor(o: RowBatchOptions = {}) {
    this.format = o.format ?? 'grouped'
    this.gzip = o.gzip ?? true
  }

  /**
   * Adds one row: its JSON object text, or (bytes) that text's UTF-8 without its closing brace —
   * the capture loader's rows, copied as they are, never a string. `shared` is more of its columns
   * as JSON object members (`"a":1,"b":"x"`), the same text for many rows. With `columns`, the
   * bytes are a JSON array of those columns' values without its closing bracket (grouped: sent as
   * they are, the column names once per batch; json: made an object).
   */
  add(table: string, row: string | Uint8Array, shared = '', columns?: readonly string[]): void {
    let t = this.tables.get(table)
    if (!t) this.tables.set(table, (t = { buf: Buffer.allocUnsafe(PIECE_BYTES + 4096), len: 0, rows: 0, pieces: [] }))
    const grouped = this.format === 'grouped'
    if (columns && (!grouped || typeof row === 'string' || (t.columns && t.columns !== columns))) {
      // Plain JSON (an older server), or a second column list for one table: the row as an object.
      const values = JSON.parse(`${typeof row === 'string' ? row : Buffer.from(row).toString('utf8')}]`) as unknown[]
      row = JSON.stringify(Object.fromEntries(columns.map((c, i) => [c, values[i]])))
      columns = undefined
    }
    if (columns) t.columns = columns
    let g = 0
    if (grouped) {
      g = this.groups.get(shared) ?? -1
      if (g < 0) this.groups.set(shared, (g = this.groups.size))
    }
    // UTF-8 takes at most 3 bytes per UTF-16 unit; the comma, brackets and group number 16 more.
    const most = (typeof row === 'string' ? row.length * 3 : row.length) + (grouped ? 16 : shared.length * 3 + 2) + 1
    if (t.len + most > t.buf.length) {
      if (t.len) this.compress(t)
      if (most > t.buf.length) t.buf = Buffer.allocUnsafe(most)
    }
    const b = t.buf
    if (t.rows++) b[t.len++] = 0x2c
    if (grouped) t.len += b.write(`[${g},`, t.len, 'latin1')
    if (typeof row === 'string') {
      // json: the row's members, a comma, the shared ones, the brace.
      if (!grouped && shared) t.len += b.write(`${row.slice(0, -1)}${row.length > 2 ? ',' : ''}${shared}}`, t.len)
      else t.len += b.write(row, t.len)
    } else {
      b.set(row, t.len)
      t.len += row.length
      if (!grouped && shared) t.len += b.write(row.length > 1 ? `,${shared}}` : `${shared}}`, t.len)
      else b[t.len++] = columns ? 0x5d : 0x7d
    }
    if (grouped) b[t.len++] = 0x5d
    this.count++
    if (t.len >= PIECE_BYTES) this.compress(t)
  }

  get tableNames(): string[] {
    return [...this.tables.keys()]
  }

  get contentType(): string {
    return this.format === 'grouped' ? TRACE_GROUPS_TYPE : 'application/json'
  }

  /** The body of every row added, in pieces to write one after another; the batch is spent after this. */
  finish(): Buffer[] {
    const grouped = this.format === 'grouped'
    // The text is `{"a":[…],"b":[…]}` (grouped: inside {"tables":…,"groups":[…]}): each table's
    // opening (with the previous table's `]`) goes before its pieces, or with its rows when it has
    // no piece yet.
    const parts: Buffer[] = []
    let i = 0
    for (const [name, t] of this.tables) {
      const open = Buffer.from(`${i++ ? '],' : grouped ? '{"tables":{' : '{'}${JSON.stringify(name)}:[`)
      if (t.pieces.length) {
        parts.push(this.pack(open), ...t.pieces)
        if (t.len) parts.push(this.pack(t.buf.subarray(0, t.len)))
      } else parts.push(this.pack(Buffer.concat([open, t.buf.subarray(0, t.len)])))
    }
    const columns = [...this.tables].filter(([, t]) => t.columns).map(([name, t]) => `${JSON.stringify(name)}:${JSON.stringify(t.columns)}`)
    const tail = grouped
      ? `${i ? ']}' : '{"tables":{}'}${columns.length ? `,"columns":{${columns.join(',')}}` : ''},"groups":[${[...this.groups.keys()].map((s) => `{${s}}`).join(',')}]}`
      : i
        ? ']}'
        : '{}'
    parts.push(this.pack(Buffer.from(tail)))
    this.tables.clear()
    return parts
  }

  private compress(t: Table): void {
    if (this.gzip) t.pieces.push(gzipSync(t.buf.subarray(0, t.len), { level: 1 }))
    else {
      // The buffer itself becomes the piece (copying it out cost as much as the rows' own writes).
      t.pieces.push(t.buf.subarray(0, t.len))
      t.buf = Buffer.allocUnsafe(t.buf.length)
    }
    t.len = 0
  }

  /** A small piece (a table's opening, its last rows, the end) as it goes in the body. */
  private pack(b: Buffer): Buffer {
    return this.gzip ? gzipSync(b, { level: 1 }) : b
  }
}
