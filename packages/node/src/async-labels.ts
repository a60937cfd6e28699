/**
 * Opt-in (`asyncLabels: true`, and under `spanProfiles`): labels that follow `await`. The label
 * set rides an AsyncLocalStorage; async_hooks' before/after switch the timeline's set around every
 * callback and promise continuation — and the active OpenTelemetry span with it, read from its own
 * context, which rides the same way. The cost is that of async_hooks (V8 promise hooks) on every
 * async step of the application, hence off by default.
 */
import { AsyncLocalStorage, createHook, type AsyncHook } from 'node:async_hooks'
import type { LabelTimeline } from './labels.ts'

export class AsyncLabels {
  private readonly als = new AsyncLocalStorage<number>()
  private readonly saved: number[] = []
  private readonly savedSpans: string[] = []
  private readonly hook: AsyncHook

  /** `activeSpan`: the id of the span active now ('' for none), when span ids are tracked. */
  constructor(t: LabelTimeline, activeSpan?: () => string) {
    this.hook = createHook({
      before: () => {
        const id = this.als.getStore() ?? 0
        const span = activeSpan ? activeSpan() : t.span
        this.saved.push(t.current)
        this.savedSpans.push(t.span)
        if (id !== t.current || span !== t.span) t.enter(id, span)
      },
      after: () => {
        const prev = this.saved.pop()
        const span = this.savedSpans.pop()
        if (prev !== undefined && span !== undefined && (prev !== t.current || span !== t.span)) t.enter(prev, span)
      },
    })
    this.hook.enable()
  }

  /** Runs `fn` with the label set `id`, for its synchronous part and its continuations. */
  run<R>(id: number, fn: () => R): R {
    return this.als.run(id, fn)
  }

  disable(): void {
    this.hook.disable()
  }
}
