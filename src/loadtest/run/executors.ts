/**
 * k6's executors: how a scenario schedules iterations on its VUs. A registry keyed by k6's
 * executor names; each runs until its schedule ends, then gives running iterations
 * `gracefulStop` to finish before interrupting them.
 */
import { performance } from 'node:perf_hooks'
import type { ExecutorName, Scenario, Stage } from './options.ts'
import type { VuHandle as VU } from './pool.ts'

/**
 * A VU's loop as data, for a worker thread to run by itself (worker-loop.ts): iterations back to
 * back while performance.now() < `end` (this thread's clock) and, with `count`, at most that many
 * (per-vu-iterations) or, with `shared`, while the scenario's claimed iterations stay below it,
 * or, with `ramp` (ramping-vus), while the VU's index stays below the stages' target.
 */
export interface LoopPlan {
  end: number
  count?: number
  shared?: number
  ramp?: Ramp
}

/** VU `index` of `vus` runs while index < the target of `stages` at now - `start` (this thread's clock). */
export interface Ramp {
  index: number
  vus: number
  startVUs: number
  stages: Stage[]
  start: number
}

/** Whether a ramp's VU is under its target at performance.now() = `t`. */
export function underTarget(r: Ramp, t: number): boolean {
  return r.index < Math.min(r.vus, Math.round(stageTarget(r.startVUs, r.stages, t - r.start)))
}

export interface ExecContext {
  scenario: Scenario
  /** performance.now() when the scenario started. */
  start: number
  vus: VU[]
  /** Initialises one more VU for arrival-rate executors (null when it failed or the test stops). */
  newVU(): Promise<VU | null>
  /** Runs one iteration of the scenario's exec function on `vu`. */
  iterate(vu: VU): Promise<void>
  /**
   * Hands `vu`'s whole loop to the thread it lives on: resolves when the loop has ended, or is
   * null when the VU loops here (a VU on the main thread).
   */
  loopAway(vu: VU, plan: LoopPlan): Promise<void> | null
  /** shared-iterations: claims one of the scenario's iterations; returns how many were claimed before. */
  claim(): number
  stopped(): boolean
  /** Resolves when the whole test stops (abort, Ctrl-C). */
  stopSignal: Promise<void>
  /** Resolves when the test is not paused. */
  unpaused(): Promise<void>
  active(delta: number): void
  dropped(n: number): void
  /** VU count of an externally-controlled scenario (REST API / `kiln scale`). */
  targetVUs: number
}

const now = (): number => performance.now()

/** Waits until performance.now() ≥ t or the test stops; never leaves a timer behind. */
function sleepUntil(ctx: ExecContext, t: number, also?: Promise<unknown>): Promise<unknown> {
  const d = t - now()
  if (d <= 0 || ctx.stopped()) return Promise.resolve()
  let timer: NodeJS.Timeout | undefined
  // A timer may fire up to 1 ms before performance.now() reaches t: wait again, or a VU would
  // see `now() < end` after its interrupt and start another iteration.
  const fire = (r: () => void): void => {
    const left = t - now()
    if (left > 0) timer = setTimeout(fire, left, r)
    else r()
  }
  const waits: Promise<unknown>[] = [new Promise<void>((r) => (timer = setTimeout(fire, d, r))), ctx.stopSignal]
  if (also) waits.push(also)
  return Promise.race(waits).finally(() => clearTimeout(timer))
}

/** Waits for `running` until `end + gracefulStop`, then interrupts what is left. */
async function finish(ctx: ExecContext, running: Promise<unknown>[], end: number, vus: VU[]): Promise<void> {
  const all = Promise.all(running)
  await sleepUntil(ctx, end + ctx.scenario.gracefulStopMs, all)
  for (const vu of vus) vu.interrupt()
  await all
}

/**
 * A VU looping over iterations while `more()` says so. With a `plan` saying the same as `more`, a
 * VU on a worker thread loops there: two messages per loop instead of two per iteration.
 */
async function loop(ctx: ExecContext, vu: VU, more: () => boolean, plan?: LoopPlan): Promise<void> {
  ctx.active(1)
  try {
    const away = plan && !ctx.stopped() && ctx.loopAway(vu, plan)
    if (away) return await away
    for (;;) {
      await ctx.unpaused()
      if (ctx.stopped() || !more()) break
      await ctx.iterate(vu)
    }
  } finally {
    ctx.active(-1)
  }
}

async function constantVUs(ctx: ExecContext): Promise<void> {
  const end = ctx.start + ctx.scenario.durationMs
  await finish(
    ctx,
    ctx.vus.map((vu) => loop(ctx, vu, () => now() < end, { end })),
    end,
    ctx.vus,
  )
}

async function sharedIterations(ctx: ExecContext): Promise<void> {
  const s = ctx.scenario
  const end = ctx.start + s.maxDurationMs
  const more = (): boolean => now() < end && ctx.claim() < s.iterations
  await finish(
    ctx,
    ctx.vus.map((vu) => loop(ctx, vu, more, { end, shared: s.iterations })),
    end,
    ctx.vus,
  )
}

async function perVUIterations(ctx: ExecContext): Promise<void> {
  const s = ctx.scenario
  const end = ctx.start + s.maxDurationMs
  const loops = ctx.vus.map((vu) => {
    let n = 0
    return loop(ctx, vu, () => now() < end && n++ < s.iterations, { end, count: s.iterations })
  })
  await finish(ctx, loops, end, ctx.vus)
}

/** Target of piecewise-linear stages at `t` ms after the start (k6 ramps linearly within a stage). */
export function stageTarget(start: number, stages: Stage[], t: number): number {
  let from = start
  for (const st of stages) {
    if (t < st.durationMs) return from + (st.target - from) * (st.durationMs ? t / st.durationMs : 1)
    t -= st.durationMs
    from = st.target
  }
  return from
}

/**
 * VUs whose number follows `target()`: VU i runs while i < target. A VU above the target ends
 * after its current iteration, or is interrupted after `rampDownMs`.
 */
async function dynamicVUs(
  ctx: ExecContext,
  target: () => number,
  end: number,
  rampDownMs: number,
  ramp?: Pick<Ramp, 'startVUs' | 'stages'>,
): Promise<void> {
  const running = new Map<VU, Promise<void>>()
  const overSince = new Map<VU, number>()
  while (!ctx.stopped() && now() < end) {
    const n = Math.min(ctx.vus.length, target())
    ctx.vus.forEach((vu, i) => {
      if (i < n) {
        overSince.delete(vu)
        if (!running.has(vu)) {
          const plan = ramp && { end, ramp: { ...ramp, index: i, vus: ctx.vus.length, start: ctx.start } }
          const p = loop(ctx, vu, () => i < Math.min(ctx.vus.length, target()) && now() < end, plan).finally(() => running.delete(vu))
          running.set(vu, p)
        }
      } else if (running.has(vu)) {
        const since = overSince.get(vu) ?? now()
        overSince.set(vu, since)
        if (now() - since > rampDownMs) vu.interrupt()
      }
    })
    // 50 ms: fine enough to follow a ramp of 20 VUs/s exactly, cheap for thousands of VUs.
    await sleepUntil(ctx, Math.min(end, now() + 50))
  }
  await finish(ctx, [...running.values()], end, ctx.vus)
}

async function rampingVUs(ctx: ExecContext): Promise<void> {
  const s = ctx.scenario
  const total = s.stages.reduce((a, x) => a + x.durationMs, 0)
  const target = (): number => Math.round(stageTarget(s.startVUs, s.stages, now() - ctx.start))
  // Under an execution segment the target is scaled by a function, which stays on this thread.
  const ramp = s.segment ? undefined : { startVUs: s.startVUs, stages: s.stages }
  await dynamicVUs(ctx, s.segment ? () => s.segment!.scale(target()) : target, ctx.start + total, s.gracefulRampDownMs, ramp)
}

async function externallyControlled(ctx: ExecContext): Promise<void> {
  const s = ctx.scenario
  ctx.targetVUs = s.vus
  const end = s.durationMs > 0 ? ctx.start + s.durationMs : Infinity
  await dynamicVUs(ctx, () => ctx.targetVUs, end, 0)
}

/** Start times (ms from the scenario start) of an arrival-rate schedule: iteration i when ∫rate = i. */
export function* arrivals(startRate: number, stages: Stage[], timeUnitMs: number): Generator<number> {
  let base = 0 // ms at the stage start
  let done = 0 // iterations scheduled before this stage (fractional progress included)
  let next = 0
  let r0 = startRate / timeUnitMs
  for (const st of stages) {
    const r1 = st.target / timeUnitMs
    const d = st.durationMs
    const a = d ? (r1 - r0) / (2 * d) : 0
    for (;;) {
      const k = next - done
      const t = Math.abs(a) < 1e-15 ? (r0 > 0 ? k / r0 : Infinity) : (-r0 + Math.sqrt(Math.max(0, r0 * r0 + 4 * a * k))) / (2 * a)
      // 1e-6 ms: float error must not let the start due exactly at the stage end slip in.
      if (!(t < d - 1e-6)) break
      yield base + t
      next++
    }
    done += a * d * d + r0 * d
    base += d
    r0 = r1
  }
}

/** The starts of the whole test's schedule that are this instance's segment's. */
function* ownStarts(times: Iterable<number>, segment: Scenario['segment']): Generator<number> {
  let i = 0
  for (const t of times) if (!segment || segment.owns(i++)) yield t
}

async function arrivalRate(ctx: ExecContext, allTimes: Iterable<number>, end: number): Promise<void> {
  const s = ctx.scenario
  const times = ownStarts(allTimes, s.segment)
  const free = [...ctx.vus]
  const all = [...ctx.vus]
  let allocated = free.length
  const running = new Set<Promise<void>>()
  for (const t of times) {
    await sleepUntil(ctx, ctx.start + t)
    await ctx.unpaused()
    if (ctx.stopped() || now() >= end) break
    const vu = free.pop()
    if (!vu) {
      ctx.dropped(1)
      if (allocated < s.maxVUs) {
        allocated++
        void ctx.newVU().then((v) => {
          if (v) {
            free.push(v)
            all.push(v)
          }
        })
      }
      continue
    }
    ctx.active(1)
    const p: Promise<void> = ctx.iterate(vu).finally(() => {
      ctx.active(-1)
      free.push(vu)
      running.delete(p)
    })
    running.add(p)
  }
  await sleepUntil(ctx, end)
  await finish(ctx, [...running], end, all)
}

function* constantTimes(s: Scenario): Generator<number> {
  const interval = s.timeUnitMs / s.rate
  for (let i = 0; i * interval < s.durationMs; i++) yield i * interval
}

export const executors: Record<ExecutorName, (ctx: ExecContext) => Promise<void>> = {
  'shared-iterations': sharedIterations,
  'per-vu-iterations': perVUIterations,
  'constant-vus': constantVUs,
  'ramping-vus': rampingVUs,
  'constant-arrival-rate': (ctx) => arrivalRate(ctx, constantTimes(ctx.scenario), ctx.start + ctx.scenario.durationMs),
  'ramping-arrival-rate': (ctx) => {
    const s = ctx.scenario
    const total = s.stages.reduce((a, x) => a + x.durationMs, 0)
    return arrivalRate(ctx, arrivals(s.startRate, s.stages, s.timeUnitMs), ctx.start + total)
  },
  'externally-controlled': externallyControlled,
}
