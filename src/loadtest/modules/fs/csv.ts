/**
 * CSV for `k6/experimental/csv`: RFC 4180 records (quoted fields with doubled quotes, delimiters
 * and line breaks inside quotes, CRLF or LF), then k6's options: `delimiter`, `skipFirstLine`,
 * `fromLine`/`toLine` (record numbers from 0, both included) and `asObjects` (the first record
 * names the columns and is not a row).
 */
export interface CsvOptions {
  delimiter: string
  skipFirstLine: boolean
  fromLine: number
  toLine?: number
  asObjects: boolean
}

/** The records of `text`; throws on a quote left open, naming the line it opened on. */
export function parseCsvRecords(text: string, delimiter = ','): string[][] {
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\r' || delimiter === '\n') {
    throw new Error(`csv: the delimiter must be one character other than a quote or a line break, got ${JSON.stringify(delimiter)}`)
  }
  const records: string[][] = []
  let record: string[] = []
  let field = ''
  let line = 1
  let i = 0
  const n = text.length
  if (text.charCodeAt(0) === 0xfeff) i = 1 // a byte-order mark is not data
  while (i < n) {
    const c = text[i]!
    if (c === '"' && field === '') {
      const opened = line
      i++
      for (;;) {
        if (i >= n) throw new Error(`csv: the quoted field opened on line ${opened} is never closed`)
        const q = text[i]!
        if (q === '"') {
          if (text[i + 1] === '"') {
            field += '"'
            i += 2
            continue
          }
          i++
          break
        }
        if (q === '\n') line++
        field += q
        i++
      }
      // Anything between the closing quote and the next delimiter is kept, as lenient parsers do.
      continue
    }
    if (c === delimiter) {
      record.push(field)
      field = ''
      i++
    } else if (c === '\n' || c === '\r') {
      record.push(field)
      records.push(record)
      record = []
      field = ''
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1
      line++
    } else {
      field += c
      i++
    }
  }
  if (field !== '' || record.length) {
    record.push(field)
    records.push(record)
  }
  return records
}

/** Checks a script's options object (already JSON) against k6's Options; fills the defaults. */
export function csvOptions(o: Record<string, unknown> | null | undefined): CsvOptions {
  const v = o ?? {}
  const num = (k: string): number | undefined => {
    const x = v[k]
    if (x === undefined || x === null) return undefined
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0)
      throw new Error(`csv: ${k} must be a whole number ≥ 0, got ${JSON.stringify(x)}`)
    return x
  }
  const toLine = num('toLine')
  return {
    delimiter: v.delimiter === undefined ? ',' : String(v.delimiter),
    skipFirstLine: !!v.skipFirstLine,
    fromLine: num('fromLine') ?? 0,
    ...(toLine === undefined ? {} : { toLine }),
    asObjects: !!v.asObjects,
  }
}

/** The rows k6 gives for `text` under `o`: arrays of strings, or objects keyed by the header. */
export function csvRows(text: string, o: CsvOptions): (string[] | Record<string, string>)[] {
  const records = parseCsvRecords(text, o.delimiter)
  let header: string[] | null = null
  const rows: (string[] | Record<string, string>)[] = []
  records.forEach((r, line) => {
    if (o.asObjects && header === null) {
      header = r
      return
    }
    if (line === 0 && o.skipFirstLine) return
    if (line < o.fromLine || (o.toLine !== undefined && line > o.toLine)) return
    if (header) {
      const obj: Record<string, string> = {}
      ;(header as string[]).forEach((k, j) => (obj[k] = r[j] ?? ''))
      rows.push(obj)
    } else rows.push(r)
  })
  return rows
}
