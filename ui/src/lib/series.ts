/**
 * A timeline series on a regular grid from `from` to `until` (ms) every `stepMs`, with 0 where
 * the server sent no point: the store returns only non-empty buckets, and a line drawn straight
 * between two distant points would show load that never happened.
 */
export function fillSeries(points: readonly [number, number][], from: number, until: number, stepMs: number): [number, number][] {
  if (!(stepMs > 0) || until <= from || (until - from) / stepMs > 10_000) return [...points]
  const byBucket = new Map<number, number>()
  for (const [t, v] of points) {
    const b = Math.floor(t / stepMs) * stepMs
    byBucket.set(b, (byBucket.get(b) ?? 0) + v)
  }
  const out: [number, number][] = []
  for (let b = Math.floor(from / stepMs) * stepMs; b < until; b += stepMs) out.push([b, byBucket.get(b) ?? 0])
  return out
}

/** Distinct colours for series and label values, in order (Tableau 10). */
export const seriesPalette = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac']

/** The colour of one label value among `all`: by name order, so the timeline and the label explorer agree. */
export function valueColor(all: readonly string[], value: string): string {
  const sorted = [...new Set(all)].sort()
  return seriesPalette[Math.max(0, sorted.indexOf(value)) % seriesPalette.length]!
}

/**
 * An SVG path through `points` placed by `x` and `y`; with `holdMs`, each point keeps its value
 * for that long (per-second measurements drawn as steps, not as ramps between seconds). Also
 * where it starts and ends on x, to close an area under it.
 */
export function seriesPath(
  points: readonly [number, number][],
  x: (t: number) => number,
  y: (v: number) => number,
  holdMs = 0,
): { d: string; x0: number; x1: number } {
  const f = (n: number) => n.toFixed(1)
  let d = ''
  for (const [k, [t, v]] of points.entries()) {
    d += `${k ? 'L' : 'M'}${f(x(t))},${f(y(v))}`
    if (holdMs) d += `L${f(x(t + holdMs))},${f(y(v))}`
  }
  const last = points.at(-1)?.[0] ?? 0
  return { d, x0: x(points[0]?.[0] ?? 0), x1: x(last + holdMs) }
}
