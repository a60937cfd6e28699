/**
 * settings.v1.SettingsService: per-tenant name/value settings (the Drilldown app keeps its
 * preferences there), one JSON file per tenant under <data-dir>/settings/, replaced atomically;
 * and settings.v1.RecordingRulesService over Kiln's recording rules.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ServiceImpl } from '@connectrpc/connect'
import { KilnError } from '../../model/errors.ts'
import type { Context } from '../context.ts'
import type { SettingsService } from './gen/settings/v1/setting_pb.ts'
import { MetricType, type RecordingRulesService } from './gen/settings/v1/recording_rules_pb.ts'
import type { RecordingRule } from '../../model/recording-rules.ts'
import type { RecordingRulesApi } from '../recording-rules.ts'
import { tenantOf } from './tenant.ts'

/** As stored: modifiedAt in ms since the epoch (a JSON number; the message's int64 is a bigint). */
interface Setting {
  name: string
  value: string
  modifiedAt: number
}

const toMessage = (s: Setting) => ({ ...s, modifiedAt: BigInt(s.modifiedAt) })

// Settings are small preferences: 1,000 of up to 64 KiB each bound a tenant's file at 64 MiB.
const MAX_SETTINGS = 1000
const MAX_VALUE = 64 << 10

export function settingsService(ctx: Context): Partial<ServiceImpl<typeof SettingsService>> {
  const dir = join(ctx.config.dataDir, 'settings')
  // Tenant ids are [A-Za-z0-9!-_.*'()] and never "." or "..": safe as file names once encoded.
  const fileOf = (tenant: string) => join(dir, `${encodeURIComponent(tenant)}.json`)
  const load = (tenant: string): Setting[] => {
    try {
      return JSON.parse(readFileSync(fileOf(tenant), 'utf8')) as Setting[]
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw e
    }
  }
  // Get and Set of one process run one at a time per tenant (the file is read, changed, replaced).
  const queues = new Map<string, Promise<unknown>>()
  const serial = <T>(tenant: string, f: () => T): Promise<T> => {
    const next = (queues.get(tenant) ?? Promise.resolve()).then(f, f)
    queues.set(
      tenant,
      next.catch(() => {}),
    )
    return next
  }
  return {
    async get(_m, call) {
      const tenant = tenantOf(call)
      return { settings: (await serial(tenant, () => load(tenant))).map(toMessage) }
    },
    async set(m, call) {
      const s = m.setting
      if (!s?.name) throw new KilnError('KILN_BAD_REQUEST', 'setting.name is required')
      if (s.value.length > MAX_VALUE)
        throw new KilnError('KILN_LIMIT', `setting ${JSON.stringify(s.name.slice(0, 100))} is over ${MAX_VALUE} characters`)
      const tenant = tenantOf(call)
      const stored = await serial(tenant, () => {
        const all = load(tenant)
        const at = all.findIndex((x) => x.name === s.name)
        const next: Setting = { name: s.name, value: s.value, modifiedAt: Number(s.modifiedAt) || Date.now() }
        // A write older than the stored one (a stale tab) leaves it in place.
        if (at >= 0 && all[at]!.modifiedAt > next.modifiedAt) return all[at]!
        if (at >= 0) all[at] = next
        else if (all.length >= MAX_SETTINGS) throw new KilnError('KILN_LIMIT', `a tenant keeps at most ${MAX_SETTINGS} settings`)
        else all.push(next)
        mkdirSync(dir, { recursive: true })
        const tmp = `${fileOf(tenant)}.${process.pid}.tmp`
        writeFileSync(tmp, JSON.stringify(all))
        renameSync(tmp, fileOf(tenant))
        return next
      })
      return { setting: toMessage(stored) }
    },
  }
}

/** A rule as settings.v1's RecordingRule: external labels as pairs, the function filter nested. */
function ruleMessage(rule: RecordingRule, provisioned: boolean) {
  return {
    id: rule.id,
    metricName: rule.metricName,
    profileType: rule.profileType,
    matchers: rule.matchers,
    groupBy: rule.groupBy,
    externalLabels: Object.entries(rule.externalLabels).map(([name, value]) => ({ name, value })),
    // Rules from the file, and those stored before generations were kept, are at their first.
    generation: BigInt(rule.generation ?? 1),
    ...(rule.functionName ? { stacktraceFilter: { functionName: { functionName: rule.functionName, metricType: MetricType.TOTAL } } } : {}),
    provisioned,
  }
}

/**
 * settings.v1.RecordingRulesService over Kiln's recording rules (the same rules as the YAML file
 * and /api/v1/recording-rules). `api` is there once the rules are loaded, after the RPCs are mounted.
 */
export function recordingRulesService(api: () => RecordingRulesApi | undefined): Partial<ServiceImpl<typeof RecordingRulesService>> {
  const ready = (): RecordingRulesApi => {
    const a = api()
    if (!a) throw new KilnError('KILN_STORE', 'recording rules are still loading; try again in a moment')
    return a
  }
  const find = (a: RecordingRulesApi, tenant: string, id: string): RecordingRule => {
    const rule = a.rules.list(tenant).find((r) => r.id === id)
    if (!rule) throw new KilnError('KILN_NOT_FOUND', `no recording rule ${JSON.stringify(id)}; ListRecordingRules lists them`)
    return rule
  }
  return {
    async listRecordingRules(_m, call) {
      const a = ready()
      const tenant = tenantOf(call)
      return { rules: a.rules.list(tenant).map((r) => ruleMessage(r, a.provisioned(tenant, r.id))) }
    },
    async getRecordingRule(m, call) {
      const a = ready()
      const tenant = tenantOf(call)
      return { rule: ruleMessage(find(a, tenant, m.id), a.provisioned(tenant, m.id)) }
    },
    async upsertRecordingRule(m, call) {
      const a = ready()
      const tenant = tenantOf(call)
      // No id is a new rule, named as Pyroscope names them: a random id. An id names a rule to
      // replace at the generation sent (0 when unset, which a stored rule never has).
      const rule = await a.upsert(
        tenant,
        {
          id: m.id || randomBytes(8).toString('hex'),
          metric_name: m.metricName,
          matchers: m.matchers,
          group_by: m.groupBy,
          external_labels: m.externalLabels,
          ...(m.stacktraceFilter?.functionName?.functionName ? { function_name: m.stacktraceFilter.functionName.functionName } : {}),
        },
        Number(m.generation),
      )
      return { rule: ruleMessage(rule, false) }
    },
    async deleteRecordingRule(m, call) {
      const a = ready()
      const tenant = tenantOf(call)
      find(a, tenant, m.id)
      await a.delete(tenant, m.id)
      return {}
    },
  }
}
