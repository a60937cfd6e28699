/**
 * Span profiles (`spanProfiles: true`): every CPU and wall sample carries the id of the
 * OpenTelemetry span active when it was taken, as the pprof label `span_id` — what Pyroscope's Go
 * SDK (otelpyroscope) attaches and what querier.v1's SelectMergeSpanProfile selects by, so Grafana
 * shows a span's own flame graph. `@opentelemetry/api` is an optional peer: loaded when asked
 * for, and without it the SDK profiles as before and says why in one log line.
 *
 * A span becomes active in two ways, and both are followed: synchronously, inside
 * `context.with(ctx, fn)` (what `tracer.startActiveSpan` and the instrumentations call), which is
 * wrapped to switch the timeline's span around `fn`; and in each callback or promise continuation
 * that inherits the span through the context manager, where async-labels.ts reads
 * `trace.getActiveSpan()` before the callback runs.
 *
 * Samples also carry `span_name`: the name of the span's local root (the first span of the
 * request in this process: no parent, or a parent in another process), as Pyroscope's
 * OpenTelemetry integrations label them — so a request's work, its child spans' included, is a
 * series to select by name. The SDK's spans expose their name and parent; a span of another
 * implementation gets no name.
 */
import type * as Api from '@opentelemetry/api'
import type { LabelTimeline } from './labels.ts'

type OtelApi = typeof Api
// context.with, without its generics (it passes every argument through unchanged).
type With = (this: unknown, ctx: Api.Context, fn: (...a: unknown[]) => unknown, thisArg?: unknown, ...args: unknown[]) => unknown

/** The span attribute Grafana's Tempo view reads to link a span to its profile. */
const PROFILE_ID_ATTRIBUTE = 'pyroscope.profile.id'
// Root names remembered by span id, so a child finds its root through its parent: enough for the
// spans of the requests in flight; the oldest are forgotten first.
const ROOTS_KEPT = 10_000

/** What the OpenTelemetry SDK's spans (sdk-trace-base 1.x and 2.x) show beyond the API's Span. */
interface SdkSpan {
  name?: unknown
  parentSpanContext?: Api.SpanContext
  parentSpanId?: string
}

export class SpanTracking {
  private readonly original: With
  private readonly patched: With
  // Spans already given the attribute (entered again at every nested context.with).
  private readonly tagged = new WeakSet<Api.Span>()
  private readonly roots = new Map<string, string>()

  private constructor(
    private readonly api: OtelApi,
    private readonly t: LabelTimeline,
  ) {
    const { context } = api
    const original = (this.original = context.with as unknown as With)
    const spanOf = (ctx: Api.Context) => {
      const span = api.trace.getSpan(ctx)
      const id = this.idOf(span)
      if (id && !this.tagged.has(span!)) this.tag(span!, id)
      return id
    }
    this.patched = function (ctx, fn, thisArg, ...args) {
      const span = spanOf(ctx)
      if (span === t.span) return original.call(this, ctx, fn, thisArg, ...args)
      const prevSpan = t.span
      t.enter(t.current, span)
      try {
        return original.call(this, ctx, fn, thisArg, ...args)
      } finally {
        t.enter(t.current, prevSpan)
      }
    }
    context.with = this.patched as unknown as Api.ContextAPI['with']
  }

  /** Loads `@opentelemetry/api` and starts following its active span; null (and a log line) without it. */
  static async start(t: LabelTimeline, log: (msg: string) => void): Promise<SpanTracking | null> {
    let api: OtelApi
    try {
      const m = (await import('@opentelemetry/api')) as OtelApi & { default?: OtelApi }
      api = typeof m.trace?.getActiveSpan === 'function' ? m : m.default!
      if (typeof api?.trace?.getActiveSpan !== 'function') throw new Error('no trace API in it')
    } catch (e) {
      log(
        `@kiln/node: spanProfiles needs @opentelemetry/api (npm install @opentelemetry/api): ${(e as Error).message.split('\n')[0]}; profiling without span ids`,
      )
      return null
    }
    return new SpanTracking(api, t)
  }

  /**
   * Marks a span as having a profile: the attribute `pyroscope.profile.id` (its own id), which
   * Grafana's trace view looks for to offer "Profiles for this span", as Pyroscope's SDKs set it.
   */
  private tag(span: Api.Span, id: string): void {
    this.tagged.add(span)
    if (span.isRecording()) span.setAttribute(PROFILE_ID_ATTRIBUTE, id)
  }

  /** The id of the span active now, '' for none. */
  active = (): string => this.idOf(this.api.trace.getActiveSpan())

  private idOf(span: Api.Span | undefined): string {
    if (!span) return ''
    const sc = span.spanContext()
    if (!this.api.isSpanContextValid(sc)) return ''
    // Named again at each entry: the timeline forgets the names of spans it no longer holds.
    this.t.nameSpan(sc.spanId, this.roots.get(sc.spanId) ?? this.rootName(span as Api.Span & SdkSpan, sc.spanId))
    return sc.spanId
  }

  /** The name of a span's local root — its own, or its parent's root's — remembered by its id. */
  private rootName(span: SdkSpan, id: string): string {
    const parent = span.parentSpanContext ?? (span.parentSpanId ? { spanId: span.parentSpanId, isRemote: false } : undefined)
    // A parent never seen active here leaves the span unnamed rather than named as a root.
    const name = !parent || parent.isRemote ? (typeof span.name === 'string' ? span.name : '') : (this.roots.get(parent.spanId) ?? '')
    this.roots.set(id, name)
    if (this.roots.size > ROOTS_KEPT) this.roots.delete(this.roots.keys().next().value!)
    return name
  }

  /** Stops following spans: `context.with` is the original again (unless someone wrapped it after us). */
  stop(): void {
    const { context } = this.api
    if ((context.with as unknown) === this.patched) context.with = this.original as unknown as Api.ContextAPI['with']
  }
}
