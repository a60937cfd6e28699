import { timeText } from './format.ts'
import { profileTypeLabel } from './format.ts'

/** What an export shows: the service, the profile type and the range (both sides for a diff), unix ms. */
export interface ExportWhat {
  service: string
  type: string
  from: number
  until: number
  /** A diff's baseline range (from, until); the comparison is `from`…`until`. */
  baseline?: [number, number]
}

// 2026-01-01T10:00:00.000Z → 20260101T1000Z (seconds only when not whole minutes): sortable, no ':' for Windows.
const compact = (ms: number) =>
  new Date(Math.floor(ms / 1000) * 1000)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/00\.000Z$/, 'Z')
    .replace(/\.000Z$/, 'Z')

/**
 * A file name for an export without the extension:
 * `shop_process_cpu-cpu_20260101T0955Z-20260101T1045Z`, a diff's
 * `shop_process_cpu-cpu_diff_20260101T0900Z-20260101T0950Z_vs_20260101T0955Z-20260101T1045Z`.
 */
export function exportName(w: ExportWhat): string {
  const [name = w.type, sampleType = ''] = w.type.split(':')
  const what = [w.service || 'all', sampleType && sampleType !== name ? `${name}-${sampleType}` : name].map((s) =>
    s.replace(/[^A-Za-z0-9._-]+/g, '-'),
  )
  const range = (a: number, b: number) => `${compact(a)}-${compact(b)}`
  return [...what, ...(w.baseline ? ['diff', range(...w.baseline), 'vs'] : []), range(w.from, w.until)].join('_')
}

/** The title an SVG or PNG export carries: `shop · process_cpu · cpu (nanoseconds) · 2026-01-01T09:55Z → 2026-01-01T10:45Z`. */
export function exportTitle(w: ExportWhat): string {
  const t = (ms: number) => timeText(String(Math.floor(ms / 1000) * 1000))
  const range = (a: number, b: number) => `${t(a)} → ${t(b)}`
  const when = w.baseline ? `baseline ${range(...w.baseline)} vs comparison ${range(w.from, w.until)}` : `${range(w.from, w.until)} UTC`
  return `${w.service || 'all services'} · ${profileTypeLabel(w.type)} · ${when}`
}
