/**
 * The host half of a VU's event loop (k6's semantics: an iteration ends when its promise has
 * settled and no timer, pending async call or open socket is left). The VM half is loop.js.
 *
 * Every source of callbacks has an id the VM chose: a timer, an async operation (a promise in the
 * VM, settled by one event), or a stream (a WebSocket: many events until `done`). Their events go
 * into one FIFO queue; the VU takes them one at a time and runs the VM's promise jobs between two
 * events, so the VM is never entered while it is suspended in a host call.
 */
export type LoopEvent = [id: number, ok: boolean, payload: string]

export class EventLoop {
  /** Sources that may still produce events, with how to cancel them. */
  private live = new Map<number, () => void>()
  /** Streams that do not keep the iteration going (a browser page's event listeners). */
  private weak = new Set<number>()
  private queue: LoopEvent[] = []
  private wake: (() => void) | null = null

  /** A timer: one event after `ms` (the VM re-arms intervals itself). */
  timer(id: number, ms: number): void {
    // Node fires delays beyond 2^31-1 ms after 1 ms (with a warning): hold them at the maximum.
    const t = setTimeout(() => this.finish(id, true, ''), Math.min(Math.max(0, ms), 2 ** 31 - 1))
    this.live.set(id, () => clearTimeout(t))
  }

  /** An async operation: one event when `p` settles (ok with its string, or not ok with the error's message). */
  op(id: number, p: Promise<string>, cancel: () => void = () => {}): void {
    this.live.set(id, cancel)
    p.then(
      (v) => this.finish(id, true, v),
      (e: unknown) => this.finish(id, false, e instanceof Error ? e.message : String(e)),
    )
  }

  /**
   * A stream of events (a socket): `push` them, then `end` it. A `weak` one's events are
   * delivered while something else keeps the loop going, but it does not keep it going itself.
   */
  stream(id: number, cancel: () => void, weak = false): void {
    this.live.set(id, cancel)
    if (weak) this.weak.add(id)
  }

  push(id: number, ok: boolean, payload: string): void {
    if (!this.live.has(id)) return
    this.queue.push([id, ok, payload])
    this.wake?.()
  }

  /** The stream `id` produces no more events after the ones queued. */
  end(id: number): void {
    this.live.delete(id)
    this.weak.delete(id)
    this.wake?.()
  }

  private finish(id: number, ok: boolean, payload: string): void {
    if (!this.live.delete(id)) return // cancelled meanwhile
    this.queue.push([id, ok, payload])
    this.wake?.()
  }

  /** Cancels a timer, operation or stream; its queued events are dropped. */
  cancel(id: number): void {
    const c = this.live.get(id)
    this.live.delete(id)
    this.weak.delete(id)
    this.queue = this.queue.filter((e) => e[0] !== id)
    c?.()
  }

  /** No event queued and nothing that could queue one. */
  idle(): boolean {
    return this.queue.length === 0 && this.live.size === this.weak.size
  }

  /** An event is queued. */
  ready(): boolean {
    return this.queue.length > 0
  }

  take(): LoopEvent | undefined {
    return this.queue.shift()
  }

  /** Resolves when an event is queued, a source ends, or `interrupt()` is called. */
  next(): Promise<void> {
    if (this.queue.length || this.live.size === this.weak.size) return Promise.resolve()
    return new Promise((r) => {
      this.wake = () => {
        this.wake = null
        r()
      }
    })
  }

  interrupt(): void {
    this.wake?.()
  }

  /** Cancels everything: the end of an iteration that failed or was interrupted. */
  reset(): void {
    const cancels = [...this.live.values()]
    this.live.clear()
    this.weak.clear()
    this.queue = []
    for (const c of cancels) c()
  }
}
