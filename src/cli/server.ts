import { parseCommand, str, bool, type CommandSpec } from './args.ts'
import { resolveConfig, type ServerConfig } from '../server/config.ts'
import { startServer } from '../server/app.ts'

export const spec: CommandSpec = {
  name: 'server',
  usage: 'kiln server [OPTIONS]',
  summary: 'Run the Kiln server: Pyroscope-compatible ingest, the ClickHouse store, the query APIs and the web UI.',
  description:
    'Settings come from flags, KILN_* environment variables (KILN_PORT, KILN_DATA_DIR, KILN_CLICKHOUSE_URL,\n' +
    'KILN_RETENTION, KILN_AUTH_TOKEN, …) and a YAML file (--config), in that order of precedence.',
  options: {
    port: { type: 'string', short: 'p', arg: 'PORT', help: 'HTTP port', default: '4040' },
    host: { type: 'string', arg: 'ADDR', help: 'address to listen on', default: '0.0.0.0' },
    'data-dir': { type: 'string', arg: 'DIR', help: 'where the embedded ClickHouse engine keeps its data', default: './data' },
    'clickhouse-url': { type: 'string', arg: 'URL', help: 'use a ClickHouse server or cluster instead, e.g. http://user:pass@ch:8123' },
    database: { type: 'string', arg: 'NAME', help: "ClickHouse database for Kiln's tables", default: 'kiln' },
    retention: { type: 'string', arg: 'DURATION', help: 'drop data older than this (e.g. 30d, 12h; 0 keeps it forever)', default: '30d' },
    'trace-retention': {
      type: 'string',
      arg: 'DURATION',
      help: 'drop request-tracing rows (http_events, …) older than this (0 keeps them)',
      default: '24h',
    },
    config: { type: 'string', short: 'c', arg: 'FILE', help: 'YAML file with the same settings (port, data-dir, retention, …)' },
    'max-body-bytes': { type: 'string', arg: 'N', help: 'largest request body accepted', default: String(16 << 20) },
    'max-stack-depth': { type: 'string', arg: 'N', help: 'deepest stack accepted', default: '4096' },
    'max-labels': { type: 'string', arg: 'N', help: 'most labels per series', default: '40' },
    multitenancy: { type: 'boolean', help: 'keep tenants apart by the X-Scope-OrgID header' },
    'auth-token': { type: 'string', arg: 'TOKEN', help: "require 'Authorization: Bearer TOKEN' on every route" },
    'basic-auth': { type: 'string', arg: 'USER:PASS', help: 'require HTTP Basic auth on every route' },
    'no-self-profile': { type: 'boolean', help: 'do not profile the server itself into its store' },
    dashboards: { type: 'string', arg: 'DIR', help: "the Live view's dashboards: YAML or JSON files of panels, each a pxl_script" },
    'recording-rules-interval': {
      type: 'string',
      arg: 'DURATION',
      help: 'how often recording rules (config file, /api/v1/recording-rules) update their /metrics counters',
      default: '15s',
    },
    'recording-rules-grace': {
      type: 'string',
      arg: 'DURATION',
      help: 'how late an upload may arrive and still be counted by recording rules',
      default: '10m',
    },
  },
  examples: [
    'kiln server',
    'kiln server --port 4040 --data-dir /var/lib/kiln --retention 14d',
    'kiln server --clickhouse-url http://clickhouse:8123',
  ],
}

export async function run(argv: string[]): Promise<number> {
  const p = parseCommand(spec, argv)
  if (!p) return 0
  // Only flags given on the command line override the environment and the config file.
  const given = (name: string) => argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`) || (name === 'port' && a === '-p'))
  const flags: Partial<Record<keyof ServerConfig, unknown>> = {}
  const map: [string, keyof ServerConfig][] = [
    ['port', 'port'],
    ['host', 'host'],
    ['data-dir', 'dataDir'],
    ['clickhouse-url', 'clickhouseUrl'],
    ['database', 'database'],
    ['retention', 'retention'],
    ['trace-retention', 'traceRetention'],
    ['max-body-bytes', 'maxBodyBytes'],
    ['max-stack-depth', 'maxStackDepth'],
    ['max-labels', 'maxLabels'],
    ['auth-token', 'authToken'],
    ['basic-auth', 'basicAuth'],
    ['dashboards', 'dashboards'],
    ['recording-rules-interval', 'recordingRulesInterval'],
    ['recording-rules-grace', 'recordingRulesGrace'],
  ]
  for (const [flag, key] of map) if (given(flag)) flags[key] = str(p, flag)
  if (bool(p, 'multitenancy')) flags.multitenancy = true
  if (bool(p, 'no-self-profile')) flags.selfProfile = false
  const config = resolveConfig(flags, str(p, 'config'))
  const server = await startServer(config)
  const where = config.clickhouseUrl ? `ClickHouse at ${new URL(config.clickhouseUrl).host}` : `embedded ClickHouse in ${config.dataDir}`
  process.stderr.write(`kiln server listening on ${server.url} (store: ${where}, retention: ${config.retention})\n`)
  let stopping = false
  const stop = async (sig: string) => {
    if (stopping) process.exit(130)
    stopping = true
    process.stderr.write(`${sig}: flushing writes and stopping…\n`)
    await server.close()
    process.exit(0)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
  return -1
}
