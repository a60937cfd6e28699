/** SDK options: what `init()` takes, with Pyroscope's PYROSCOPE_* environment variables honoured. */
export interface Options {
  /** Kiln (or Pyroscope) server, e.g. http://localhost:4040. PYROSCOPE_SERVER_ADDRESS. */
  serverAddress?: string
  /** The service name. PYROSCOPE_APPLICATION_NAME. */
  appName?: string
  /** Static labels on every profile. */
  tags?: Record<string, string>
  /** How often profiles are sent, ms (default 15000). PYROSCOPE_FLUSH_INTERVAL_MS. */
  flushIntervalMs?: number
  /** Bearer token. PYROSCOPE_AUTH_TOKEN. */
  authToken?: string
  /** HTTP Basic auth. PYROSCOPE_BASIC_AUTH_USER / PYROSCOPE_BASIC_AUTH_PASSWORD. */
  basicAuthUser?: string
  basicAuthPassword?: string
  /** Sent as X-Scope-OrgID. PYROSCOPE_TENANT_ID. */
  tenantID?: string
  /** CPU sampling interval, µs (default 10000: 100 Hz). PYROSCOPE_WALL_SAMPLING_INTERVAL_MICROS. */
  samplingIntervalMicros?: number
  /** Heap profiling on (default true). */
  heap?: boolean
  /** Average bytes between heap samples (default 524288). PYROSCOPE_HEAP_SAMPLING_INTERVAL_BYTES. */
  heapSamplingIntervalBytes?: number
  /** Deepest heap stack kept (default 64). PYROSCOPE_HEAP_STACK_DEPTH. */
  heapStackDepth?: number
  /**
   * How often the heap profile is read, ms (default 60000, and at least one flush interval):
   * V8's inspector runs a full garbage collection to report only live objects, so reading it at
   * every 15 s flush would cost the application a major GC each time.
   */
  heapIntervalMs?: number
  /** Labels follow `await` in wrapWithLabels (async_hooks: a cost on every async step; default false). */
  asyncLabels?: boolean
  /**
   * CPU and wall samples carry the active OpenTelemetry span's id as the label `span_id`, and its
   * local root span's name as `span_name`, for span profiles (needs `@opentelemetry/api`; follows
   * `await` as asyncLabels does; default false).
   */
  spanProfiles?: boolean
  /** Uploads waiting at most before the oldest is dropped (default 8). */
  maxQueue?: number
  /** Upload timeout, ms (default 10000). */
  timeoutMs?: number
  /** Attempts per upload (default 3) and the first back-off, ms (default 1000, doubling). */
  attempts?: number
  retryBaseMs?: number
  /** Where the SDK's few log lines go (default: stderr). */
  logger?: (msg: string) => void
}

export type Config = Required<Omit<Options, 'authToken' | 'basicAuthUser' | 'basicAuthPassword' | 'tenantID'>> &
  Pick<Options, 'authToken' | 'basicAuthUser' | 'basicAuthPassword' | 'tenantID'>

function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined || v === '') return undefined
  const n = Number(v)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`@kiln/node: ${name}=${JSON.stringify(v)} is not a positive number`)
  return n
}

/** Options over environment over defaults; throws on a setting that cannot work. */
export function resolve(o: Options, env: NodeJS.ProcessEnv = process.env): Config {
  const c: Config = {
    serverAddress: o.serverAddress ?? env.PYROSCOPE_SERVER_ADDRESS ?? 'http://localhost:4040',
    appName: o.appName ?? env.PYROSCOPE_APPLICATION_NAME ?? '',
    tags: o.tags ?? {},
    flushIntervalMs: o.flushIntervalMs ?? num(env.PYROSCOPE_FLUSH_INTERVAL_MS, 'PYROSCOPE_FLUSH_INTERVAL_MS') ?? 15_000,
    authToken: o.authToken ?? (env.PYROSCOPE_AUTH_TOKEN || undefined),
    basicAuthUser: o.basicAuthUser ?? (env.PYROSCOPE_BASIC_AUTH_USER || undefined),
    basicAuthPassword: o.basicAuthPassword ?? (env.PYROSCOPE_BASIC_AUTH_PASSWORD || undefined),
    tenantID: o.tenantID ?? (env.PYROSCOPE_TENANT_ID || undefined),
    samplingIntervalMicros:
      o.samplingIntervalMicros ?? num(env.PYROSCOPE_WALL_SAMPLING_INTERVAL_MICROS, 'PYROSCOPE_WALL_SAMPLING_INTERVAL_MICROS') ?? 10_000,
    heap: o.heap ?? true,
    heapSamplingIntervalBytes:
      o.heapSamplingIntervalBytes ??
      num(env.PYROSCOPE_HEAP_SAMPLING_INTERVAL_BYTES, 'PYROSCOPE_HEAP_SAMPLING_INTERVAL_BYTES') ??
      512 * 1024,
    heapStackDepth: o.heapStackDepth ?? num(env.PYROSCOPE_HEAP_STACK_DEPTH, 'PYROSCOPE_HEAP_STACK_DEPTH') ?? 64,
    heapIntervalMs: o.heapIntervalMs ?? 60_000,
    asyncLabels: o.asyncLabels ?? false,
    spanProfiles: o.spanProfiles ?? false,
    maxQueue: o.maxQueue ?? 8,
    timeoutMs: o.timeoutMs ?? 10_000,
    attempts: o.attempts ?? 3,
    retryBaseMs: o.retryBaseMs ?? 1000,
    logger: o.logger ?? ((m) => process.stderr.write(`${m}\n`)),
  }
  if (!c.appName) throw new Error('@kiln/node: no appName: pass init({ appName }) or set PYROSCOPE_APPLICATION_NAME')
  if (!/^https?:\/\//.test(c.serverAddress))
    throw new Error(`@kiln/node: serverAddress ${JSON.stringify(c.serverAddress)} must start with http:// or https://`)
  if (c.flushIntervalMs < 1000)
    throw new Error(`@kiln/node: flushIntervalMs ${c.flushIntervalMs} is under 1000; profiles that short are mostly noise`)
  return c
}
