/** What a VU needs from the run it belongs to. */
import type { SampleSink, Tags } from '../results/metrics.ts'
import type { SecretSource } from '../modules/secrets/secrets.ts'
import type { NetOptions } from '../modules/http/netrules.ts'
import type { BrowserInfo } from '../modules/browser/launch.ts'

/** HTTP-related options a VU reads. */
export interface VuOptions {
  userAgent: string
  insecureSkipTLSVerify: boolean
  discardResponseBodies: boolean
  batchPerHost: number
  maxRedirects: number
  throw: boolean
  noCookiesReset: boolean
  /** Requests in flight at once in one http.batch() call. */
  batch: number
  /** Close a VU's connections when each iteration ends. */
  noVUConnectionReuse: boolean
  net: NetOptions
  /** The optional system tags `systemTags` turns on: `vu` and `iter` on every sample of an iteration, `ip` on HTTP samples. */
  vuTags: ('vu' | 'iter' | 'ip')[]
  /** `rps`: requests per second over the whole run (0: no limit). */
  rps: number
  /** With `rps`: the next free send time (µs since the epoch), shared by every thread's VUs. */
  rpsNext?: BigInt64Array
  /** The run's Chromium for k6/browser (set when a scenario asks for it). */
  browser?: BrowserInfo
}

/** Who a VU is and where it is in its scenario: what k6/execution reads of it. */
export interface BoardVU {
  id: number
  iteration: number
  iterationInScenario: number
  /** The running iteration's number in its scenario, across all VUs (k6's iterationInTest). */
  iterationInTest: number
  scenario: string | null
  baseTags: Tags
}

export interface Host {
  readonly options: VuOptions
  readonly httpDebug: '' | 'headers' | 'full'
  readonly script: { path: string; source: string }
  readonly env: Record<string, string>
  /** `--secret-source` sources, for k6/secrets. */
  readonly secrets: SecretSource[]
  readonly registry: SampleSink
  /** SharedArray contents by name, as JSON (built by the first VU, parsed by the others). */
  readonly shared: Map<string, string>
  emit(metric: string, value: number, tags: Tags, time?: number): void
  /** Registers a custom metric; returns '' or an error message for the script. */
  defineMetric(name: string, type: string, isTime: boolean): string
  log(level: string, message: string): void
  /** A module's source, by absolute path (archives serve them from memory). */
  readFile(path: string): string
  /** A file for open(), resolved against the script's folder. */
  readBytes(path: string): Buffer
  execState(vu: BoardVU): unknown
  abort(message: string): void
  markFailed(message: string): void
}
