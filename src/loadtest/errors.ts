/** The errors of `kiln run` that carry k6's exit codes (a leaf: every layer of loadtest imports it). */
import { KilnError } from '../model/errors.ts'

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

/** An instance of a coordinated run failed (it died, or exited before it was ready): its exit code, or 109. */
export class InstanceError extends KilnError {
  constructor(
    message: string,
    private readonly code_: number = EXIT.panic,
  ) {
    super('KILN_INTERNAL', message)
  }
  override get exitCode(): number {
    return this.code_
  }
}
