/**
 * Recording rules over HTTP (`/api/v1/recording-rules`: list, upsert, delete) and their counters on
 * /metrics. Rules come from the YAML file (`recording_rules:`, read-only here) and from the API
 * (kept in the store). The evaluation lives in query/recording-rules.ts.
 */
import { KilnError } from '../model/errors.ts'
import { parseRecordingRule, type RecordingRule } from '../model/recording-rules.ts'
import { RecordingRules } from '../query/recording-rules.ts'
import { RuleStore } from '../store/recording-rules.ts'
import { sendJson, type Router } from './http.ts'
import type { Context } from './context.ts'

/**
 * The rules as the API (HTTP and settings.v1's RecordingRulesService) changes them: a rule is kept
 * in the store, then evaluated; the file's rules (the default tenant's) are read-only.
 */
export class RecordingRulesApi {
  // Upserts one at a time: a generation is checked and raised with nothing in between.
  private chain: Promise<unknown> = Promise.resolve()
  constructor(
    readonly rules: RecordingRules,
    private readonly saved: RuleStore,
    private readonly fromFile: Set<string>,
  ) {}
  /** From the configuration file: changed only there. */
  provisioned(tenant: string, id: string): boolean {
    return tenant === 'anonymous' && this.fromFile.has(id)
  }
  private writable(tenant: string, id: string): void {
    if (this.provisioned(tenant, id))
      throw new KilnError('KILN_BAD_REQUEST', `recording rule ${JSON.stringify(id)} comes from the configuration file; change it there`)
  }
  /**
   * Checks a rule as the API gives it (snake_case or camelCase), stores it and starts counting it.
   * `observed` is the generation the writer last read (settings.v1 always sends one, 0 when unset):
   * a rule changed since is not overwritten (KILN_CONFLICT), as Pyroscope refuses a stale upsert.
   * A new rule is at generation 1; each change adds one.
   */
  upsert(tenant: string, raw: unknown, observed?: number): Promise<RecordingRule> {
    const run = this.chain.then(() => this.write(tenant, raw, observed))
    this.chain = run.catch(() => undefined)
    return run
  }
  private async write(tenant: string, raw: unknown, observed: number | undefined): Promise<RecordingRule> {
    const parsed = parseRecordingRule(raw, 'recording rule')
    this.writable(tenant, parsed.id)
    const stored = this.rules.list(tenant).find((r) => r.id === parsed.id)
    const at = stored?.generation ?? 1
    if (stored && observed !== undefined && observed !== at) {
      throw new KilnError(
        'KILN_CONFLICT',
        `conflicting update, please try again: recording rule ${JSON.stringify(parsed.id)} is at generation ${at}, this upsert saw ${observed}; read it again and send its generation`,
      )
    }
    const rule = { ...parsed, generation: stored ? at + 1 : 1 }
    await this.saved.upsert(tenant, rule)
    this.rules.upsert(tenant, rule)
    return rule
  }
  async delete(tenant: string, id: string): Promise<void> {
    this.writable(tenant, id)
    this.rules.delete(tenant, id)
    await this.saved.delete(tenant, id)
  }
}

export interface RecordingRulesService {
  api: RecordingRulesApi
  rules: RecordingRules
  /** The Prometheus text of the counters a /metrics caller may see. */
  metricsText(tenant?: string): string
  close(): Promise<void>
}

/** Loads the rules (file, then store), starts their evaluation, and mounts the API routes. */
export async function startRecordingRules(router: Router, ctx: Context): Promise<RecordingRulesService> {
  const { config, store } = ctx
  const rules = new RecordingRules(store.reader, {
    intervalMs: config.recordingRulesInterval,
    graceMs: config.recordingRulesGrace,
    log: ctx.log,
  })
  const fromFile = new Set<string>()
  // The file's rules belong to the tenant a server without --multitenancy uses.
  for (const r of config.recordingRules) {
    rules.upsert('anonymous', r)
    fromFile.add(r.id)
  }
  const saved = new RuleStore(store.client, store.db)
  await saved.init()
  for (const { tenant, rule } of await saved.all()) if (!(tenant === 'anonymous' && fromFile.has(rule.id))) rules.upsert(tenant, rule)
  rules.start()
  const api = new RecordingRulesApi(rules, saved, fromFile)

  router.on('GET', '/api/v1/recording-rules', (req, res) =>
    sendJson(res, 200, {
      rules: rules.list(req.tenant).map((r) => ({ ...r, source: api.provisioned(req.tenant, r.id) ? 'file' : 'api' })),
    }),
  )
  router.on('POST', '/api/v1/recording-rules', async (req, res) => {
    let raw: unknown
    try {
      raw = JSON.parse((await req.body()).toString('utf8'))
    } catch {
      throw new KilnError(
        'KILN_BAD_REQUEST',
        'expected a JSON recording rule: {"metric_name": "...", "profile_type": "...", "matchers": ["{...}"], "group_by": [...], "function_pattern": "..."}',
      )
    }
    const g = raw && typeof raw === 'object' ? (raw as { generation?: unknown }).generation : undefined
    if (g !== undefined && !Number.isSafeInteger(Number(g)))
      throw new KilnError('KILN_BAD_REQUEST', `generation ${JSON.stringify(g)} is not a whole number: the rule's generation as last read`)
    sendJson(res, 200, { rule: await api.upsert(req.tenant, raw, g === undefined ? undefined : Number(g)) })
  })
  router.on('DELETE', '/api/v1/recording-rules', async (req, res) => {
    await api.delete(req.tenant, req.query.get('id') ?? '')
    sendJson(res, 200, {})
  })
  return { api, rules, metricsText: (tenant) => rules.metricsText(tenant), close: () => rules.stop() }
}
