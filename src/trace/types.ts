/**
 * The contract between capture (eBPF → ordered bytes per connection) and the protocol parsers
 * (bytes → request/response records). Capture never parses protocols; parsers never see sockets.
 */
import type { TrafficProtocol } from '../model/trace-tables.ts'

export type Protocol = Exclude<keyof typeof TrafficProtocol, 'unknown' | 'cql'>

/** One send or receive on a connection, as the traced process saw it, in order. */
export interface DataEvent {
  /** Wall-clock time of the syscall (or SSL_read/SSL_write) return, ns since the epoch. */
  timeNs: bigint
  /** true when the bytes travel from the client side to the server side of the connection. */
  fromClient: boolean
  /** The captured bytes: the first `data.length` of the transfer. */
  data: Buffer
  /** Bytes the transfer really moved; `size > data.length` means the rest was not captured (a gap). */
  size: number
}

/** A finished record: a row of one tracing table without the connection and process columns. */
export interface TraceRecord {
  table: 'http_events' | 'dns_events' | 'mysql_events' | 'pgsql_events' | 'redis_events'
  /** Time of the request (its first byte), ns since the epoch; the row's `time_`. */
  timeNs: bigint
  /** Protocol columns of the row (latency included, in ns), named as in model/trace-tables.ts. */
  row: Record<string, string | number | boolean>
}

/** Parses one direction-tagged byte stream of one connection. One instance per connection. */
export interface StreamParser {
  readonly protocol: Protocol
  /** Feeds one event; returns the records it completed (a request paired with its response). */
  push(ev: DataEvent): TraceRecord[]
  /** The connection closed (or went idle past the agent's limit): returns what can still be recorded. */
  end(timeNs: bigint): TraceRecord[]
  /** Counters for the agent's log and /metrics: malformed input skipped, requests left unanswered. */
  readonly stats: { records: number; errors: number; unmatched: number }
}

/** Rows for the ingest API: table name → rows with every column but `tenant` (see model/trace-rows.ts). */
export type TraceRows = Map<string, Record<string, string | number | boolean>[]>

/**
 * A row as a source emits it: columns; the row already as JSON object text; or that text's UTF-8
 * without its closing brace (the capture loader's http_events rows, copied as they come: see
 * capture/socket-source.ts and trace/batch.ts).
 */
export type EmittedRow = Record<string, string | number | boolean> | string | Uint8Array

/**
 * Hands rows to the agent. `shared`: more columns of every one of these rows, as JSON object
 * members (`"pid":42,"service":"nginx"`) — a process's and a connection's, the same text for many
 * rows, which the upload sends once per batch. `columns`: the byte rows are JSON arrays of these
 * columns' values without the closing bracket (the loader's --http1-rows compact), not objects.
 */
export type Emit = (table: string, rows: EmittedRow[], shared?: string, columns?: readonly string[]) => void

/**
 * One kind of host data the agent collects with `--trace` (sockets, process stats, block I/O, …).
 * A source emits rows whenever it has them; the agent batches them and uploads.
 */
export interface TraceSource {
  readonly name: string
  /** Starts collecting; rejects with a KilnError saying what to do when the host cannot (no root, no BPF). */
  start(emit: Emit): Promise<void>
  /** Stops and emits what it still holds. */
  stop(): Promise<void>
  /** Counters for the agent's log: events seen, rows emitted, events dropped (never silent). */
  stats(): Record<string, number>
}
