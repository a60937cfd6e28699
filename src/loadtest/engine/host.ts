/** What a VU needs from the run it belongs to, and the errors that carry k6's exit codes. */
import { KilnError } from '../model/errors.ts'
import type { SampleSink, Tags } from './metrics.ts'
import type { BoardVU } from './board.ts'
import type { SecretSource } from './secrets.ts'
import type { NetOptions } from './netrules.ts'

/** k6's exit codes ([k6:errext/exitcodes]). */
export const EXIT = {
  ok: 0,
  thresholds: 99,
  config: 104,
  interrupted: 105,
  script: 107,
  aborted: 108,
  /** k6's GoPanic: Kiln itself failed (a VU worker thread died). */
  panic: 109,
  failed: 110,
} as const

/** An exception in the script's init code, setup or teardown, or a syntax error: exit 107. */
export class ScriptError extends KilnError {
  constructor(message: string) {
    super('KILN_LOADTEST_SCRIPT', message)
  }
  override get exitCode(): number {
    return EXIT.script
  }
}

/** An invalid option, threshold or flag value: exit 104. */
export class ConfigError extends KilnError {
  constructor(message: string) {
    super('KILN_LOADTEST_CONFIG', message)
  }
  override get exitCode(): number {
    return EXIT.config
  }
}

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
