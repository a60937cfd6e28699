import { KilnError } from './errors.ts'

const unitMs: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  M: 30 * 86_400_000,
  mon: 30 * 86_400_000,
  y: 365 * 86_400_000,
}

/**
 * Parses a point in time as Pyroscope's `from`/`until` do, into ms since the epoch:
 * unix seconds, ms, µs or ns told apart by digit count (≤10, 13, 16, 19); `YYYYMMDD`;
 * `now`, `now-1h`, `now-30m` (units s, m/min, h, d, w, M/mon, y); and ISO 8601 dates.
 */
export function parseTime(text: string, now: number = Date.now()): number {
  const s = text.trim()
  if (s === '' || s === 'now') return now
  const rel = /^now\s*([+-])\s*(\d+(?:\.\d+)?)\s*(ms|s|min|mon|m|h|d|w|M|y)$/.exec(s)
  if (rel) {
    const d = Number(rel[2]) * unitMs[rel[3]!]!
    return rel[1] === '-' ? now - d : now + d
  }
  if (/^\d+$/.test(s)) {
    if (s.length === 8 && /^(19|20)\d{6}$/.test(s)) {
      const t = Date.UTC(Number(s.slice(0, 4)), Number(s.slice(4, 6)) - 1, Number(s.slice(6, 8)))
      if (!Number.isNaN(t)) return t
    }
    const n = Number(s)
    if (s.length <= 11) return n * 1000
    if (s.length <= 14) return n
    if (s.length <= 17) return Math.floor(n / 1000)
    if (s.length <= 20) return Math.floor(n / 1e6)
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(s)) {
    const t = Date.parse(s)
    if (!Number.isNaN(t)) return t
  }
  throw new KilnError(
    'KILN_BAD_TIME',
    `cannot read time ${JSON.stringify(s.slice(0, 60))}: use unix seconds/ms/µs/ns, now-1h, or an ISO date like 2026-01-02T15:04:05Z`,
  )
}

/** Parses a time range and checks from < until. */
export function parseRange(
  from: string | undefined,
  until: string | undefined,
  opts: { defaultFrom?: string; now?: number } = {},
): { from: number; until: number } {
  const now = opts.now ?? Date.now()
  const f = parseTime(from ?? opts.defaultFrom ?? 'now-1h', now)
  const u = parseTime(until ?? 'now', now)
  if (!(f < u))
    throw new KilnError(
      'KILN_BAD_TIME',
      `time range is empty: from (${new Date(f).toISOString()}) must be before until (${new Date(u).toISOString()})`,
    )
  return { from: f, until: u }
}

/** Parses a duration like `30d`, `12h`, `90s` into ms. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|min|mon|m|h|d|w|M|y)$/.exec(text.trim())
  if (!m) throw new KilnError('KILN_BAD_TIME', `cannot read duration ${JSON.stringify(text)}: use e.g. 30d, 12h, 15m or 90s`)
  return Number(m[1]) * unitMs[m[2]!]!
}
