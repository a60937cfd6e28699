/**
 * Dynamic labels: `wrapWithLabels` records when the label set changes on the main thread
 * (a timeline on V8's profiler clock); each CPU sample later takes the set in force at its time.
 * The active OpenTelemetry span rides beside the set (spans.ts): span ids are one per request, so
 * they are not interned into sets, which live as long as the profiler.
 */
export type LabelSet = readonly (readonly [string, string])[]

/** The pprof label of a sample's span, as Pyroscope's Go SDK and the server read it. */
export const SPAN_ID_LABEL = 'span_id'
/** The pprof label with the name of the sample's root span, as Pyroscope's OpenTelemetry integrations send it. */
export const SPAN_NAME_LABEL = 'span_name'

// Transitions kept before an early cut of the CPU profile is asked for, and the hard bound
// beyond which transitions are dropped (20 bytes each: 200k ≈ 4 MB, 1M ≈ 20 MB).
const SOFT_CAP = 200_000
const HARD_CAP = 1_000_000

/** Label-set changes over time, interned label sets, and the set in force now. */
export class LabelTimeline {
  private times: number[] = []
  private ids: number[] = []
  private spans: string[] = []
  private readonly sets: LabelSet[] = [[]]
  private readonly index = new Map<string, number>([['', 0]])
  private readonly memo = new Map<string, number>()
  // performance.now() is ms since timeOrigin on the same monotonic clock as V8's profiler (µs).
  private readonly originUs = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000
  current = 0
  /** The active span's id (16 hex digits), '' for none. */
  span = ''
  // The root span's name of each span id in the timeline (spans.ts names them as they become active).
  private readonly spanNames = new Map<string, string>()
  private recording = false
  dropped = 0
  /** Called once when the soft cap is reached, so the owner cuts the profile early. */
  onFull: (() => void) | undefined

  /** The microsecond clock V8's CPU profiles use for startTime and sample times. */
  nowUs(): number {
    return this.originUs + performance.now() * 1000
  }

  /** The id of the current set with `labels` added (later keys replace earlier ones). */
  merged(labels: Record<string, string | number>): number {
    // Fast path: the same labels added to the same set map to the same id (no sort, no Map).
    let fast = String(this.current)
    for (const k in labels) fast += `\u0001${k}\u0000${labels[k]}`
    const hit = this.memo.get(fast)
    if (hit !== undefined) return hit
    if (this.memo.size >= 10_000) this.memo.clear()
    const id = this.intern(labels)
    this.memo.set(fast, id)
    return id
  }

  private intern(labels: Record<string, string | number>): number {
    const m = new Map(this.sets[this.current])
    for (const k in labels) m.set(k, String(labels[k]))
    const set = [...m].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    const key = set.map(([k, v]) => `${k}\u0000${v}`).join('\u0001')
    let id = this.index.get(key)
    if (id === undefined) {
      id = this.sets.length
      this.sets.push(set)
      this.index.set(key, id)
    }
    return id
  }

  /** Makes `id` (and `span`, by default the one active now) the set in force from now on. */
  enter(id: number, span = this.span): void {
    this.current = id
    this.span = span
    if (!this.recording) return
    const n = this.times.length
    if (n >= HARD_CAP) {
      this.dropped++
      return
    }
    this.times.push(this.nowUs())
    this.ids.push(id)
    this.spans.push(span)
    if (n + 1 === SOFT_CAP) this.onFull?.()
  }

  /** Names the root span of span `id`: its samples carry `span_name` with it. */
  nameSpan(id: string, rootName: string): void {
    if (rootName) this.spanNames.set(id, rootName)
  }

  set(id: number): LabelSet {
    return this.sets[id]!
  }

  /** A lookup of the set in force at a time, for times in increasing order. */
  cursor(): (timeUs: number) => number {
    const at = this.entries()
    return (t) => at(t)[0]
  }

  /**
   * A lookup of the labels of a sample taken at a time — the set, plus `span_id` and its root's
   * `span_name` while a span was active — for times in increasing order.
   */
  labelsCursor(): (timeUs: number) => LabelSet {
    const at = this.entries()
    let id = -1
    let span = ''
    let labels: LabelSet = []
    return (t) => {
      const e = at(t)
      if (e[0] !== id || e[1] !== span) {
        ;[id, span] = e
        const set = this.sets[id]!
        const name = span && this.spanNames.get(span)
        labels = span ? [...set.filter(([k]) => k !== SPAN_ID_LABEL && k !== SPAN_NAME_LABEL), [SPAN_ID_LABEL, span]] : set
        if (name) labels = [...labels, [SPAN_NAME_LABEL, name]]
      }
      return labels
    }
  }

  /** The (set, span) in force at a time, for times in increasing order. */
  private entries(): (timeUs: number) => [number, string] {
    let i = 0
    const last: [number, string] = [this.ids[0] ?? this.current, this.spans[0] ?? this.span]
    return (t) => {
      for (; i < this.times.length && this.times[i]! <= t; i++) {
        last[0] = this.ids[i]!
        last[1] = this.spans[i]!
      }
      return last
    }
  }

  /** Forgets transitions up to `untilUs`, keeping the set then in force. */
  forget(untilUs: number): void {
    let i = 0
    while (i < this.times.length && this.times[i]! <= untilUs) i++
    if (i === 0) return
    this.times = [untilUs, ...this.times.slice(i)]
    this.ids = [this.ids[i - 1]!, ...this.ids.slice(i)]
    this.spans = [this.spans[i - 1]!, ...this.spans.slice(i)]
    this.keepNames()
  }

  // Names only of the spans the timeline still holds (and the active one): a name per request
  // would otherwise pile up for as long as the profiler runs.
  private keepNames(): void {
    if (!this.spanNames.size) return
    const held = new Set(this.spans)
    held.add(this.span)
    for (const id of this.spanNames.keys()) if (!held.has(id)) this.spanNames.delete(id)
  }

  /** Stops recording; the set in force stays known. */
  stop(): void {
    this.recording = false
    this.times = []
    this.ids = []
    this.spans = []
    this.keepNames()
  }

  /** Starts recording, with the set now in force as the first entry. */
  start(): void {
    this.recording = true
    this.times = [this.nowUs()]
    this.ids = [this.current]
    this.spans = [this.span]
  }
}
