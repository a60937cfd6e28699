/** Value formatting shared by the web UI and the CLI (pure: runs in Node and the browser). */
/** Formats a value in a profile's unit: CPU time as s/ms/µs, bytes as KiB/MiB/GiB, counts as k/M/G. */
export function formatValue(v: number, unit: string): string {
  const u = unit.toLowerCase()
  const ns = timeUnitNs[u]
  if (ns !== undefined) return formatDuration(v * ns)
  if (u === 'bytes') return formatBytes(v)
  return formatCount(v)
}

const timeUnitNs: Record<string, number> = { nanoseconds: 1, microseconds: 1e3, milliseconds: 1e6, seconds: 1e9 }

/** A number with three significant digits at most, no trailing zeros: 1.23, 12.3, 123, 1234. */
function sig(v: number): string {
  if (v >= 100) return String(Math.round(v))
  return String(Number(v.toPrecision(3)))
}

export function formatDuration(ns: number): string {
  const a = Math.abs(ns)
  if (a === 0) return '0 s'
  if (a < 1e3) return `${sig(ns)} ns`
  if (a < 1e6) return `${sig(ns / 1e3)} µs`
  if (a < 1e9) return `${sig(ns / 1e6)} ms`
  if (a < 60e9) return `${sig(ns / 1e9)} s`
  if (a < 3600e9) return `${sig(ns / 60e9)} min`
  return `${sig(ns / 3600e9)} h`
}

const byteUnits = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

export function formatBytes(b: number): string {
  let v = b
  let k = 0
  while (Math.abs(v) >= 1024 && k < byteUnits.length - 1) {
    v /= 1024
    k++
  }
  return `${k === 0 ? Math.round(v) : sig(v)} ${byteUnits[k]}`
}

/** SI bytes as k6's summary prints them (kB = 1000 B): `8 B`, `519 kB`, `1.2 MB` — load-test data, where the UI must read as the CLI did. */
export function formatSiBytes(b: number): string {
  if (b < 10) return `${Math.round(b)} B`
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB']
  const e = Math.min(units.length - 1, Math.floor(Math.log(b) / Math.log(1000)))
  const v = Math.floor((b / 1000 ** e) * 10 + 0.5) / 10
  return `${v.toFixed(v < 10 && e > 0 ? 1 : 0)} ${units[e]}`
}

export function formatCount(n: number): string {
  const a = Math.abs(n)
  if (a < 1e3) return sig(n)
  if (a < 1e6) return `${sig(n / 1e3)}k`
  if (a < 1e9) return `${sig(n / 1e6)}M`
  return `${sig(n / 1e9)}G`
}

/** A fraction as a percentage: 0.1234 → "12.3%", 0.0004 → "0.04%". */
export function formatPercent(fraction: number): string {
  const p = fraction * 100
  if (p === 0) return '0%'
  if (Math.abs(p) < 0.01) return '<0.01%'
  return `${Math.abs(p) < 1 ? Number(p.toPrecision(2)) : Number(p.toFixed(p >= 100 ? 0 : 1))}%`
}

/** A change in share (see shareChange): "+50%", "-20%", "new", "gone", "±0%". */
export function formatChange(change: number): string {
  if (change === Infinity) return 'new'
  if (change <= -1) return 'gone'
  if (change === 0) return '±0%'
  return `${change > 0 ? '+' : '-'}${formatPercent(Math.abs(change))}`
}

/** A friendly label for a profile type id `name:sampleType:sampleUnit:periodType:periodUnit`. */
export function profileTypeLabel(id: string): string {
  const [name, sampleType, sampleUnit] = id.split(':')
  if (!sampleType) return id
  return `${name} · ${sampleType}${sampleUnit ? ` (${sampleUnit})` : ''}`
}
