/** Pyroscope's legacy timeline (`/pyroscope/render`): fixed steps from the range start, zeros filled in. */
import type { Reader, Selection } from '../store/index.ts'
import { stepOf } from './selection.ts'

export interface LegacyTimeline {
  startTime: number
  samples: number[]
  durationDelta: number
  watermarks: Record<string, never>
}

/** Timeline and, with `groupBy`, one per value of that label; step as Pyroscope computes it: range/1500, at least 15 s. */
export async function legacyTimeline(
  reader: Reader,
  sel: Selection,
  groupBy?: string,
): Promise<{ timeline: LegacyTimeline; groups: Record<string, LegacyTimeline> | null }> {
  const step = stepOf(sel, undefined, { minS: 15, points: 1500 })
  const startTime = Math.floor(sel.from / 1000 / step) * step
  const n = Math.ceil((sel.until / 1000 - startTime) / step)
  const series = await reader.timeline(sel, { stepS: step, groupBy: groupBy ? [groupBy] : [], aggregation: 'sum' })
  const toTl = (points: [number, number][]): LegacyTimeline => {
    const samples = new Array<number>(Math.max(0, n)).fill(0)
    for (const [t, v] of points) {
      const i = Math.floor((t / 1000 - startTime) / step)
      if (i >= 0 && i < samples.length) samples[i]! += v
    }
    return { startTime, samples, durationDelta: step, watermarks: {} }
  }
  const all = series.flatMap((s) => s.points)
  const groups = groupBy ? Object.fromEntries(series.map((s) => [s.labels[groupBy] ?? '', toTl(s.points)])) : null
  return { timeline: toTl(all), groups }
}
