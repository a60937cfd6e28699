/**
 * Metric samples crossing from a worker thread to the main thread, packed: four numbers per
 * sample (metric id, tag-set id, value, time) in a transferred Float64Array, with metric names
 * and tag sets sent once, when first seen. A request makes ~11 samples that share one tags
 * object, so the tag set is serialised once per request, not per sample.
 */
import type { SampleSink, Tags } from './metrics.ts'

export interface PackedSamples {
  /** Forget every id sent before (the tag-set table grew past its bound). */
  reset: boolean
  metrics: string[]
  tags: string[]
  nums: Float64Array
}

/** More distinct tag sets than this (unique URLs as tags…) and both tables start over. */
const MAX_TAG_SETS = 10_000

/** The worker's side: a SampleSink that collects until take(). */
export class SampleBatch implements SampleSink {
  private metricIds = new Map<string, number>()
  private tagIds = new Map<string, number>()
  private objectIds = new WeakMap<Tags, number>()
  private newMetrics: string[] = []
  private newTags: string[] = []
  private lastTags: Tags | null = null
  private lastTagId = -1
  private nums: number[] = []
  private reset = false

  add(metric: string, value: number, tags: Tags, time = Date.now()): void {
    let m = this.metricIds.get(metric)
    if (m === undefined) {
      m = this.metricIds.size
      this.metricIds.set(metric, m)
      this.newMetrics.push(metric)
    }
    if (tags !== this.lastTags) {
      // Tag objects that come back (http.ts keeps a VU's request tag sets) are found by identity.
      let t = this.objectIds.get(tags)
      if (t === undefined) {
        const key = JSON.stringify(tags)
        t = this.tagIds.get(key)
        if (t === undefined) {
          t = this.tagIds.size
          this.tagIds.set(key, t)
          this.newTags.push(key)
        }
        this.objectIds.set(tags, t)
      }
      this.lastTags = tags
      this.lastTagId = t
    }
    this.nums.push(m, this.lastTagId, value, time)
  }

  get size(): number {
    return this.nums.length / 4
  }

  /** The samples since the last take (null when none). */
  take(): PackedSamples | null {
    if (!this.nums.length && !this.newMetrics.length) return null
    const out: PackedSamples = { reset: this.reset, metrics: this.newMetrics, tags: this.newTags, nums: Float64Array.from(this.nums) }
    this.reset = false
    this.newMetrics = []
    this.newTags = []
    this.nums = []
    // Between batches, so that every batch is read with the tables it was written with.
    if (this.tagIds.size > MAX_TAG_SETS) {
      this.metricIds.clear()
      this.tagIds.clear()
      this.objectIds = new WeakMap()
      this.lastTags = null
      this.reset = true
    }
    return out
  }
}

/** The main thread's side: the names and tag sets one worker has sent so far. */
export class SampleTables {
  private metrics: string[] = []
  private tags: Tags[] = []

  /** Calls `emit` for each sample of the batch, in order. */
  unpack(p: PackedSamples, emit: (metric: string, value: number, tags: Tags, time: number) => void): void {
    if (p.reset) {
      this.metrics = []
      this.tags = []
    }
    for (const m of p.metrics) this.metrics.push(m)
    for (const t of p.tags) this.tags.push(JSON.parse(t) as Tags)
    const n = p.nums
    for (let i = 0; i + 3 < n.length; i += 4) emit(this.metrics[n[i]!]!, n[i + 2]!, this.tags[n[i + 1]!]!, n[i + 3]!)
  }
}
