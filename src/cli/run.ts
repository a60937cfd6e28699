/** `kiln run`: runs a k6 script unchanged, with k6's flags, summary and exit codes. */
import { readFileSync } from 'node:fs'
import { parseCommand, str, bool, list, type CommandSpec, type Parsed } from './args.ts'
import { openArchive } from '../loadtest/run/archive.ts'
import { ConfigError, EXIT } from '../loadtest/errors.ts'
import { Runner } from '../loadtest/run/runner.ts'
import { holdTierUp } from '../loadtest/engine/engine.ts'
import { watchSigint } from '../loadtest/run/stops.ts'
import { attachOutputs } from '../loadtest/results/outputs.ts'
import type { KilnOutput } from '../loadtest/results/kiln-output.ts'
import type { SummaryLike } from '../loadtest/results/report-data.ts'
import { judgeExternal, kilnOptions } from '../loadtest/results/profile-thresholds.ts'
import { checkSecretSources, parseSecretSource } from '../loadtest/modules/secrets/secrets.ts'
import { coordinated } from '../loadtest/run/coordinator.ts'
import { k8sManifests } from '../loadtest/run/coordinator-k8s.ts'
import type { Instances } from '../loadtest/run/runner.ts'

export const spec: CommandSpec = {
  name: 'run',
  usage: 'kiln run [OPTIONS] script.js',
  summary: 'Run a k6 load-test script (k6-compatible options, summary and exit codes)',
  description:
    'Runs the script as k6 would: every VU is its own JS runtime, http calls are synchronous, and the end-of-test\n' +
    'summary and exit codes (0, 99 thresholds crossed, 104 invalid options, 105 interrupted, 107 script error,\n' +
    "108 test.abort(), 109 Kiln failed, 110 test.fail()) are k6's. Flags override the script's `options`; k6's K6_* environment\n" +
    'variables (K6_VUS, K6_DURATION, K6_ITERATIONS, K6_STAGES, K6_OUT, K6_SUMMARY_EXPORT, K6_NO_THRESHOLDS…) sit\n' +
    'between the two. VUs run on one worker thread per core (KILN_RUN_THREADS=N to choose, 0 for none).\n' +
    "With -o kiln=URL, thresholds may also judge the target's profile over the run's window and a baseline run:\n" +
    "'profile_share{function:\"handleSearch\"}': ['value<0.2'], profile_cpu_seconds, profile_share_change{…} and\n" +
    'METRIC_change with --baseline (docs/load-test-gate.md).',
  options: {
    vus: { type: 'string', short: 'u', arg: 'N', help: 'number of virtual users' },
    duration: { type: 'string', short: 'd', arg: 'DURATION', help: 'test duration, e.g. 30s, 1m30s' },
    iterations: { type: 'string', short: 'i', arg: 'N', help: 'total iterations, shared by the VUs' },
    stage: { type: 'string', short: 's', multiple: true, arg: 'DURATION:TARGET', help: 'a ramping stage, repeatable (e.g. -s 20s:50)' },
    env: { type: 'string', short: 'e', multiple: true, arg: 'K=V', help: 'an __ENV variable, repeatable' },
    'secret-source': {
      type: 'string',
      multiple: true,
      arg: 'TYPE=CONFIG',
      help: 'secrets for k6/secrets, redacted from the log: file=PATH (key=value lines) or mock=KEY=VALUE[,…]; name=N and default to choose among several',
    },
    tag: { type: 'string', multiple: true, arg: 'K=V', help: 'a tag added to every metric sample, repeatable' },
    out: {
      type: 'string',
      short: 'o',
      multiple: true,
      arg: 'json=FILE|csv=FILE|junit=FILE|markdown=FILE|kiln=URL',
      help: 'write every sample to an output, repeatable; kiln=URL stores the run in a Kiln server; junit and markdown write the thresholds at the end (CI reports)',
    },
    tenant: {
      type: 'string',
      arg: 'ID',
      help: 'with -o kiln=URL: X-Scope-OrgID for a multi-tenant server (the token comes from KILN_AUTH_TOKEN)',
    },
    profile: {
      type: 'string',
      arg: 'SELECTOR',
      help: 'with -o kiln=URL: the target\'s profiles for the run, e.g. \'{service_name="api"}\' (or options.kiln.profile); profile_share{function:"…"} thresholds read them',
    },
    baseline: {
      type: 'string',
      arg: 'RUN_ID|latest',
      help: "with -o kiln=URL: the stored run profile_share_change{…} and METRIC_change thresholds compare with (latest: this script's previous run; or options.kiln.baseline)",
    },
    'summary-export': { type: 'string', arg: 'FILE', help: "write the summary as k6's legacy JSON" },
    'summary-trend-stats': { type: 'string', arg: 'LIST', help: 'trend columns, e.g. avg,p(99),max' },
    'summary-time-unit': { type: 'string', arg: 's|ms|us', help: 'fixed time unit in the summary' },
    'system-tags': {
      type: 'string',
      arg: 'LIST',
      help: 'the system tags samples keep, e.g. status,method,scenario (k6 default: all but vu, iter, ip, ocsp_status)',
    },
    'summary-mode': { type: 'string', arg: 'MODE', help: 'compact (default), full or disabled' },
    'no-summary': { type: 'boolean', help: 'print no end-of-test summary (k6 0.x/1.x; same as --summary-mode=disabled)' },
    'no-thresholds': { type: 'boolean', help: "don't evaluate thresholds" },
    'no-setup': { type: 'boolean', help: "don't run setup()" },
    'no-teardown': { type: 'boolean', help: "don't run teardown()" },
    'http-debug': { type: 'string', arg: '[full]', help: 'log every HTTP request (--http-debug or --http-debug=full)' },
    quiet: { type: 'boolean', short: 'q', help: 'no banner or progress lines' },
    'insecure-skip-tls-verify': { type: 'boolean', help: 'accept any TLS certificate' },
    'discard-response-bodies': { type: 'boolean', help: "don't keep response bodies (saves memory)" },
    'max-redirects': { type: 'string', arg: 'N', help: 'redirects followed per request (default 10)' },
    'user-agent': { type: 'string', arg: 'UA', help: 'User-Agent header of requests' },
    'batch-per-host': { type: 'string', arg: 'N', help: 'parallel connections per host and VU (default 6)' },
    batch: { type: 'string', arg: 'N', help: 'requests in flight at once in one http.batch() (default 20)' },
    'no-connection-reuse': { type: 'boolean', help: 'a new connection for every request' },
    'no-vu-connection-reuse': { type: 'boolean', help: "close a VU's connections after each iteration" },
    'blacklist-ip': {
      type: 'string',
      multiple: true,
      arg: 'CIDR[,CIDR…]',
      help: 'IP ranges no request may reach (k6 error 1110), repeatable',
    },
    'block-hostnames': {
      type: 'string',
      multiple: true,
      arg: 'NAME[,NAME…]',
      help: 'hostnames (with a leading *. wildcard) no request may reach (k6 error 1111)',
    },
    'min-iteration-duration': { type: 'string', arg: 'DURATION', help: 'minimum time an iteration takes' },
    throw: { type: 'boolean', short: 'w', help: 'throw on failed HTTP requests' },
    config: { type: 'string', short: 'c', arg: 'FILE', help: 'JSON file of options (below the script options)' },
    'include-system-env-vars': { type: 'string', arg: 'true|false', help: 'pass the environment to __ENV (default true)' },
    address: {
      type: 'string',
      short: 'a',
      arg: 'HOST:PORT',
      help: "start k6's REST API there (kiln status/pause/resume/scale/stats talk to it)",
    },
    paused: { type: 'boolean', short: 'p', help: 'start paused; resume with kiln resume or the REST API' },
    'execution-segment': {
      type: 'string',
      arg: 'SEGMENT',
      help: "this instance's part of the test, e.g. 1/3:2/3: its share of VUs, iterations and arrival rates",
    },
    'execution-segment-sequence': { type: 'string', arg: 'LIST', help: 'all segments, e.g. 0,1/3,2/3,1' },
    instances: {
      type: 'string',
      arg: 'N',
      help: "run the test as N kiln run processes, each its execution segment, started together; one merged summary, thresholds and stored run (k6-operator's parallelism)",
    },
    connect: {
      type: 'string',
      multiple: true,
      arg: 'HOST:PORT[,…]',
      help: "with --instances: coordinate instances started elsewhere (kiln run --instance --address …, e.g. a Kubernetes Job's pods) instead of local processes",
    },
    k8s: {
      type: 'boolean',
      help: 'with --instances: print the Kubernetes objects of that coordinated run (script ConfigMap, instance Indexed Job, headless Service, coordinator Job) for kubectl apply -f -',
    },
    'k8s-image': { type: 'string', arg: 'IMAGE', help: "with --k8s: the Kiln image the pods run (default 'kiln', as in deploy/)" },
    instance: {
      type: 'boolean',
      help: 'be one instance of a coordinated run: paused until the coordinator resumes it, samples streamed over the REST API (--address), no setup, teardown, thresholds or summary here',
    },
    type: { type: 'string', short: 't', arg: 'js|archive', help: 'what the file is (default: archive for .tar, else js)' },
    'no-color': { type: 'boolean', help: 'no colors (Kiln prints none)' },
  },
  examples: [
    'kiln run script.js',
    'kiln run -u 10 -i 20 test.js',
    'kiln run -u 0 -s 20s:50 -s 60s:50 -s 10s:0 test.js',
    'kiln run -o json=out.json --summary-export sum.json test.js',
    'kiln run -o kiln=http://localhost:4040 --profile \'{service_name="api"}\' --baseline latest -o junit=thresholds.xml gate.js',
  ],
}

function kv(items: string[], what: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const it of items) {
    const i = it.indexOf('=')
    if (i <= 0) throw new ConfigError(`${what} '${it}' must be KEY=VALUE`)
    out[it.slice(0, i)] = it.slice(i + 1)
  }
  return out
}

const intFlag = (v: string | undefined, what: string): number | undefined => {
  if (v === undefined) return undefined
  if (!/^\d+$/.test(v)) throw new ConfigError(`${what} must be a whole number, got '${v}'`)
  return Number(v)
}

/** The CLI option layer: only the flags given, so they override the script's options. */
export function cliLayer(p: Parsed): Record<string, unknown> {
  const o: Record<string, unknown> = {}
  const set = (k: string, v: unknown): void => {
    if (v !== undefined && v !== false) o[k] = v
  }
  set('vus', intFlag(str(p, 'vus'), '--vus'))
  set('iterations', intFlag(str(p, 'iterations'), '--iterations'))
  set('duration', str(p, 'duration'))
  const stages = list(p, 'stage').map((s) => {
    const m = /^([^:]+):(\d+)$/.exec(s)
    if (!m) throw new ConfigError(`--stage '${s}' must be DURATION:TARGET, e.g. 20s:50`)
    return { duration: m[1], target: Number(m[2]) }
  })
  if (stages.length) o.stages = stages
  const tags = kv(list(p, 'tag'), '--tag')
  if (Object.keys(tags).length) o.tags = tags
  const stats = str(p, 'summary-trend-stats')
  if (stats !== undefined)
    o.summaryTrendStats = stats
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
  set('summaryTimeUnit', str(p, 'summary-time-unit'))
  set('systemTags', str(p, 'system-tags'))
  // An instance of a coordinated run: setup and teardown run once, in the coordinator.
  set('noSetup', bool(p, 'no-setup') || bool(p, 'instance'))
  set('noTeardown', bool(p, 'no-teardown') || bool(p, 'instance'))
  set('insecureSkipTLSVerify', bool(p, 'insecure-skip-tls-verify'))
  set('discardResponseBodies', bool(p, 'discard-response-bodies'))
  set('maxRedirects', intFlag(str(p, 'max-redirects'), '--max-redirects'))
  set('batchPerHost', intFlag(str(p, 'batch-per-host'), '--batch-per-host'))
  set('batch', intFlag(str(p, 'batch'), '--batch'))
  set('noConnectionReuse', bool(p, 'no-connection-reuse'))
  set('noVUConnectionReuse', bool(p, 'no-vu-connection-reuse'))
  const commaList = (name: string): string[] | undefined => {
    const v = list(p, name)
      .flatMap((x) => x.split(','))
      .map((x) => x.trim())
      .filter(Boolean)
    return v.length ? v : undefined
  }
  set('blacklistIPs', commaList('blacklist-ip'))
  set('blockHostnames', commaList('block-hostnames'))
  set('userAgent', str(p, 'user-agent'))
  set('minIterationDuration', str(p, 'min-iteration-duration'))
  set('throw', bool(p, 'throw'))
  set('executionSegment', str(p, 'execution-segment'))
  set('executionSegmentSequence', str(p, 'execution-segment-sequence'))
  return o
}

/** Go's strconv.ParseBool, as k6 reads boolean K6_* variables. */
function envBool(v: string | undefined, name: string): boolean | undefined {
  if (v === undefined || v === '') return undefined
  if (/^(1|t|T|TRUE|true|True)$/.test(v)) return true
  if (/^(0|f|F|FALSE|false|False)$/.test(v)) return false
  throw new ConfigError(`${name} must be true or false, got '${v}'`)
}

/**
 * k6's K6_* environment variables: the options layer between the script's options and the
 * flags (K6_VUS=10 K6_DURATION=30s kiln run script.js), named as k6 names them.
 */
export function envLayer(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const o: Record<string, unknown> = {}
  const text = (k: string, name: string): void => {
    const v = env[k]
    if (v !== undefined && v !== '') o[name] = v
  }
  const int = (k: string, name: string): void => {
    const v = intFlag(env[k] || undefined, k)
    if (v !== undefined) o[name] = v
  }
  const flag = (k: string, name: string): void => {
    const v = envBool(env[k], k)
    if (v !== undefined) o[name] = v
  }
  int('K6_VUS', 'vus')
  int('K6_ITERATIONS', 'iterations')
  text('K6_DURATION', 'duration')
  if (env.K6_STAGES) {
    o.stages = env.K6_STAGES.split(',').map((st) => {
      const m = /^\s*([^:]+):(\d+)\s*$/.exec(st)
      if (!m) throw new ConfigError(`K6_STAGES '${env.K6_STAGES}' must be DURATION:TARGET,…, e.g. 20s:50,1m:0`)
      return { duration: m[1], target: Number(m[2]) }
    })
  }
  if (env.K6_SUMMARY_TREND_STATS)
    o.summaryTrendStats = env.K6_SUMMARY_TREND_STATS.split(',')
      .map((x) => x.trim())
      .filter(Boolean)
  text('K6_SUMMARY_TIME_UNIT', 'summaryTimeUnit')
  text('K6_SYSTEM_TAGS', 'systemTags')
  flag('K6_NO_SETUP', 'noSetup')
  flag('K6_NO_TEARDOWN', 'noTeardown')
  flag('K6_INSECURE_SKIP_TLS_VERIFY', 'insecureSkipTLSVerify')
  flag('K6_DISCARD_RESPONSE_BODIES', 'discardResponseBodies')
  flag('K6_NO_COOKIES_RESET', 'noCookiesReset')
  flag('K6_THROW', 'throw')
  int('K6_MAX_REDIRECTS', 'maxRedirects')
  int('K6_BATCH_PER_HOST', 'batchPerHost')
  int('K6_BATCH', 'batch')
  flag('K6_NO_CONNECTION_REUSE', 'noConnectionReuse')
  flag('K6_NO_VU_CONNECTION_REUSE', 'noVUConnectionReuse')
  text('K6_BLACKLIST_IPS', 'blacklistIPs')
  text('K6_BLOCK_HOSTNAMES', 'blockHostnames')
  text('K6_USER_AGENT', 'userAgent')
  text('K6_MIN_ITERATION_DURATION', 'minIterationDuration')
  text('K6_EXECUTION_SEGMENT', 'executionSegment')
  text('K6_EXECUTION_SEGMENT_SEQUENCE', 'executionSegmentSequence')
  return o
}

/** Parses run-style flags (`kiln run`, `archive`, `inspect` share them); null after --help. */
export function parseRunArgs(s: CommandSpec, argv: string[]): Parsed | null {
  // k6 accepts a bare `--http-debug`; parseArgs needs a value.
  return parseCommand(
    s,
    argv.map((a) => (a === '--http-debug' ? '--http-debug=headers' : a)),
  )
}

/** A Runner for the script (or archive) and flags of a run-style command. */
export function runnerFromArgs(p: Parsed, command: string): Runner {
  const script = p.positionals[0]
  if (!script || p.positionals.length > 1)
    throw new ConfigError(`kiln ${command} takes one script: 'kiln ${command} script.js' (see --help)`)
  let files: Map<string, Buffer> | undefined
  let scriptPath = script
  let archived: Record<string, unknown> = {}
  if (script.endsWith('.tar') || str(p, 'type') === 'archive') {
    let buf: Buffer
    try {
      buf = readFileSync(script)
    } catch {
      throw new ConfigError(`cannot read the archive '${script}': check the path`)
    }
    const a = openArchive(buf)
    files = a.files
    scriptPath = a.meta.filename
    archived = a.meta.options
  }
  let configLayer: Record<string, unknown> = {}
  const configFile = str(p, 'config')
  if (configFile) {
    try {
      configLayer = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>
    } catch (e) {
      throw new ConfigError(`cannot read the config file '${configFile}': ${(e as Error).message}`)
    }
  }
  const env = process.env
  // Flags first, then k6's K6_* variables for what is not an option of the script.
  const mode =
    bool(p, 'no-summary') || envBool(env.K6_NO_SUMMARY, 'K6_NO_SUMMARY')
      ? 'disabled'
      : (str(p, 'summary-mode') ?? (env.K6_SUMMARY_MODE || 'compact'))
  if (mode !== 'compact' && mode !== 'full' && mode !== 'disabled')
    throw new ConfigError(`--summary-mode must be compact, full or disabled, got '${mode}'`)
  const debug = str(p, 'http-debug') ?? (env.K6_HTTP_DEBUG ? (env.K6_HTTP_DEBUG === 'full' ? 'full' : 'headers') : undefined)
  const sysEnv = str(p, 'include-system-env-vars') !== 'false'
  const flagOuts = list(p, 'out')
  const outs = flagOuts.length
    ? flagOuts
    : (env.K6_OUT ?? '')
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
  const summaryExport = str(p, 'summary-export') ?? (env.K6_SUMMARY_EXPORT || undefined)
  const instance = bool(p, 'instance')
  if (instance && !str(p, 'address'))
    throw new ConfigError('--instance needs --address HOST:PORT: the coordinator starts it and reads its samples there')
  let stored: KilnOutput | null = null
  return new Runner({
    scriptPath,
    ...(files ? { files } : {}),
    configLayer,
    cliLayer: { ...archived, ...envLayer(env), ...cliLayer(p) },
    env: { ...(sysEnv ? (process.env as Record<string, string>) : {}), ...kv(list(p, 'env'), '--env') },
    secrets: checkSecretSources(list(p, 'secret-source').map(parseSecretSource)),
    quiet: bool(p, 'quiet'),
    httpDebug: debug === undefined ? '' : debug === 'full' ? 'full' : 'headers',
    summaryMode: mode,
    noThresholds: instance || bool(p, 'no-thresholds') || envBool(env.K6_NO_THRESHOLDS, 'K6_NO_THRESHOLDS') === true,
    paused: instance || bool(p, 'paused') || envBool(env.K6_PAUSED, 'K6_PAUSED') === true,
    instance,
    outputs: outs,
    tty: !!process.stderr.isTTY,
    ...(str(p, 'address') ? { address: str(p, 'address')! } : {}),
    ...(summaryExport ? { summaryExport } : {}),
    attach: (registry, r) => {
      const ko = kilnOptions(r.opts.raw.kiln)
      const profile = str(p, 'profile') ?? ko.profile
      const external = r.thresholds.filter((t) => t.external)
      if (external.length && !outs.some((o) => o.startsWith('kiln='))) {
        throw new ConfigError(
          `thresholds on '${[...new Set(external.map((t) => t.metric))].join("', '")}' are judged from the run stored in Kiln: add -o kiln=URL${profile ? '' : " and --profile SELECTOR (the target's profiles)"}`,
        )
      }
      if (!outs.length) return undefined
      const o = attachOutputs(
        outs,
        registry,
        () => r.thresholds,
        {
          script: scriptPath,
          tags: kv(list(p, 'tag'), '--tag'),
          ...(profile ? { profile } : {}),
          ...(str(p, 'tenant') ? { tenant: str(p, 'tenant')! } : {}),
          warn: (s) => process.stderr.write(s),
        },
        () => r.summaryData as SummaryLike | null,
      )
      stored = o.kiln
      return o.close
    },
    judge: async (r) => {
      const kiln = stored
      if (!kiln || !r.thresholds.some((t) => t.external)) return
      const ko = kilnOptions(r.opts.raw.kiln)
      const baseline = str(p, 'baseline') ?? ko.baseline
      await judgeExternal(r.thresholds, {
        client: kiln.client,
        current: async () => {
          const id = await kiln.end()
          if (!id) throw new Error(`the run is not stored in Kiln (${kiln.failure ?? 'unknown error'}), so it cannot be judged`)
          return id
        },
        ...(baseline ? { baseline } : {}),
        profileWaitMs: ko.profileWaitMs,
        warn: (s) => process.stderr.write(s),
      })
    },
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
  })
}

export async function run(argv: string[]): Promise<number> {
  holdTierUp()
  const p = parseRunArgs(spec, argv)
  if (!p) return 0
  const runner = runnerFromArgs(p, 'run')
  if (bool(p, 'k8s')) return renderK8s(p, argv)
  const instances = coordinatorFromArgs(p, argv, runner)
  // Ctrl-C: stop the scenarios, then teardown, summary and outputs; exit 105. A second one quits at once.
  let signals = 0
  runner.onSigint = (): void => {
    if (++signals > 1) process.exit(EXIT.interrupted)
    process.stderr.write('\nstopping: running teardown and the summary (Ctrl-C again to quit now)\n')
    runner.stop(EXIT.interrupted)
  }
  // SIGINT is caught by a watcher thread, which also reaches a VU holding the main thread
  // (run/stops.ts); this listener takes the signals that come while the watcher is not waiting.
  const onSignal = (): void => {
    Atomics.add(runner.sigint, 0, 1)
    runner.pollSigint()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const unwatch = await watchSigint(runner.sigint, () => runner.pollSigint())
  try {
    return await (instances ? runner.runCoordinated(instances) : runner.run())
  } finally {
    await unwatch()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

// The coordinator's own flags: its outputs, thresholds and summary come from the merged samples,
// and it gives each instance its segment and REST API.
const COORDINATOR_ONLY = new Set([
  'instances',
  'connect',
  'out',
  'tenant',
  'profile',
  'baseline',
  'summary-export',
  'no-thresholds',
  'address',
  'paused',
  'quiet',
  'execution-segment',
  'execution-segment-sequence',
])

/** `argv` as options with their values (`name` null for a positional), as given. */
function argGroups(argv: string[]): { name: string | null; tokens: string[] }[] {
  const byShort = new Map(Object.entries(spec.options).flatMap(([name, o]) => (o.short ? [[o.short, name] as const] : [])))
  const out: { name: string | null; tokens: string[] }[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const m = /^--([^=]+)(=.*)?$/.exec(a) ?? /^-([a-zA-Z])()$/.exec(a)
    const name = m ? (a.startsWith('--') ? m[1]! : byShort.get(m[1]!)) : undefined
    const takesValue = !!name && spec.options[name]?.type === 'string' && !m![2]
    out.push({ name: name ?? null, tokens: takesValue && i + 1 < argv.length ? [a, argv[++i]!] : [a] })
  }
  return out
}

/** `argv` without the options named in `drop` (and their values), as given: what local instances get. */
function forward(argv: string[], drop: Set<string>): string[] {
  return argGroups(argv).flatMap((g) => (g.name && drop.has(g.name) ? [] : g.tokens))
}

/** `kiln run --instances N --k8s script.js`: the Kubernetes objects of a coordinated run, on stdout. */
function renderK8s(p: Parsed, argv: string[]): number {
  const n = intFlag(str(p, 'instances'), '--instances')
  if (!n) throw new ConfigError('--k8s renders a coordinated run: give --instances N (the number of instance pods)')
  const script = p.positionals[0]!
  let source: string
  try {
    source = readFileSync(script, 'utf8')
  } catch {
    throw new ConfigError(`cannot read the script '${script}': check the path`)
  }
  const groups = argGroups(argv).filter((g) => g.name !== 'k8s' && g.name !== 'k8s-image' && !(g.name === null && g.tokens[0] === script))
  const local = new Set([...COORDINATOR_ONLY].filter((x) => x !== 'quiet'))
  process.stdout.write(
    k8sManifests({
      instances: n,
      scriptPath: script,
      source,
      instanceArgs: groups.flatMap((g) => (g.name && COORDINATOR_ONLY.has(g.name) ? [] : g.tokens)),
      coordinatorArgs: groups.flatMap((g) =>
        g.name && local.has(g.name) && g.name !== 'instances' && g.name !== 'connect' ? g.tokens : [],
      ),
      image: str(p, 'k8s-image') ?? 'kiln',
    }),
  )
  return 0
}

/** `--instances N` (with `--connect`): the coordinated run's instances; null for a plain run. */
function coordinatorFromArgs(p: Parsed, argv: string[], runner: Runner): Instances | null {
  const n = intFlag(str(p, 'instances'), '--instances')
  const connect = list(p, 'connect')
    .flatMap((x) => x.split(','))
    .map((x) => x.trim())
    .filter(Boolean)
  if (n === undefined) {
    if (connect.length) throw new ConfigError('--connect needs --instances N (how many instances to coordinate)')
    return null
  }
  if (n < 1) throw new ConfigError('--instances must be 1 or more')
  if (bool(p, 'instance')) throw new ConfigError('--instances coordinates; --instance is what it starts: give one of them')
  if (connect.length && connect.length !== n)
    throw new ConfigError(`--connect names ${connect.length} instances, --instances says ${n}: give one HOST:PORT per instance`)
  if (str(p, 'execution-segment'))
    throw new ConfigError('--instances gives each instance its execution segment: leave out --execution-segment')
  const sequence = str(p, 'execution-segment-sequence')
  if (sequence && sequence.split(',').length !== n + 1)
    throw new ConfigError(`--execution-segment-sequence '${sequence}' must have ${n + 1} points for ${n} instances, e.g. 0,1/4,1/2,1 for 3`)
  return coordinated(runner, {
    instances: n,
    connect,
    args: ['-q', ...forward(argv, COORDINATOR_ONLY)],
    ...(sequence ? { sequence } : {}),
    quiet: bool(p, 'quiet'),
    err: (s) => process.stderr.write(s),
  })
}
