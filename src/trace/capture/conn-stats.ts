/**
 * Pixie's `conn_stats`: per process, remote endpoint and role, connections opened, closed and
 * active and bytes sent and received, cumulative since the agent started, one row per key per
 * window with a change or a live connection. Closed connections are folded into per-key totals;
 * live ones are added at each window.
 */

export interface ConnKey {
  tgid: number
  /** Not part of the key: the process's start and name, for its metadata columns. */
  startTicks: bigint
  comm: string
  raddr: string
  rport: number
  role: number
  family: number
  /** Pixie's traffic_protocol_t value (0 unknown). */
  protocol: number
  ssl: boolean
}

interface Totals {
  key: ConnKey
  open: number
  close: number
  sent: number
  recv: number
  /** Emitted since its last change: with no live connection, no new row until it changes. */
  emitted: boolean
}

const MAX_KEYS = 100_000

const id = (k: ConnKey) => `${k.tgid}|${k.raddr}|${k.rport}|${k.role}`

export class ConnStats {
  private readonly totals = new Map<string, Totals>()

  private get(key: ConnKey): Totals {
    const k = id(key)
    let t = this.totals.get(k)
    if (!t) this.totals.set(k, (t = { key, open: 0, close: 0, sent: 0, recv: 0, emitted: false }))
    t.key = { ...key, protocol: key.protocol || t.key.protocol, ssl: key.ssl || t.key.ssl }
    t.emitted = false
    return t
  }

  opened(key: ConnKey): void {
    this.get(key).open++
  }

  closed(key: ConnKey, sent: number, recv: number): void {
    const t = this.get(key)
    t.close++
    t.sent += sent
    t.recv += recv
  }

  /** The rows of one window: closed totals plus the live connections' bytes. */
  rows(live: { key: ConnKey; sent: number; recv: number }[]): { proc: ConnKey; row: Record<string, string | number | boolean> }[] {
    const active = new Map<string, { key: ConnKey; n: number; sent: number; recv: number }>()
    for (const l of live) {
      const k = id(l.key)
      const a = active.get(k)
      if (a) {
        a.n++
        a.sent += l.sent
        a.recv += l.recv
      } else active.set(k, { key: l.key, n: 1, sent: l.sent, recv: l.recv })
    }
    const out: { proc: ConnKey; row: Record<string, string | number | boolean> }[] = []
    const keys = new Set([...this.totals.keys(), ...active.keys()])
    for (const k of keys) {
      const t = this.totals.get(k)
      const a = active.get(k)
      if (!a && t?.emitted) {
        // Unchanged and idle: no row. Kept so a later connection continues its counts, up to a
        // bound (servers see one key per client ephemeral port).
        if (this.totals.size > MAX_KEYS) this.totals.delete(k)
        continue
      }
      const key = a && t ? { ...a.key, protocol: a.key.protocol || t.key.protocol, ssl: a.key.ssl || t.key.ssl } : (a?.key ?? t!.key)
      out.push({
        proc: key,
        row: {
          remote_addr: key.raddr,
          remote_port: key.rport,
          trace_role: key.role,
          addr_family: key.family,
          protocol: key.protocol,
          ssl: key.ssl,
          conn_open: t?.open ?? 0,
          conn_close: t?.close ?? 0,
          conn_active: a?.n ?? 0,
          bytes_sent: (t?.sent ?? 0) + (a?.sent ?? 0),
          bytes_recv: (t?.recv ?? 0) + (a?.recv ?? 0),
        },
      })
      if (t) t.emitted = true
    }
    return out
  }
}
