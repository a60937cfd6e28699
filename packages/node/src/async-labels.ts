/**
 * Opt-in (`asyncLabels: true`): labels that follow `await`. The label set rides an
 * AsyncLocalStorage; async_hooks' before/after switch the timeline's set around every callback
 * and promise continuation. The cost is that of async_hooks (V8 promise hooks) on every async
 * step of the application, hence off by default.
 */
import { AsyncLocalStorage, createHook, type AsyncHook } from 'node:async_hooks'
import type { LabelTimeline } from './labels.ts'

export class AsyncLabels {
  private readonly als = new AsyncLocalStorage<number>()
  private readonly saved: number[] = []
  private readonly hook: AsyncHook

  constructor(t: LabelTimeline) {
    this.hook = createHook({
      before: () => {
        const id = this.als.getStore() ?? 0
        this.saved.push(t.current)
        if (id !== t.current) t.enter(id)
      },
      after: () => {
        const prev = this.saved.pop()
        if (prev !== undefined && prev !== t.current) t.enter(prev)
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
