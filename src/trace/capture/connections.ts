/**
 * Connection tracking: capture events (per process and kernel socket) → one state per connection,
 * its protocol and role decided by the parsers' `inferProtocol` when connect/accept was not seen,
 * its bytes fed to that protocol's parser, and Pixie's `conn_stats` counters.
 */
import { TraceRole, TrafficProtocol } from '../../model/trace-tables.ts'
import { createParser, inferProtocol } from '../protocols/index.ts'
import type { Protocol, StreamParser, TraceRecord } from '../types.ts'
import { compactHttpColumns, EventFlag, EventType, formatAddr, type CaptureEvent } from './wire.ts'
import { ConnStats, type ConnKey } from './conn-stats.ts'

type Row = Record<string, string | number | boolean>

export interface TrackerOptions {
  /**
   * A finished row (records and conn_stats) of a process; the caller adds its metadata columns.
   * A record's connection columns come apart, as JSON object members (`"remote_addr":…,…`): the
   * same text for every row of a connection, made once, where seven properties added to each row
   * object cost its JSON.stringify and a hidden-class change each.
   */
  emit: (table: string, row: Row, proc: Proc, connColumns?: string) => void
  /**
   * An http_events row the loader made (EV_HTTP): JSON without its closing brace, to which the
   * connection's and the process's columns are appended. Without it such rows go through `emit`.
   */
  emitText?: (table: string, text: string, proc: Proc, connColumns: string) => void
  /**
   * The same row as the loader's UTF-8 (a view of the event, valid during the call): copied into
   * the batch as it is, never decoded into a string. Preferred to `emitText` when given. With
   * `columns` (the loader's --http1-rows compact) it is a JSON array of those columns' values
   * without its closing bracket.
   */
  emitBytes?: (table: string, bytes: Buffer, proc: Proc, connColumns: string, columns?: readonly string[]) => void
  /** Whether a process still runs (to end the connections of processes that exited without close()). */
  alive: (tgid: number) => boolean
  /** A connection of this process was seen: read its metadata now, while it still runs (curl may be gone by the next window). */
  seen?: (proc: Proc) => void
  /** Remote endpoints never traced (the agent's own sockets, seen from a server on the same host). */
  ignoreRemote?: (addr: string, port: number) => boolean
  maxConns?: number
}

/** A process as the kernel named it in the event: pid, start (clock ticks since boot), comm. */
export interface Proc {
  tgid: number
  startTicks: bigint
  comm: string
  /** The process's metadata columns as JSON members, once the emitter has looked them up. */
  columnsJson?: string
  /** The emitter's shared columns (the connection's and the process's), and the connection columns they were made with. */
  shared?: { conn: string; text: string }
}

export interface Conn extends Proc {
  family: number
  /** 6 TCP, 17 UDP */
  transport: number
  laddr: string
  lport: number
  raddr: string
  rport: number
  role: number
  /** undefined: not decided yet; null: no parser recognised the bytes. */
  protocol: Protocol | null | undefined
  tries: number
  /** Transfers before the protocol was known: replayed into the parser once it is (a 2-byte DNS/TCP length read alone, say). */
  held: { ev: CaptureEvent; egress: boolean }[]
  parser?: StreamParser
  /** Ciphertext seen on the socket: its bytes are counted, never parsed. */
  tls: boolean
  /** TLS plaintext from the SSL uprobes feeds the parser: rows get encrypted=true. */
  encrypted: boolean
  sent: number
  recv: number
  lastMs: number
  ignored: boolean
  /** The connection columns' JSON members for its rows, and the role and TLS flag they were made with. */
  columnsText?: { role: number; encrypted: boolean; text: string }
}

// An inference that has failed on 8 transfers will not succeed: stop paying for it.
const MAX_TRIES = 8
// A TLS record header: content type 20–23, version 3.0–3.4 (SSL 3.0 … TLS 1.3's legacy value).
const looksTls = (b: Buffer) => b.length >= 3 && b[0]! >= 0x14 && b[0]! <= 0x17 && b[1] === 3 && b[2]! <= 4
// UDP has no close to wait for; a UDP peer idle for 30 s is done (DNS answers come within 5 s).
const UDP_IDLE_MS = 30_000
// TCP connections idle for 10 minutes are ended (their parser's pending request is recorded unanswered).
const TCP_IDLE_MS = 600_000

export class ConnTracker {
  /**
   * Connections by process, then socket (its kernel address; for TLS plaintext whose socket is not
   * known yet, the SSL session's, negated), then remote endpoint (TCP: one, key ''). Number keys:
   * a text key built per event was a string and a BigInt's hex per send/receive.
   */
  private readonly procs = new Map<number, Map<number, Map<string, Conn>>>()
  private count = 0
  readonly connStats = new ConnStats()
  readonly stats = {
    events: 0,
    opened: 0,
    closed: 0,
    records: 0,
    /** Of `records`, those the loader parsed (EV_HTTP). */
    loaderRecords: 0,
    parseErrors: 0,
    unmatched: 0,
    evicted: 0,
    untracked: 0,
  }
  /** CLOCK_REALTIME − CLOCK_MONOTONIC, from the loader's hello. */
  offsetNs = 0n

  constructor(private readonly o: TrackerOptions) {}

  get size(): number {
    return this.count
  }

  /** Handles one data, open or close event. */
  handle(ev: CaptureEvent): void {
    this.stats.events++
    if (ev.type === EventType.close) return this.close(ev)
    const conn = this.conn(ev)
    if (!conn) return
    if (ev.type === EventType.open) {
      // connect()/accept() names the role; a socket reused for a new connection starts afresh.
      if (conn.role === TraceRole.unknown) conn.role = ev.role
      this.stats.opened++
      this.connStats.opened(this.key(conn))
      return
    }
    if (ev.type === EventType.http) return this.loaderRecord(conn, ev)
    if (ev.type !== EventType.data || conn.ignored) return
    conn.lastMs = Date.now()
    const egress = ev.dir === 0
    if (ev.flags & EventFlag.ssl) {
      if (!conn.encrypted) {
        // Bytes held from the socket were ciphertext (or a peek at it), not this plaintext's start.
        conn.encrypted = true
        conn.held = []
      }
      if (!(ev.flags & EventFlag.noSock)) this.adopt(conn, ev)
      return this.feed(conn, ev, egress)
    }
    // A transfer the loader held and hands back was counted in its EV_HTTP records already.
    if (!(ev.flags & EventFlag.replay)) {
      if (egress) conn.sent += ev.size
      else conn.recv += ev.size
    }
    if (ev.flags & EventFlag.inSsl || (conn.protocol === undefined && looksTls(ev.data))) {
      if (!conn.encrypted) conn.held = []
      conn.tls = true
    }
    if (conn.tls || conn.encrypted) return
    this.feed(conn, ev, egress)
  }

  /**
   * An HTTP/1 request and response the loader parsed and paired (bpf/http1.c), or only the bytes
   * it read since its last record. The connection is HTTP from here; should the loader hand it
   * back, its transfers go to this parser, which starts at a message boundary.
   */
  private loaderRecord(conn: Conn, ev: CaptureEvent): void {
    conn.lastMs = Date.now()
    const d = ev.data
    conn.sent += d.readUInt32LE(0) + d.readUInt32LE(4) * 0x1_0000_0000
    conn.recv += d.readUInt32LE(8) + d.readUInt32LE(12) * 0x1_0000_0000
    if (conn.protocol === undefined) {
      conn.protocol = 'http'
      conn.parser = createParser('http')
      conn.held = []
    }
    if (conn.role === TraceRole.unknown) conn.role = ev.role
    if (ev.flags & EventFlag.unmatched) this.stats.unmatched++
    if (d.length <= 16 || conn.ignored) return
    this.stats.records++
    this.stats.loaderRecords++
    const compact = (ev.flags & EventFlag.compact) !== 0
    if (this.o.emitBytes)
      return this.o.emitBytes('http_events', d.subarray(16), conn, connColumns(conn), compact ? compactHttpColumns : undefined)
    const text = d.toString('utf8', 16)
    if (compact) {
      const values = JSON.parse(`${text}]`) as (string | number | boolean)[]
      this.o.emit('http_events', Object.fromEntries(compactHttpColumns.map((c, i) => [c, values[i]!])), conn, connColumns(conn))
    } else if (this.o.emitText) this.o.emitText('http_events', text, conn, connColumns(conn))
    else this.o.emit('http_events', JSON.parse(`${text}}`) as Row, conn, connColumns(conn))
  }

  /**
   * TLS plaintext seen before its socket was known (Node's first SSL_write: a memory BIO, the
   * socket write comes after) went to a connection named by the SSL session; once the session's
   * socket is known, that connection's parser continues on the socket's.
   */
  private adopt(conn: Conn, ev: CaptureEvent): void {
    const early = this.sock(ev.tgid, -ev.ssl - 1)?.get('')
    if (!early) return
    this.dropSock(ev.tgid, -ev.ssl - 1)
    this.count--
    if (conn.protocol !== undefined) return
    conn.protocol = early.protocol
    conn.tries = early.tries
    conn.held = early.held
    if (early.parser) conn.parser = early.parser
    if (conn.role === TraceRole.unknown) conn.role = early.role
  }

  private feed(conn: Conn, ev: CaptureEvent, egress: boolean): void {
    if (conn.protocol === undefined) {
      // This direction's earlier bytes with these: a message read in pieces is recognised whole.
      const earlier = conn.held.filter((h) => h.egress === egress).map((h) => h.ev.data)
      const bytes = earlier.length ? Buffer.concat([...earlier, ev.data]) : ev.data
      const r = bytes.length ? inferProtocol(bytes, egress, { local: conn.lport, remote: conn.rport }) : null
      if (!r) {
        if (++conn.tries >= MAX_TRIES || ev.size > ev.data.length) {
          conn.protocol = null
          conn.held = []
        } else conn.held.push({ ev, egress })
        return
      }
      conn.protocol = r.protocol
      if (conn.role === TraceRole.unknown) conn.role = r.fromClient === egress ? TraceRole.client : TraceRole.server
      conn.parser = createParser(r.protocol)
      const held = conn.held
      conn.held = []
      for (const h of held) this.push(conn, h.ev, h.egress)
    }
    this.push(conn, ev, egress)
  }

  private push(conn: Conn, ev: CaptureEvent, egress: boolean): void {
    if (!conn.parser) return
    const fromClient = conn.role === TraceRole.client ? egress : !egress
    this.records(conn, conn.parser.push({ timeNs: ev.ts + this.offsetNs, fromClient, data: ev.data, size: ev.size }))
  }

  private records(conn: Conn, recs: TraceRecord[]): void {
    for (const r of recs) {
      this.stats.records++
      // The parser's row object, completed in place: a copy per row was 5 % of the agent's CPU under wrk.
      r.row.time_ = r.timeNs.toString()
      this.o.emit(r.table, r.row, conn, connColumns(conn))
    }
  }

  private conn(ev: CaptureEvent): Conn | undefined {
    const noSock = (ev.flags & EventFlag.noSock) !== 0
    const sockKey = noSock ? -ev.ssl - 1 : ev.sk
    // The remote address as text only where it keys the connection (UDP) or one is created.
    const udp = ev.protocol === 17
    let raddr = udp && !noSock ? formatAddr(ev.family, ev.raddr) : undefined
    const sub = udp ? `${raddr ?? ''}:${ev.rport}` : ''
    let conns = this.sock(ev.tgid, sockKey)
    let conn = conns?.get(sub)
    if (conn && ev.type === EventType.open && (conn.protocol !== undefined || conn.sent + conn.recv > 0)) {
      // The socket's previous connection ended without a close() we saw (its process exited).
      this.end(conn, ev.ts + this.offsetNs)
      conns!.delete(sub)
      conn = undefined
    }
    if (conn) return conn
    if (this.count >= (this.o.maxConns ?? 100_000)) {
      this.stats.untracked++
      return undefined
    }
    raddr ??= noSock ? '' : formatAddr(ev.family, ev.raddr)
    conn = {
      tgid: ev.tgid,
      startTicks: ev.startTicks,
      comm: ev.comm,
      family: ev.family,
      transport: ev.protocol,
      laddr: noSock ? '' : formatAddr(ev.family, ev.laddr),
      lport: ev.lport,
      raddr,
      rport: ev.rport,
      role: TraceRole.unknown,
      protocol: undefined,
      tries: 0,
      held: [],
      tls: false,
      encrypted: false,
      sent: 0,
      recv: 0,
      lastMs: Date.now(),
      ignored: !noSock && (this.o.ignoreRemote?.(raddr, ev.rport) ?? false),
      columnsJson: undefined,
      shared: undefined,
      columnsText: undefined,
    }
    if (!conns) {
      let socks = this.procs.get(ev.tgid)
      if (!socks) this.procs.set(ev.tgid, (socks = new Map()))
      socks.set(sockKey, (conns = new Map()))
    }
    conns.set(sub, conn)
    this.count++
    this.o.seen?.(conn)
    return conn
  }

  private close(ev: CaptureEvent): void {
    const conns = this.sock(ev.tgid, ev.sk)
    if (!conns) return
    for (const c of conns.values()) this.end(c, ev.ts + this.offsetNs)
    this.dropSock(ev.tgid, ev.sk)
  }

  private sock(tgid: number, key: number): Map<string, Conn> | undefined {
    return this.procs.get(tgid)?.get(key)
  }

  private dropSock(tgid: number, key: number): void {
    const socks = this.procs.get(tgid)
    if (socks?.delete(key) && socks.size === 0) this.procs.delete(tgid)
  }

  private *conns(): Generator<Conn> {
    for (const socks of this.procs.values()) for (const conns of socks.values()) yield* conns.values()
  }

  /** Ends a connection: its parser's last records, its bytes into the closed counters. */
  private end(conn: Conn, timeNs: bigint): void {
    this.count--
    this.stats.closed++
    if (conn.parser) {
      this.records(conn, conn.parser.end(timeNs))
      this.stats.parseErrors += conn.parser.stats.errors
      this.stats.unmatched += conn.parser.stats.unmatched
    }
    if (!conn.ignored) this.connStats.closed(this.key(conn), conn.sent, conn.recv)
  }

  private key(c: Conn): ConnKey {
    return {
      tgid: c.tgid,
      startTicks: c.startTicks,
      comm: c.comm,
      raddr: c.raddr,
      rport: c.rport,
      role: c.role,
      family: c.family,
      protocol: c.protocol ? TrafficProtocol[c.protocol] : 0,
      ssl: c.tls || c.encrypted,
    }
  }

  /** Ends idle UDP peers, connections of processes that are gone, and TCP connections idle past 10 minutes. */
  sweep(now = Date.now()): void {
    const nowNs = BigInt(now) * 1_000_000n
    for (const [tgid, socks] of this.procs) {
      let dead: boolean | undefined
      for (const [sockKey, conns] of socks) {
        for (const [sub, c] of conns) {
          const idle = now - c.lastMs
          if (idle < 5_000) continue
          dead ??= !this.o.alive(tgid)
          if (dead || (c.transport === 17 && idle > UDP_IDLE_MS) || idle > TCP_IDLE_MS) {
            this.end(c, nowNs)
            conns.delete(sub)
          }
        }
        if (conns.size === 0) socks.delete(sockKey)
      }
      if (socks.size === 0) this.procs.delete(tgid)
    }
  }

  /** Emits conn_stats rows: cumulative counters per (process, remote endpoint, role). */
  flushConnStats(timeNs: bigint): void {
    const live: { key: ConnKey; sent: number; recv: number }[] = []
    for (const c of this.conns()) if (!c.ignored) live.push({ key: this.key(c), sent: c.sent, recv: c.recv })
    for (const { proc, row } of this.connStats.rows(live)) this.o.emit('conn_stats', { ...row, time_: timeNs.toString() }, proc)
  }

  /** Ends every connection (the agent is stopping). */
  endAll(timeNs: bigint): void {
    for (const c of this.conns()) this.end(c, timeNs)
    this.procs.clear()
  }
}

/** The connection's columns of its rows as JSON members, made again only when its role or TLS flag changed. */
function connColumns(c: Conn): string {
  const t = c.columnsText
  if (t && t.role === c.role && t.encrypted === c.encrypted) return t.text
  const text =
    `"remote_addr":${JSON.stringify(c.raddr)},"remote_port":${c.rport},"local_addr":${JSON.stringify(c.laddr)},` +
    `"local_port":${c.lport},"trace_role":${c.role},"encrypted":${c.encrypted}`
  c.columnsText = { role: c.role, encrypted: c.encrypted, text }
  return text
}
