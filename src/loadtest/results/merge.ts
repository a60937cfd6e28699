/**
 * One run's metrics from the samples of several instances (a coordinated run, run/coordinator.ts).
 * Each instance sends every sample as a k6 JSON output line, so the merge is exact: counters and
 * rates add up sample by sample, and a trend's percentiles are those of the pooled values (the
 * coordinator's sinks keep every value, as one instance's do) — no average of percentiles. The
 * `vus` and `vus_max` gauges are the sum of each instance's latest value (once each has sent one,
 * so a run of 3 × 2 VUs shows min=6, not the 2 and 4 of the instances heard first): the test's VUs.
 */
import { KilnError } from '../../model/errors.ts'
import type { Tags } from './metrics.ts'

/** Where merged samples go: the coordinator's Runner (its `emit` also builds the checks' tree). */
export interface MergeTarget {
  emit(metric: string, value: number, tags: Tags, time?: number): void
  defineMetric(name: string, type: string, isTime: boolean): string
}

/** What an instance's sample stream ends with. */
export interface InstanceEnd {
  exitCode: number
  durationMs: number
}

/** Gauges whose instances' values add up to the test's (each instance runs its share of the VUs). */
const SUMMED_GAUGES = new Set(['vus', 'vus_max'])

interface Line {
  type?: string
  metric?: string
  data?: {
    name?: string
    type?: string
    contains?: string
    time?: string
    value?: number
    tags?: Tags
    exitCode?: number
    durationMs?: number
  }
}

export class SampleMerge {
  /** Per summed gauge, each instance's latest value (NaN: none yet). */
  private readonly latest = new Map<string, number[]>()
  /** Samples merged from each instance. */
  readonly counts: number[]

  constructor(
    private readonly target: MergeTarget,
    instances: number,
  ) {
    this.counts = new Array<number>(instances).fill(0)
  }

  /**
   * Takes one line of instance `i`'s stream; returns its End when this is the last line. A line
   * that is not k6 JSON output is a KilnError naming the instance (another program on the port).
   */
  line(i: number, text: string): InstanceEnd | null {
    if (!text.trim()) return null
    let l: Line
    try {
      l = JSON.parse(text) as Line
    } catch {
      throw new KilnError('KILN_BAD_REQUEST', `instance ${i + 1} sent a line that is not k6 JSON output: ${text.slice(0, 80)}`)
    }
    const d = l.data ?? {}
    if (l.type === 'Point' && l.metric && typeof d.value === 'number') {
      const time = d.time ? Date.parse(d.time) : Date.now()
      this.counts[i]!++
      if (SUMMED_GAUGES.has(l.metric)) {
        let per = this.latest.get(l.metric)
        if (!per) this.latest.set(l.metric, (per = new Array<number>(this.counts.length).fill(Number.NaN)))
        per[i] = d.value
        const sum = per.reduce((a, b) => a + b, 0)
        if (!Number.isNaN(sum)) this.target.emit(l.metric, sum, d.tags ?? {}, time)
      } else this.target.emit(l.metric, d.value, d.tags ?? {}, time)
      return null
    }
    if (l.type === 'Metric' && d.name && d.type) {
      // The coordinator ran the same init code, so a script's metrics are known; this covers one made later.
      this.target.defineMetric(d.name, d.type, d.contains === 'time')
      return null
    }
    if (l.type === 'End') return { exitCode: Number(d.exitCode ?? 0), durationMs: Number(d.durationMs ?? 0) }
    throw new KilnError('KILN_BAD_REQUEST', `instance ${i + 1} sent a line that is not k6 JSON output: ${text.slice(0, 80)}`)
  }
}
