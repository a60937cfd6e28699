/** Kiln's error classes: a stable code, an HTTP status for the server and an exit code for the CLI. */
export type ErrorCode =
  | 'KILN_BAD_REQUEST'
  | 'KILN_BAD_PPROF'
  | 'KILN_BAD_FOLDED'
  | 'KILN_BAD_SPEEDSCOPE'
  | 'KILN_BAD_JFR'
  | 'KILN_BAD_GZIP'
  | 'KILN_BAD_FORMAT'
  | 'KILN_BAD_PROFILE'
  | 'KILN_BAD_LABELS'
  | 'KILN_BAD_TIME'
  | 'KILN_SELECTOR_SYNTAX'
  | 'KILN_BAD_TENANT'
  | 'KILN_TOO_LARGE'
  | 'KILN_LIMIT'
  | 'KILN_UNAUTHORIZED'
  | 'KILN_NOT_FOUND'
  | 'KILN_CONFLICT'
  | 'KILN_METHOD'
  | 'KILN_UNSUPPORTED'
  | 'KILN_STORE'
  | 'KILN_USAGE'
  | 'KILN_LOADTEST_CONFIG'
  | 'KILN_LOADTEST_SCRIPT'
  | 'KILN_PXL'
  | 'KILN_INTERNAL'

const httpStatus: Record<ErrorCode, number> = {
  KILN_BAD_REQUEST: 400,
  KILN_BAD_PPROF: 422,
  KILN_BAD_FOLDED: 422,
  KILN_BAD_SPEEDSCOPE: 422,
  KILN_BAD_JFR: 422,
  KILN_BAD_GZIP: 422,
  KILN_BAD_FORMAT: 422,
  KILN_BAD_PROFILE: 422,
  KILN_BAD_LABELS: 400,
  KILN_BAD_TIME: 400,
  KILN_SELECTOR_SYNTAX: 400,
  KILN_BAD_TENANT: 400,
  KILN_TOO_LARGE: 413,
  KILN_LIMIT: 422,
  KILN_UNAUTHORIZED: 401,
  KILN_NOT_FOUND: 404,
  KILN_CONFLICT: 409,
  KILN_METHOD: 405,
  KILN_UNSUPPORTED: 415,
  KILN_STORE: 503,
  KILN_USAGE: 400,
  KILN_LOADTEST_CONFIG: 400,
  KILN_LOADTEST_SCRIPT: 422,
  KILN_PXL: 400,
  KILN_INTERNAL: 500,
}

/** An error a user can act on: `message` says what is wrong and, where it helps, what to do. */
export class KilnError extends Error {
  readonly code: ErrorCode
  /** Extra JSON fields the server sends beside `code` and `message` (e.g. a PxL error's line and column). */
  readonly details?: Record<string, unknown>
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options)
    this.name = 'KilnError'
    this.code = code
    if (options?.details) this.details = options.details
  }
  get status(): number {
    return httpStatus[this.code]
  }
  /** CLI exit code: 2 for usage mistakes, 1 for everything else. */
  get exitCode(): number {
    return this.code === 'KILN_USAGE' ? 2 : 1
  }
}

export const isKilnError = (e: unknown): e is KilnError => e instanceof KilnError
