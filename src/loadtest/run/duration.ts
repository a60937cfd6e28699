/** k6 durations: Go's `1h2m3.5s`/`500ms`/`10us` strings, or a number of milliseconds. */
import { KilnError } from '../../model/errors.ts'

const UNITS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000001 }
const PART = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/y

/** Parses a duration into milliseconds; `what` names the option in the error. */
export function parseDuration(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v
  if (typeof v === 'string') {
    const s = v.trim()
    if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000 // a bare number on the CLI means seconds, as in k6
    let ms = 0
    PART.lastIndex = 0
    let pos = 0
    while (pos < s.length) {
      PART.lastIndex = pos
      const m = PART.exec(s)
      if (!m) break
      ms += Number(m[1]) * UNITS[m[2]!]!
      pos = PART.lastIndex
    }
    if (pos === s.length && s.length > 0) return ms
  }
  throw new KilnError('KILN_BAD_REQUEST', `${what}: '${String(v)}' is not a duration (e.g. '30s', '1m30s', '500ms')`)
}

/** Formats milliseconds like Go's time.Duration (`30s`, `1m30s`, `10m0s`, `500ms`), as k6 prints. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s'
  if (ms < 1000) return `${+ms.toFixed(3)}ms`
  let s = ms / 1000
  const h = Math.floor(s / 3600)
  s -= h * 3600
  const m = Math.floor(s / 60)
  s -= m * 60
  const sec = `${+s.toFixed(3)}s`
  if (h) return `${h}h${m}m${sec}`
  if (m) return `${m}m${sec}`
  return sec
}
