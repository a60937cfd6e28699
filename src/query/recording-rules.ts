/**
 * Evaluates recording rules into counters for /metrics. A counter is `settled + recent`: every
 * `intervalMs`, each rule counts the profiles of the last `graceMs` again, through the same merged
 * trees the UI and the top table show (so a profile that arrives or commits late is still counted,
 * and once only), and what falls out of that window is added to `settled` for good. An upload later
 * than the grace is not counted (docs/recording-rules.md). Data only grows inside the window, so the
 * counter only grows; it lives in memory and restarts at zero with the server, which Prometheus'
 * rate() expects of any counter.
 */
import type { Reader } from '../store/index.ts'
import { baseUnitFactor, exposition, ruleMatchers, type CounterSample, type RecordingRule } from '../model/recording-rules.ts'
import { topTable } from '../model/tree.ts'
import { KilnError } from '../model/errors.ts'
import { mergedTree } from './merge.ts'

export interface RecordingRuleOptions {
  /** How often rules are evaluated (ms). */
  intervalMs: number
  /** How late an upload may arrive and still be counted (ms): the window counted again each time. */
  graceMs: number
  log?: (msg: string) => void
}

type Counts = Map<string, CounterSample>

interface Entry {
  tenant: string
  rule: RecordingRule
  /** Counts of [created, settledTo), final. */
  settled: Counts
  settledTo: number
  /** Counts of [settledTo, last evaluation]. */
  recent: Counts
}

const key = (tenant: string, id: string) => `${tenant}\u0000${id}`

/** The rules of every tenant, their counters, and the timer that advances them. */
export class RecordingRules {
  private readonly entries = new Map<string, Entry>()
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined

  constructor(
    private readonly reader: Reader,
    private readonly o: RecordingRuleOptions,
  ) {}

  /** Adds or replaces a rule; a replaced rule keeps its counters only if its definition is unchanged. */
  upsert(tenant: string, rule: RecordingRule, now = Date.now()): void {
    const k = key(tenant, rule.id)
    const old = this.entries.get(k)
    // The generation counts writes; the same definition written again counts on.
    const definition = (r: RecordingRule) => JSON.stringify({ ...r, generation: undefined })
    if (old && definition(old.rule) === definition(rule)) {
      old.rule = rule
      return
    }
    this.entries.set(k, { tenant, rule, settled: new Map(), settledTo: now, recent: new Map() })
  }

  delete(tenant: string, id: string): void {
    if (!this.entries.delete(key(tenant, id)))
      throw new KilnError('KILN_NOT_FOUND', `no recording rule ${JSON.stringify(id)}; GET /api/v1/recording-rules lists them`)
  }

  list(tenant: string): RecordingRule[] {
    return [...this.entries.values()].filter((e) => e.tenant === tenant).map((e) => e.rule)
  }

  start(): void {
    this.timer = setInterval(
      () => void this.evaluate().catch((e) => this.o.log?.(`recording rules: ${(e as Error).message}`)),
      this.o.intervalMs,
    )
    this.timer.unref()
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    await this.running
  }

  /** Brings every rule's counters up to `now` (one evaluation at a time). */
  async evaluate(now = Date.now()): Promise<void> {
    if (this.running) return this.running
    this.running = (async () => {
      for (const e of this.entries.values()) {
        try {
          const settle = now - this.o.graceMs
          if (settle > e.settledTo) {
            add(e.settled, (await this.count(e, e.settledTo, settle)).values())
            e.settledTo = settle
            e.recent = new Map()
          }
          e.recent = await this.count(e, e.settledTo, now + 1)
        } catch (err) {
          // Nothing is lost: the window is counted again next time.
          this.o.log?.(`recording rule ${e.rule.id}: ${(err as Error).message}`)
        }
      }
    })().finally(() => (this.running = undefined))
    return this.running
  }

  /** What the rule counts in [from, until), by series, in base units. */
  private async count(e: Entry, from: number, until: number): Promise<Counts> {
    const { rule } = e
    const base = { tenant: e.tenant, profileType: rule.profileType, matchers: ruleMatchers(rule), from, until }
    // One merged tree per group of the group-by labels present in the window.
    const groups = new Map<string, Record<string, string>>()
    for (const s of await this.reader.series(base)) {
      const g = Object.fromEntries(rule.groupBy.map((n) => [n, s.labels[n] ?? '']))
      groups.set(JSON.stringify(g), g)
    }
    const factor = baseUnitFactor(rule.profileType)
    const fnRe = rule.functionPattern !== undefined ? new RegExp(`^(?:${rule.functionPattern})$`) : undefined
    const out: Counts = new Map()
    for (const g of groups.values()) {
      const matchers = [...base.matchers, ...Object.entries(g).map(([name, value]) => ({ name, op: '=' as const, value }))]
      const tree = await mergedTree(this.reader, { ...base, matchers })
      const labels = { ...rule.externalLabels, ...g }
      if (rule.functionName === undefined && !fnRe) {
        add(out, [{ labels, value: tree.total[0]! * factor }])
        continue
      }
      for (const row of topTable(tree)) {
        if (rule.functionName !== undefined ? row.name === rule.functionName : fnRe!.test(row.name)) {
          add(out, [{ labels: fnRe ? { ...labels, function_name: row.name } : labels, value: row.total * factor }])
        }
      }
    }
    return out
  }

  /** The exposition text of one tenant's rules (all tenants' when `tenant` is undefined). */
  metricsText(tenant?: string): string {
    const ms = [...this.entries.values()]
      .filter((e) => tenant === undefined || e.tenant === tenant)
      .map((e) => {
        const all: Counts = new Map()
        add(all, e.settled.values())
        add(all, e.recent.values())
        // A rule without labels to wait for is exposed at 0 before it has counted anything.
        if (!all.size && !e.rule.groupBy.length && e.rule.functionPattern === undefined)
          all.set('[]', { labels: { ...e.rule.externalLabels }, value: 0 })
        return { rule: e.rule, samples: [...all.values()] }
      })
    return exposition(ms)
  }
}

/** Adds samples into counts, keyed by their label set. */
function add(into: Counts, samples: Iterable<CounterSample>): void {
  for (const x of samples) {
    const k = JSON.stringify(Object.entries(x.labels).sort())
    const c = into.get(k)
    if (c) c.value += x.value
    else into.set(k, { labels: x.labels, value: x.value })
  }
}
