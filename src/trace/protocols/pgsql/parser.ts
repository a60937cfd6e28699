/**
 * PostgreSQL on one connection. The startup phase is skipped (untyped messages, authentication,
 * parameter status). A simple Query is one row: its text, and its result (column names, the first
 * rows, the command tag, or the error) when ReadyForQuery comes. The extended protocol is paired
 * message by message (Parse→ParseComplete, Bind→BindComplete, Describe→RowDescription/NoData,
 * Execute→DataRow*+CommandComplete, Sync→ReadyForQuery) and, as in Pixie, an Execute becomes one
 * row that carries its statement's text and the Bind parameters: `query=[…] params=[…]`.
 */
import type { DataEvent, TraceRecord } from '../../types.ts'
import { GuardedParser, ns, type ParserOptions } from '../common.ts'
import { bindMessage, columnNames, cstr, errorText, MessageReader, rowValues, startupCodes, type PgMessage } from './messages.ts'

type Op =
  | { k: 'Q'; timeNs: bigint; query: string; out: string[]; cols: string[]; rows: string[][]; nrows: number; error: string }
  | { k: 'P'; timeNs: bigint; query: string; name: string }
  | { k: 'B'; timeNs: bigint; portal: string; query: string; params: string[] }
  | { k: 'D'; timeNs: bigint; portal: string | null }
  | { k: 'E'; timeNs: bigint; portal: string; batchNs: bigint; rows: string[][]; nrows: number }
  | { k: 'S' | 'C' | 'F'; timeNs: bigint }

/** Statements named per connection; pools prepare tens to hundreds. */
const maxNamed = 1024
/** Operations awaiting a response: far past any pipeline a driver sends before a Sync. */
const maxOps = 4096
/** Rows kept in a response's text (their count is always given). */
const rowsShown = 5

export class PgsqlParser extends GuardedParser {
  readonly protocol = 'pgsql'
  private req: MessageReader
  private resp: MessageReader
  private ops: Op[] = []
  private head = 0
  private statements = new Map<string, { query: string; oids: number[] }>()
  private portals = new Map<string, { query: string; params: string[]; cols: string[] }>()
  private sslAsked = false
  private dead = false
  /** Time of the first Parse/Bind since the last Sync: an Execute's latency starts there. */
  private batchNs: bigint | null = null
  private out: TraceRecord[] = []

  constructor(opts: ParserOptions = {}) {
    super(opts)
    // Untyped client messages start with a length whose first byte is 0; type letters never are 0.
    this.req = new MessageReader(
      this.maxBuffer,
      (b) => (b[0] === 0 ? 2 : 0),
      (d) => /[QPBDESCHXF]/.test(String.fromCharCode(d[0]!)),
    )
    this.resp = new MessageReader(
      this.maxBuffer,
      (b) => (this.sslAsked && (b[0] === 0x4e || b[0] === 0x53 || b[0] === 0x47) ? 1 : 0),
      (d) => /[RSKZTDCEN123ntsI]/.test(String.fromCharCode(d[0]!)),
    )
  }

  buffered(): number {
    return this.req.buffered + this.resp.buffered
  }

  protected onEvent(ev: DataEvent, out: TraceRecord[]): void {
    if (this.dead) return
    this.out = out
    if (ev.fromClient) {
      if (!this.req.push(ev.data, ev.size, ev.timeNs, (m) => this.onClient(m))) this.stats.errors++
    } else if (!this.resp.push(ev.data, ev.size, ev.timeNs, (m) => this.onServer(m))) {
      this.stats.errors++
      // The responses in flight are lost with the framing; a query with a result so far is recorded with it.
      for (let i = this.head; i < this.ops.length; i++) {
        const op = this.ops[i]!
        if (op.k === 'Q' && (op.out.length || op.error || op.nrows)) {
          if (op.nrows) op.out.push(this.table(op.cols, op.rows, op.nrows) + '(cut by capture)')
          this.out.push(this.queryRow(op, ev.timeNs))
        } else if (op.k === 'Q' || op.k === 'E') this.stats.unmatched++
      }
      this.ops = []
      this.head = 0
    }
  }

  protected onEnd(): void {
    for (let i = this.head; i < this.ops.length; i++) {
      const k = this.ops[i]!.k
      if (k === 'Q' || k === 'E') this.stats.unmatched++
    }
  }

  protected reset(): void {
    this.req.reset()
    this.resp.reset()
    this.ops = []
    this.head = 0
    this.batchNs = null
  }

  private enqueue(op: Op): void {
    this.ops.push(op)
    if (this.ops.length - this.head > maxOps) {
      this.head++
      this.stats.unmatched++
    }
    if (this.head > 1024 && this.head * 2 > this.ops.length) {
      this.ops = this.ops.slice(this.head)
      this.head = 0
    }
  }

  private onClient(m: PgMessage): void {
    const p = m.payload
    const t = m.timeNs
    switch (m.type) {
      case '': {
        const code = p.length >= 4 ? p.readUInt32BE(0) : 0
        if (code === 80877103 || code === 80877104) this.sslAsked = true
        else if (!startupCodes.has(code)) this.stats.errors++
        return
      }
      case 'Q':
        return this.enqueue({
          k: 'Q',
          timeNs: t,
          query: this.clip(cstr(p, 0).s, m.whole),
          out: [],
          cols: [],
          rows: [],
          nrows: 0,
          error: '',
        })
      case 'P': {
        const name = cstr(p, 0)
        const q = cstr(p, name.next)
        const query = this.clip(q.s, m.whole)
        const oids: number[] = []
        if (m.whole && q.next + 2 <= p.length) {
          const n = p.readUInt16BE(q.next)
          for (let i = 0; i < n && q.next + 2 + 4 * i + 4 <= p.length; i++) oids.push(p.readUInt32BE(q.next + 2 + 4 * i))
        }
        this.statements.set(name.s, { query, oids })
        if (this.statements.size > maxNamed) this.statements.delete(this.statements.keys().next().value!)
        this.batchNs ??= t
        return this.enqueue({ k: 'P', timeNs: t, query, name: name.s })
      }
      case 'B': {
        const b = bindMessage(p, [], this.maxBody)
        const st = b ? this.statements.get(b.statement) : undefined
        const bb = b && st ? bindMessage(p, st.oids, this.maxBody) : b
        const query = st?.query ?? (b ? `<statement "${b.statement}" prepared before capture began>` : '')
        const portal = b?.portal ?? ''
        this.portals.set(portal, { query, params: bb?.params ?? [], cols: [] })
        if (this.portals.size > maxNamed) this.portals.delete(this.portals.keys().next().value!)
        this.batchNs ??= t
        return this.enqueue({ k: 'B', timeNs: t, portal, query, params: bb?.params ?? [] })
      }
      case 'D':
        return this.enqueue({ k: 'D', timeNs: t, portal: p[0] === 0x50 ? cstr(p, 1).s : null })
      case 'E':
        return this.enqueue({ k: 'E', timeNs: t, portal: cstr(p, 0).s, batchNs: this.batchNs ?? t, rows: [], nrows: 0 })
      case 'S':
        this.batchNs = null
        return this.enqueue({ k: 'S', timeNs: t })
      case 'C':
        return this.enqueue({ k: 'C', timeNs: t })
      case 'F':
        return this.enqueue({ k: 'F', timeNs: t })
      default:
        // Flush (H), Terminate (X), passwords (p), COPY data (d, c, f): nothing to pair.
        return
    }
  }

  private clip(s: string, whole: boolean): string {
    return s.length > this.maxBody || !whole ? s.slice(0, this.maxBody) + '…' : s
  }

  /** The first waiting op of one of `kinds`, dropping ops the server skipped; null when none waits before a Sync. */
  private find(kinds: string): Op | null {
    for (let i = this.head; i < this.ops.length; i++) {
      const op = this.ops[i]!
      if (kinds.includes(op.k)) {
        for (let j = this.head; j < i; j++) if (this.ops[j]!.k === 'E') this.stats.unmatched++
        this.head = i
        return op
      }
      if (op.k === 'S' || op.k === 'Q') return null
    }
    return null
  }

  private pop(): void {
    this.head++
  }

  private onServer(m: PgMessage): void {
    const p = m.payload
    const t = m.timeNs
    switch (m.type) {
      case 'N':
      case 'G':
        if (m.len === 0) {
          // The one-byte answer to SSLRequest / GSSENCRequest: 'N' is no; 'S'/'G' start encryption, which capture cannot read here.
          this.sslAsked = false
          if (m.type !== 'N') this.dead = true
        }
        return
      case 'S':
        if (m.len === 0) {
          this.sslAsked = false
          this.dead = true
        }
        return
      case 'Z': {
        const op = this.find('SQF')
        if (!op) return
        this.pop()
        if (op.k === 'Q') this.out.push(this.queryRow(op, t))
        return
      }
      case 'E': {
        const text = errorText(p)
        const op = this.find('QPBDEC')
        if (!op) return
        if (op.k === 'Q') {
          op.error = text
          return
        }
        // Extended protocol: this op failed and the server ignores everything up to the Sync.
        if (op.k === 'P') this.record('Parse', op.query, text, this.batchNs ?? op.timeNs, t)
        else if (op.k === 'B') this.record('Bind', `query=[${op.query}] params=[${op.params.join(', ')}]`, text, op.timeNs, t)
        else if (op.k === 'E') this.record('Execute', this.executeText(op.portal), text, op.batchNs, t)
        while (this.head < this.ops.length && this.ops[this.head]!.k !== 'S') this.pop()
        return
      }
      case '1':
        if (this.find('P')) this.pop()
        return
      case '2':
        if (this.find('B')) this.pop()
        return
      case '3':
        if (this.find('C')) this.pop()
        return
      case 't':
        return
      case 'T': {
        const cols = columnNames(p)
        const op = this.find('QD')
        if (!op) return
        if (op.k === 'Q') {
          op.cols = cols
          return
        }
        if (op.k === 'D') {
          if (op.portal !== null) {
            const portal = this.portals.get(op.portal)
            if (portal) portal.cols = cols
          }
          this.pop()
        }
        return
      }
      case 'n':
        if (this.find('D')) this.pop()
        return
      case 'D': {
        const op = this.find('QE')
        if (!op || (op.k !== 'Q' && op.k !== 'E')) return
        op.nrows++
        if (op.rows.length < rowsShown) op.rows.push(rowValues(p, this.maxBody))
        return
      }
      case 'C':
      case 's':
      case 'I': {
        const tag = m.type === 'C' ? cstr(p, 0).s : m.type === 's' ? 'PORTAL SUSPENDED' : 'EMPTY QUERY'
        const op = this.find('QE')
        if (!op) return
        if (op.k === 'Q') {
          op.out.push(this.table(op.cols, op.rows, op.nrows) + tag)
          op.cols = []
          op.rows = []
          op.nrows = 0
          return
        }
        if (op.k === 'E') {
          const cols = this.portals.get(op.portal)?.cols ?? []
          this.record('Execute', this.executeText(op.portal), this.table(cols, op.rows, op.nrows) + tag, op.batchNs, t)
          this.pop()
        }
        return
      }
      default:
        // Authentication (R), BackendKeyData (K), ParameterStatus, notifications (A), COPY: nothing to pair.
        return
    }
  }

  private executeText(portal: string): string {
    const p = this.portals.get(portal)
    return p ? `query=[${p.query}] params=[${p.params.join(', ')}]` : `query=[<portal "${portal}" bound before capture began>] params=[]`
  }

  /** Column names and the first rows, one line each, before the command tag. */
  private table(cols: string[], rows: string[][], n: number): string {
    if (cols.length === 0 && n === 0) return ''
    const lines = [...(cols.length ? [cols.join(',')] : []), ...rows.map((r) => r.join(','))]
    if (n > rows.length) lines.push(`… ${n - rows.length} more rows`)
    let s = lines.join('\n')
    if (s.length > this.maxBody) s = s.slice(0, this.maxBody) + '…'
    return s + '\n'
  }

  private queryRow(op: Extract<Op, { k: 'Q' }>, endNs: bigint): TraceRecord {
    const resp = op.error ? [...op.out, op.error].join('\n') : op.out.join('\n')
    return { table: 'pgsql_events', timeNs: op.timeNs, row: { req_cmd: 'Query', req: op.query, resp, latency: ns(op.timeNs, endNs) } }
  }

  private record(cmd: string, req: string, resp: string, startNs: bigint, endNs: bigint): void {
    this.out.push({ table: 'pgsql_events', timeNs: startNs, row: { req_cmd: cmd, req, resp, latency: ns(startNs, endNs) } })
  }
}
