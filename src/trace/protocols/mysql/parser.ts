/**
 * MySQL / MariaDB on one connection. The handshake is skipped (a command is a client packet with
 * sequence id 0, which no handshake packet has), each command is paired with its response, read
 * by a small state machine: OK, ERR, or a result set (column count, column definitions, rows until
 * EOF/OK). Prepared statements are remembered by id from PREPARE_OK, so an EXECUTE row carries the
 * statement text and its decoded parameters, in Pixie's `query=[…] params=[…]` form.
 */
import type { DataEvent, TraceRecord } from '../../types.ts'
import { GuardedParser, ns, type ParserOptions } from '../common.ts'
import { PacketReader, lenenc, type Packet } from './packets.ts'
import { executeParams, type Bound } from './values.ts'

const COM = {
  quit: 0x01,
  initDb: 0x02,
  query: 0x03,
  fieldList: 0x04,
  stmtPrepare: 0x16,
  stmtExecute: 0x17,
  stmtSendLong: 0x18,
  stmtClose: 0x19,
  stmtReset: 0x1a,
} as const
/** Commands the server never answers. */
const noReply = new Set<number>([COM.quit, COM.stmtClose, COM.stmtSendLong])
/** SERVER_MORE_RESULTS_EXISTS in an EOF/OK status: another result set follows (CALL, multi-statements). */
const moreResults = 0x0008
/** CLIENT_DEPRECATE_EOF: result sets end in an OK packet (0xfe header) and column definitions have no EOF. */
const deprecateEof = 0x01000000
/** 1024 statements prepared per connection: connection pools keep tens to hundreds. */
const maxStatements = 1024

type RespState =
  | { s: 'first' }
  | { s: 'cols'; left: number }
  | { s: 'maybe-eof'; then: RespState }
  | { s: 'rows' }
  | { s: 'prep-params'; left: number; cols: number }
  | { s: 'prep-cols'; left: number }
  | { s: 'fields' }
  | { s: 'done' }

interface Command {
  cmd: number
  body: string
  timeNs: bigint
  /** For COM_STMT_PREPARE: the statement text, remembered under the id PREPARE_OK gives. */
  prepare?: string
  st: RespState
  rows: number
  status: number
  resp: string
  packets: number
  lastNs: bigint
}

const isEof = (p: Packet) => p.payload[0] === 0xfe && p.len < 9

export class MysqlParser extends GuardedParser {
  readonly protocol = 'mysql'
  private req: PacketReader
  private resp: PacketReader
  private cur: Command | null = null
  private statements = new Map<number, { text: string; params: number; types: Bound['types'] | null }>()
  /** From the client's handshake response, when capture saw it; null = unknown, so both layouts are accepted. */
  private eofDeprecated: boolean | null = null
  private out: TraceRecord[] = []

  constructor(opts: ParserOptions = {}) {
    super(opts)
    // Resynchronise on an event that starts a command (sequence 0, a known command byte) or a response (sequence 1).
    this.req = new PacketReader(this.maxBuffer, (d) => d.length >= 5 && d[3] === 0 && d[4]! <= 0x1f)
    this.resp = new PacketReader(this.maxBuffer, (d) => d.length >= 5 && d[3] === 1)
  }

  buffered(): number {
    return this.req.buffered + this.resp.buffered
  }

  protected onEvent(ev: DataEvent, out: TraceRecord[]): void {
    this.out = out
    if (ev.fromClient) {
      if (!this.req.push(ev.data, ev.size, ev.timeNs, (p) => this.onRequest(p))) this.stats.errors++
    } else {
      const ok = this.resp.push(ev.data, ev.size, ev.timeNs, (p) => this.onResponse(p))
      if (!ok) {
        this.stats.errors++
        this.dropCurrent()
      }
    }
  }

  protected onEnd(_timeNs: bigint, out: TraceRecord[]): void {
    this.out = out
    const c = this.cur
    if (c && c.packets > 0) this.finish(c)
    else if (c) this.stats.unmatched++
    this.cur = null
  }

  protected reset(): void {
    this.req.reset()
    this.resp.reset()
    this.cur = null
  }

  /** The response lost its framing: a result set already begun is recorded as such, anything else dropped. */
  private dropCurrent(): void {
    const c = this.cur
    this.cur = null
    if (!c) return
    if (c.packets === 0) {
      this.stats.unmatched++
      return
    }
    if (c.status === 0 && c.st.s !== 'first') {
      c.status = 1
      c.resp = `Resultset rows >= ${c.rows} (cut by capture)`
    }
    this.finish(c)
  }

  private onRequest(p: Packet): void {
    if (p.seq === 1 && p.whole && p.len >= 32 && this.cur === null) {
      // HandshakeResponse41: capability flags first.
      this.eofDeprecated = (p.payload.readUInt32LE(0) & deprecateEof) !== 0
      return
    }
    if (p.seq !== 0 || p.len === 0) return
    const prev = this.cur
    if (prev) {
      // A new command before the last response ended: record what came, if anything did.
      if (prev.packets > 0) this.finish(prev)
      else this.stats.unmatched++
    }
    const cmd = p.payload[0]!
    const c: Command = { cmd, body: '', timeNs: p.timeNs, st: { s: 'first' }, rows: 0, status: 0, resp: '', packets: 0, lastNs: p.timeNs }
    const rest = p.payload.subarray(1)
    switch (cmd) {
      case COM.query:
      case COM.initDb:
      case COM.fieldList:
        c.body = this.text(rest, p.whole ? 0 : p.len - 1)
        break
      case COM.stmtPrepare:
        c.body = this.text(rest, p.whole ? 0 : p.len - 1)
        c.prepare = c.body
        break
      case COM.stmtExecute:
        c.body = this.execute(p.payload)
        break
      case COM.stmtClose:
      case COM.stmtReset: {
        const id = rest.length >= 4 ? rest.readUInt32LE(0) : -1
        const st = this.statements.get(id)
        c.body = st ? st.text : ''
        if (cmd === COM.stmtClose) this.statements.delete(id)
        break
      }
    }
    if (noReply.has(cmd)) {
      this.out.push(this.row(c, p.timeNs))
      this.cur = null
      return
    }
    this.cur = c
  }

  private text(b: Buffer, total: number): string {
    const s = b.subarray(0, this.maxBody).toString('utf8')
    return total > this.maxBody || b.length > this.maxBody ? s + '…' : s
  }

  private execute(payload: Buffer): string {
    if (payload.length < 5) return ''
    const id = payload.readUInt32LE(1)
    const st = this.statements.get(id)
    if (!st) return `query=[<statement ${id}, prepared before capture began>] params=[]`
    const bound = executeParams(payload.subarray(1), st.params, st.types, this.maxBody)
    if (bound) st.types = bound.types
    return `query=[${st.text}] params=[${bound ? bound.params.join(', ') : '<not decoded>'}]`
  }

  private onResponse(p: Packet): void {
    const c = this.cur
    if (!c) return
    if (c.packets === 0 && p.timeNs < c.timeNs) return
    c.packets++
    c.lastNs = p.timeNs
    this.step(c, p)
    if (c.st.s === 'done') {
      this.finish(c)
      this.cur = null
    }
  }

  private step(c: Command, p: Packet): void {
    const b = p.payload
    const head = b[0]
    const st = c.st
    switch (st.s) {
      case 'first':
        if (head === 0xff) return this.error(c, b)
        if (head === 0x00 && c.cmd === COM.stmtPrepare && b.length >= 12) {
          const id = b.readUInt32LE(1)
          const cols = b.readUInt16LE(5)
          const params = b.readUInt16LE(7)
          if (c.prepare !== undefined) {
            this.statements.set(id, { text: c.prepare, params, types: null })
            if (this.statements.size > maxStatements) this.statements.delete(this.statements.keys().next().value!)
          }
          c.status = 1
          c.resp = `Prepared statement id=${id} params=${params} columns=${cols}`
          c.st = params > 0 ? { s: 'prep-params', left: params, cols } : cols > 0 ? { s: 'prep-cols', left: cols } : { s: 'done' }
          return
        }
        if (head === 0x00 || (head === 0xfe && c.cmd !== COM.fieldList)) return this.ok(c, b)
        if (c.cmd === COM.fieldList) {
          c.st = { s: 'fields' }
          return this.step(c, p)
        }
        if (c.cmd !== COM.query && c.cmd !== COM.stmtExecute) {
          // COM_STATISTICS and the like answer one packet of text.
          c.status = 1
          c.resp = b.subarray(0, this.maxBody).toString('utf8')
          c.st = { s: 'done' }
          return
        }
        if (head === 0xfb) {
          c.status = 1
          c.resp = 'LOCAL INFILE request'
          c.st = { s: 'done' }
          return
        }
        {
          const n = lenenc(b, 0)
          if (!n || n.v === 0) return this.bad(c)
          c.st = { s: 'cols', left: n.v }
        }
        return
      case 'cols':
        if (--st.left === 0) c.st = this.eofDeprecated === true ? { s: 'rows' } : { s: 'maybe-eof', then: { s: 'rows' } }
        return
      case 'maybe-eof':
        c.st = st.then
        if (isEof(p) && this.eofDeprecated !== true) return
        return this.step(c, p)
      case 'rows':
        if (head === 0xff) return this.error(c, b)
        if (isEof(p)) {
          const status = this.endStatus(b)
          c.status = 1
          c.resp = `Resultset rows = ${c.rows}`
          c.st = status & moreResults ? { s: 'first' } : { s: 'done' }
          return
        }
        c.rows++
        return
      case 'prep-params':
        if (--st.left === 0) {
          const next: RespState = st.cols > 0 ? { s: 'prep-cols', left: st.cols } : { s: 'done' }
          c.st = this.eofDeprecated === true ? next : { s: 'maybe-eof', then: next }
          if (next.s === 'done' && this.eofDeprecated === null) c.st = { s: 'done' }
        }
        return
      case 'prep-cols':
        if (--st.left === 0) c.st = this.eofDeprecated === false ? { s: 'maybe-eof', then: { s: 'done' } } : { s: 'done' }
        return
      case 'fields':
        if (head === 0xff) return this.error(c, b)
        if (isEof(p)) {
          c.status = 1
          c.resp = `Fields = ${c.rows}`
          c.st = { s: 'done' }
        } else c.rows++
        return
      case 'done':
        return
    }
  }

  /** Status flags of an EOF packet (0xfe, warnings, status) or of an OK packet with a 0xfe header. */
  private endStatus(b: Buffer): number {
    if (b.length === 5) return b.readUInt16LE(3)
    const a = lenenc(b, 1)
    const i = a && lenenc(b, a.next)
    return i && i.next + 2 <= b.length ? b.readUInt16LE(i.next) : 0
  }

  private ok(c: Command, b: Buffer): void {
    const a = lenenc(b, 1)
    const i = a && lenenc(b, a.next)
    const status = i && i.next + 2 <= b.length ? b.readUInt16LE(i.next) : 0
    c.status = 1
    const prev = c.resp ? `${c.resp}; ` : ''
    c.resp = `${prev}OK affected_rows=${a?.v ?? 0} last_insert_id=${i?.v ?? 0}`
    c.st = status & moreResults ? { s: 'first' } : { s: 'done' }
  }

  private error(c: Command, b: Buffer): void {
    // ERR: 0xff, code (2), then "#" and a 5-character SQLSTATE (4.1 protocol), then the message.
    const code = b.length >= 3 ? b.readUInt16LE(1) : 0
    const hasState = b[3] === 0x23
    const state = hasState ? b.toString('latin1', 4, 9) : ''
    const msg = b.subarray(hasState ? 9 : 3, (hasState ? 9 : 3) + this.maxBody).toString('utf8')
    c.status = 2
    c.resp = `Error ${code}${state ? ` (${state})` : ''}: ${msg}`
    c.st = { s: 'done' }
  }

  private bad(c: Command): void {
    this.stats.errors++
    c.st = { s: 'done' }
  }

  private finish(c: Command): void {
    this.out.push(this.row(c, c.lastNs))
  }

  private row(c: Command, respNs: bigint): TraceRecord {
    return {
      table: 'mysql_events',
      timeNs: c.timeNs,
      row: { req_cmd: c.cmd, req_body: c.body, resp_status: c.status, resp_body: c.resp, latency: ns(c.timeNs, respNs) },
    }
  }
}
