/**
 * What profile thresholds and `kiln compare` read from a Kiln server: stored runs (the run page's
 * `/api/v1/runs/get`), and the target's merged profile over a run's window as stacks, through the
 * same merged-tree read the UI's flame graph and top table use (`/api/v1/export?format=folded`).
 */
import { request, type ClientOptions } from '../../client/client.ts'
import { KilnError } from '../../model/errors.ts'
import { parseSelector, formatSelector, type Matcher } from '../../model/selector.ts'
import { runProfileWindow, type MetricSummary, type RunInfo } from '../../model/run.ts'

/** A stored run as `/api/v1/runs/get` answers (the parts read here). */
export interface StoredRun {
  run: RunInfo
  metrics: Record<string, MetricSummary>
}

/** A merged profile as stacks (root first) and their values; `total` is their sum. */
export interface Stacks {
  type: string
  selector: string
  from: number
  until: number
  stacks: [string[], number][]
  total: number
}

const utc = (ms: number): string => new Date(ms).toISOString().slice(11, 19)

/** Reads runs and profiles from one Kiln server, each merged profile once. */
export class ProfileSource {
  private readonly cache = new Map<string, Promise<Stacks | null>>()
  constructor(readonly client: ClientOptions) {}

  private async json<T>(path: string): Promise<T> {
    return (await (await request(this.client, path, { signal: AbortSignal.timeout(60_000) })).json()) as T
  }

  /** One stored run with its metrics over the whole run. */
  async run(id: string): Promise<StoredRun> {
    try {
      return await this.json<StoredRun>(`/api/v1/runs/get?run=${encodeURIComponent(id)}`)
    } catch (e) {
      if (/answered 404/.test((e as Error).message))
        throw new KilnError(
          'KILN_NOT_FOUND',
          `no run '${id}' in Kiln at ${this.client.server}: list runs at ${this.client.server}/api/v1/runs`,
        )
      throw e
    }
  }

  /**
   * The baseline of `current`: a run id, or `latest` — the newest finished run of the same script
   * before it (k6 users name a script's runs by the script).
   */
  async baseline(spec: string, current: RunInfo): Promise<StoredRun> {
    if (spec !== 'latest') return this.run(spec)
    const runs = await this.json<RunInfo[]>('/api/v1/runs')
    const prev = runs.find((r) => r.id !== current.id && r.ended > 0 && r.script === current.script && r.started < current.started)
    if (!prev)
      throw new KilnError(
        'KILN_NOT_FOUND',
        `no earlier finished run of ${current.script || 'this script'} in Kiln to compare with: store one first (kiln run -o kiln=URL without --baseline)`,
      )
    return this.run(prev.id)
  }

  /**
   * Waits until the target has sent a profile stamped at or after `ended` — the SDKs upload in
   * order, so the profile covering the run's last seconds is then stored — or `waitMs` passes.
   * Returns false when the wait ran out.
   */
  async waitForProfileAfter(selector: string, ended: number, waitMs: number): Promise<boolean> {
    const deadline = Date.now() + waitMs
    for (;;) {
      const q = new URLSearchParams({ query: selector, from: String(ended), until: String(ended + 3_600_000) })
      const types = await this.json<unknown[]>(`/api/v1/profile-types?${q}`)
      if (types.length) return true
      if (Date.now() >= deadline) return false
      await new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, deadline - Date.now()))))
    }
  }

  /**
   * The merged profile of `selector` over a run's profile window (the run page's), of `type` or
   * of the type the run page picks (a CPU type first); null when the window holds no profile.
   */
  stacks(selector: string, run: RunInfo, opts: { type?: string; cpu?: boolean; reachBackMs?: number } = {}): Promise<Stacks | null> {
    const key = JSON.stringify([selector, run.started, run.ended, opts.type ?? '', opts.cpu ?? false, opts.reachBackMs ?? 0])
    let p = this.cache.get(key)
    if (!p) this.cache.set(key, (p = this.load(selector, run, opts)))
    return p
  }

  private async load(selector: string, run: RunInfo, opts: { type?: string; cpu?: boolean; reachBackMs?: number }): Promise<Stacks | null> {
    const window = runProfileWindow(run)
    const until = window.until
    const from = window.from - (opts.reachBackMs ?? 0)
    const range = { query: selector, from: String(from), until: String(until) }
    const types = (await this.json<{ id: string }[]>(`/api/v1/profile-types?${new URLSearchParams(range)}`)).map((t) => t.id)
    if (!types.length) return null
    let type = opts.type
    if (type && !types.includes(type))
      throw new KilnError(
        'KILN_NOT_FOUND',
        `no ${type} profile of ${selector} from ${utc(from)} to ${utc(until)} UTC (there are: ${types.join(', ')})`,
      )
    if (opts.cpu) {
      type ??= types.find((t) => /cpu/.test(t) && t.split(':')[2] === 'nanoseconds')
      if (!type || !/cpu/.test(type))
        throw new KilnError(
          'KILN_NOT_FOUND',
          `no CPU profile (in nanoseconds) of ${selector} from ${utc(from)} to ${utc(until)} UTC (there are: ${types.join(', ')})`,
        )
    }
    // The run page's choice (ui/src/lib/runs.ts pickType): a CPU type, else the first.
    type ??= types.find((t) => /cpu/.test(t)) ?? types[0]!
    const text = await (
      await request(this.client, `/api/v1/export?${new URLSearchParams({ ...range, type, format: 'folded' })}`, {
        signal: AbortSignal.timeout(60_000),
      })
    ).text()
    const stacks: [string[], number][] = []
    let total = 0
    for (const line of text.split('\n')) {
      const sp = line.lastIndexOf(' ')
      if (sp <= 0) continue
      const v = Number(line.slice(sp + 1))
      if (!(v > 0)) continue
      stacks.push([line.slice(0, sp).split(';'), v])
      total += v
    }
    return total > 0 ? { type, selector, from, until, stacks, total } : null
  }
}

/** `base` (a selector such as `{service_name="api"}`, or '') narrowed by label equalities. */
export function narrowSelector(base: string, labels: Record<string, string>): string {
  const matchers: Matcher[] = base ? parseSelector(base.startsWith('{') ? base : `{${base}}`).matchers : []
  for (const [name, value] of Object.entries(labels))
    if (!matchers.some((m) => m.name === name && m.op === '=' && m.value === value)) matchers.push({ name, op: '=', value })
  return formatSelector(matchers)
}

/** Why a run window holds nothing to judge, said so a CI log reader knows what to check. */
export function noProfileReason(selector: string, run: RunInfo): string {
  const { from, until } = runProfileWindow(run)
  return `no profile of ${selector} from ${utc(from)} to ${utc(until)} UTC (the run's window): is the target profiled (e.g. by @kiln/node) and sending to this Kiln server?`
}
