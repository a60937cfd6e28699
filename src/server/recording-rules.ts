/**
 * Recording rules over HTTP (`/api/v1/recording-rules`: list, upsert, delete) and their counters on
 * /metrics. Rules come from the YAML file (`recording_rules:`, read-only here) and from the API
 * (kept in the store). The evaluation lives in query/recording-rules.ts.
 */
import { KilnError } from '../model/errors.ts'
import { parseRecordingRule, type RecordingRule } from '../model/recording-rules.ts'
import { RecordingRules } from '../query/recording-rules.ts'
import { RuleStore } from '../store/recording-rules.ts'
import { sendJson, type Req, type Router } from './http.ts'
import type { Context } from './context.ts'

export interface RecordingRulesService {
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

  const fileRule = (req: Req, id: string) => {
    if (req.tenant === 'anonymous' && fromFile.has(id))
      throw new KilnError('KILN_BAD_REQUEST', `recording rule ${JSON.stringify(id)} comes from the configuration file; change it there`)
  }
  router.on('GET', '/api/v1/recording-rules', (req, res) =>
    sendJson(res, 200, {
      rules: rules.list(req.tenant).map((r) => ({ ...r, source: req.tenant === 'anonymous' && fromFile.has(r.id) ? 'file' : 'api' })),
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
    const rule: RecordingRule = parseRecordingRule(raw, 'recording rule')
    fileRule(req, rule.id)
    await saved.upsert(req.tenant, rule)
    rules.upsert(req.tenant, rule)
    sendJson(res, 200, { rule })
  })
  router.on('DELETE', '/api/v1/recording-rules', async (req, res) => {
    const id = req.query.get('id') ?? ''
    fileRule(req, id)
    rules.delete(req.tenant, id)
    await saved.delete(req.tenant, id)
    sendJson(res, 200, {})
  })
  return { rules, metricsText: (tenant) => rules.metricsText(tenant), close: () => rules.stop() }
}
