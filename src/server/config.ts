import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { KilnError } from '../model/errors.ts'
import { parseDuration } from '../model/time.ts'
import { parseScrapeConfig, type ScrapeTarget } from '../collect/scrape-config.ts'
import { parseRecordingRule, type RecordingRule } from '../model/recording-rules.ts'

/** Everything `kiln server` can be told, from flags, KILN_* environment variables or a YAML file. */
export interface ServerConfig {
  port: number
  host: string
  dataDir: string
  clickhouseUrl?: string
  database: string
  /** Retention as given (e.g. 30d); 0 or "0" keeps data forever. */
  retention: string
  /** Retention of the request-tracing tables (e.g. 24h); 0 keeps them forever. */
  traceRetention: string
  /** Largest request body accepted, bytes. */
  maxBodyBytes: number
  /** Largest decompressed profile, bytes (decompression bombs stop here). */
  maxDecompressedBytes: number
  maxStackDepth: number
  maxLabels: number
  /** Honour X-Scope-OrgID; off: every request is the one tenant "anonymous". */
  multitenancy: boolean
  /** Require `Authorization: Bearer TOKEN` on every route except /ready. */
  authToken?: string
  /** Require HTTP Basic auth `user:password` on every route except /ready. */
  basicAuth?: string
  /** The server profiles its own CPU and heap into its store. */
  selfProfile: boolean
  /** Directory of the built web UI. */
  uiDir: string
  /** Extra wait (ms) before an idle writer flushes; 0: group commit without delay. */
  flushMs: number
  /** Targets whose pprof endpoints the server scrapes (YAML `scrape:`, or KILN_SCRAPE as YAML/JSON). */
  scrape: ScrapeTarget[]
  /** Directory of dashboards (YAML/JSON files of PxL panels) for the Live view. */
  dashboards?: string
  /** Profiles turned into Prometheus counters on /metrics (YAML `recording-rules:`). */
  recordingRules: RecordingRule[]
  /** How often recording rules are evaluated, ms. */
  recordingRulesInterval: number
  /** How late an upload may arrive and still count in a recording rule, ms. */
  recordingRulesGrace: number
}

export const defaults: ServerConfig = {
  port: 4040,
  host: '0.0.0.0',
  dataDir: './data',
  database: 'kiln',
  retention: '30d',
  traceRetention: '24h',
  maxBodyBytes: 16 << 20,
  maxDecompressedBytes: 64 << 20,
  maxStackDepth: 4096,
  maxLabels: 40,
  multitenancy: false,
  selfProfile: true,
  uiDir: new URL('../../ui/dist', import.meta.url).pathname,
  flushMs: 0,
  scrape: [],
  recordingRules: [],
  recordingRulesInterval: 15_000,
  recordingRulesGrace: 600_000,
}

type Raw = Record<string, unknown>

// Config keys, their YAML/env spellings and how to read them.
const keys: { key: keyof ServerConfig; env: string; yaml: string; kind: Kind }[] = [
  { key: 'port', env: 'KILN_PORT', yaml: 'port', kind: 'int' },
  { key: 'host', env: 'KILN_HOST', yaml: 'host', kind: 'str' },
  { key: 'dataDir', env: 'KILN_DATA_DIR', yaml: 'data-dir', kind: 'str' },
  { key: 'clickhouseUrl', env: 'KILN_CLICKHOUSE_URL', yaml: 'clickhouse-url', kind: 'str' },
  { key: 'database', env: 'KILN_DATABASE', yaml: 'database', kind: 'str' },
  { key: 'retention', env: 'KILN_RETENTION', yaml: 'retention', kind: 'str' },
  { key: 'traceRetention', env: 'KILN_TRACE_RETENTION', yaml: 'trace-retention', kind: 'str' },
  { key: 'maxBodyBytes', env: 'KILN_MAX_BODY_BYTES', yaml: 'max-body-bytes', kind: 'int' },
  { key: 'maxDecompressedBytes', env: 'KILN_MAX_DECOMPRESSED_BYTES', yaml: 'max-decompressed-bytes', kind: 'int' },
  { key: 'maxStackDepth', env: 'KILN_MAX_STACK_DEPTH', yaml: 'max-stack-depth', kind: 'int' },
  { key: 'maxLabels', env: 'KILN_MAX_LABELS', yaml: 'max-labels', kind: 'int' },
  { key: 'multitenancy', env: 'KILN_MULTITENANCY', yaml: 'multitenancy', kind: 'bool' },
  { key: 'authToken', env: 'KILN_AUTH_TOKEN', yaml: 'auth-token', kind: 'str' },
  { key: 'basicAuth', env: 'KILN_BASIC_AUTH', yaml: 'basic-auth', kind: 'str' },
  { key: 'selfProfile', env: 'KILN_SELF_PROFILE', yaml: 'self-profile', kind: 'bool' },
  { key: 'uiDir', env: 'KILN_UI_DIR', yaml: 'ui-dir', kind: 'str' },
  { key: 'flushMs', env: 'KILN_FLUSH_MS', yaml: 'flush-ms', kind: 'int' },
  { key: 'scrape', env: 'KILN_SCRAPE', yaml: 'scrape', kind: 'scrape' },
  { key: 'dashboards', env: 'KILN_DASHBOARDS', yaml: 'dashboards', kind: 'str' },
  { key: 'recordingRules', env: 'KILN_RECORDING_RULES', yaml: 'recording-rules', kind: 'rules' },
  { key: 'recordingRulesInterval', env: 'KILN_RECORDING_RULES_INTERVAL', yaml: 'recording-rules-interval', kind: 'duration' },
  { key: 'recordingRulesGrace', env: 'KILN_RECORDING_RULES_GRACE', yaml: 'recording-rules-grace', kind: 'duration' },
]

type Kind = 'int' | 'str' | 'bool' | 'scrape' | 'rules' | 'duration'

function coerce(kind: Kind, v: unknown, where: string): unknown {
  if (kind === 'scrape') return parseScrapeConfig(typeof v === 'string' ? parseYaml(v) : v, where)
  if (kind === 'rules') return recordingRules(typeof v === 'string' ? parseYaml(v) : v, where)
  if (kind === 'duration') {
    // A number is milliseconds; a string a duration (15s, 1m).
    const ms = typeof v === 'number' ? v : /^\d+$/.test(String(v)) ? Number(v) : parseDurationAt(String(v), where)
    if (!Number.isFinite(ms) || ms < 100)
      throw new KilnError('KILN_USAGE', `${where}: expected a duration of at least 100ms (e.g. 15s), got ${JSON.stringify(v)}`)
    return ms
  }
  if (kind === 'int') {
    const n = typeof v === 'number' ? v : Number(String(v))
    if (!Number.isInteger(n) || n < 0) throw new KilnError('KILN_USAGE', `${where}: expected a whole number ≥ 0, got ${JSON.stringify(v)}`)
    return n
  }
  if (kind === 'bool') {
    if (typeof v === 'boolean') return v
    const s = String(v).toLowerCase()
    if (['1', 'true', 'yes', 'on'].includes(s)) return true
    if (['0', 'false', 'no', 'off'].includes(s)) return false
    throw new KilnError('KILN_USAGE', `${where}: expected true or false, got ${JSON.stringify(v)}`)
  }
  return String(v)
}

/** Merges defaults < YAML file < environment < flags, and validates the result. */
export function resolveConfig(
  flags: Partial<Record<keyof ServerConfig, unknown>>,
  configFile: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): ServerConfig {
  const out: Raw = { ...defaults }
  const file = configFile ?? env.KILN_CONFIG
  if (file) {
    let doc: unknown
    try {
      doc = parseYaml(readFileSync(file, 'utf8'))
    } catch (e) {
      throw new KilnError('KILN_USAGE', `cannot read config file ${file}: ${(e as Error).message}`)
    }
    if (doc !== null && doc !== undefined) {
      if (typeof doc !== 'object' || Array.isArray(doc))
        throw new KilnError('KILN_USAGE', `config file ${file}: expected a YAML mapping of settings`)
      const known = new Map(keys.map((k) => [k.yaml, k]))
      for (const [k, v] of Object.entries(doc as Raw)) {
        const spec = known.get(k)
        if (!spec) throw new KilnError('KILN_USAGE', `config file ${file}: unknown setting '${k}'; known: ${[...known.keys()].join(', ')}`)
        out[spec.key] = coerce(spec.kind, v, `config file ${file}, ${k}`)
      }
    }
  }
  for (const spec of keys) {
    const v = env[spec.env]
    if (v !== undefined && v !== '') out[spec.key] = coerce(spec.kind, v, spec.env)
  }
  for (const spec of keys) {
    const v = flags[spec.key]
    if (v !== undefined) out[spec.key] = coerce(spec.kind, v, `--${spec.yaml}`)
  }
  const cfg = out as unknown as ServerConfig
  if (cfg.port > 65535) throw new KilnError('KILN_USAGE', `port ${cfg.port} is out of range (0–65535)`)
  retentionDays(cfg.retention)
  retentionHours(cfg.traceRetention)
  if (cfg.basicAuth && !cfg.basicAuth.includes(':')) throw new KilnError('KILN_USAGE', 'basic auth must be user:password')
  return cfg
}

function parseDurationAt(v: string, where: string): number {
  try {
    return parseDuration(v)
  } catch (e) {
    throw new KilnError('KILN_USAGE', `${where}: ${(e as Error).message}`)
  }
}

/** The `recording-rules:` list: each rule checked, ids unique. */
function recordingRules(v: unknown, where: string): RecordingRule[] {
  if (v === null || v === undefined) return []
  if (!Array.isArray(v))
    throw new KilnError(
      'KILN_USAGE',
      `${where}: expected a list of recording rules (metric_name, profile_type, matchers, group_by, function_pattern)`,
    )
  const rules: RecordingRule[] = []
  for (const [i, raw] of v.entries()) {
    let r: RecordingRule
    try {
      r = parseRecordingRule(raw, `${where}[${i}]`)
    } catch (e) {
      throw new KilnError('KILN_USAGE', (e as Error).message)
    }
    if (rules.some((x) => x.id === r.id))
      throw new KilnError('KILN_USAGE', `${where}[${i}]: a second rule with id ${JSON.stringify(r.id)}; give each an id of its own`)
    rules.push(r)
  }
  return rules
}

/** Retention in whole days (at least 1), or 0 for "keep forever". */
export function retentionDays(retention: string): number {
  if (retention === '0' || retention === '' || retention === 'forever') return 0
  const ms = parseDuration(retention)
  return Math.max(1, Math.ceil(ms / 86_400_000))
}

/** Retention in whole hours (at least 1), or 0 for "keep forever". */
export function retentionHours(retention: string): number {
  if (retention === '0' || retention === '' || retention === 'forever') return 0
  return Math.max(1, Math.ceil(parseDuration(retention) / 3_600_000))
}
