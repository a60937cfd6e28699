/**
 * The function table: PxL's scalar functions (px.* UDFs) and operators with their types and the
 * ClickHouse SQL each compiles to, and the aggregates (UDAs) `.agg()` accepts. One table read by
 * the compiler, the error messages ("did you mean …") and the UI's completion (`pxlCatalog`).
 */
import { isNumeric, type ColType, type SemType } from './types.ts'

export interface ScalarFn {
  /** Argument types as the docs show them, e.g. `(STRING, STRING) → BOOLEAN`. */
  sig: string
  doc: string
  /** The result type, or null when the argument types do not fit. */
  type(args: ColType[]): ColType | null
  sql(args: string[], types: ColType[]): string
  sem?: (args: SemType[]) => SemType
}

const num = (t: ColType | undefined) => t !== undefined && isNumeric(t)
const numOrBool = (t: ColType | undefined) => num(t) || t === 'BOOLEAN'
const same = (a: ColType[], ...want: ColType[]) =>
  a.length === want.length && a.every((t, i) => t === want[i] || (want[i] === 'FLOAT64' && t === 'INT64'))
const fixed = (want: ColType[], ret: ColType) => (a: ColType[]) => (same(a, ...want) ? ret : null)
const keepSem = (s: SemType[]) => s[0] ?? 'ST_NONE'

function arith(op: string, fn: string): ScalarFn {
  return {
    sig: `(NUMBER, NUMBER) → NUMBER`,
    doc: `arithmetic ${op}`,
    type: ([a, b]) => {
      if (op === '+' && a === 'STRING' && b === 'STRING') return 'STRING'
      if ((op === '+' || op === '-') && a === 'TIME64NS' && (b === 'INT64' || (op === '+' && b === 'TIME64NS'))) return 'TIME64NS'
      if (op === '+' && a === 'INT64' && b === 'TIME64NS') return 'TIME64NS'
      if (op === '-' && a === 'TIME64NS' && b === 'TIME64NS') return 'INT64'
      if (!numOrBool(a) || !numOrBool(b)) return null
      return a === 'FLOAT64' || b === 'FLOAT64' ? 'FLOAT64' : 'INT64'
    },
    sql: ([a, b], [ta, tb]) => (op === '+' && ta === 'STRING' && tb === 'STRING' ? `concat(${a}, ${b})` : `${fn}(${a}, ${b})`),
    sem: (s) => (s[0] !== 'ST_NONE' ? s[0]! : (s[1] ?? 'ST_NONE')),
  }
}

function compare(fn: string): ScalarFn {
  return {
    sig: '(T, T) → BOOLEAN',
    doc: `comparison ${fn}`,
    type: ([a, b]) => {
      const timeish = (t: ColType | undefined) => t === 'TIME64NS' || t === 'INT64'
      const ok =
        (numOrBool(a) && numOrBool(b)) ||
        (a === b && a !== 'QUANTILES') ||
        (timeish(a) && timeish(b)) ||
        (a === 'UINT128' && b === 'INT64') ||
        (a === 'INT64' && b === 'UINT128')
      return ok ? 'BOOLEAN' : null
    },
    sql: ([a, b]) => `${fn}(${a}, ${b})`,
    sem: () => 'ST_NONE',
  }
}

function logical(fn: 'and' | 'or', bits: string): ScalarFn {
  return {
    sig: '(BOOLEAN, BOOLEAN) → BOOLEAN or (INT64, INT64) → INT64',
    doc: `logical ${fn}`,
    type: ([a, b]) => (a === 'BOOLEAN' && b === 'BOOLEAN' ? 'BOOLEAN' : a === 'INT64' && b === 'INT64' ? 'INT64' : null),
    sql: ([a, b], [ta]) => (ta === 'BOOLEAN' ? `${fn}(${a}, ${b})` : `${bits}(${a}, ${b})`),
    sem: () => 'ST_NONE',
  }
}

const mathFn = (fn: string, doc: string, ret: ColType = 'FLOAT64'): ScalarFn => ({
  sig: `(NUMBER) → ${ret}`,
  doc,
  type: ([a, ...rest]) => (num(a) && rest.length === 0 ? ret : null),
  sql: ([a]) => (ret === 'INT64' ? `toInt64(${fn}(${a}))` : `${fn}(${a})`),
  sem: keepSem,
})

const semantic = (sem: SemType, doc: string): ScalarFn => ({
  sig: '(T) → T',
  doc,
  type: (a) => (a.length === 1 ? a[0]! : null),
  sql: ([a]) => a!,
  sem: () => sem,
})

/** Operators, by the name the compiler gives them. */
export const operators: Record<string, ScalarFn> = {
  '+': arith('+', 'plus'),
  '-': arith('-', 'minus'),
  '*': arith('*', 'multiply'),
  '/': {
    sig: '(NUMBER, NUMBER) → FLOAT64',
    doc: 'division (always FLOAT64, as in Pixie)',
    type: ([a, b]) => (numOrBool(a) && numOrBool(b) ? 'FLOAT64' : null),
    sql: ([a, b]) => `divide(${a}, ${b})`,
    sem: () => 'ST_NONE',
  },
  '//': {
    sig: '(NUMBER, NUMBER) → NUMBER',
    doc: 'floor division',
    type: ([a, b]) => (a === 'INT64' && b === 'INT64' ? 'INT64' : num(a) && num(b) ? 'FLOAT64' : null),
    sql: ([a, b], [ta, tb]) => (ta === 'INT64' && tb === 'INT64' ? `intDivOrZero(${a}, ${b})` : `floor(divide(${a}, ${b}))`),
    sem: keepSem,
  },
  '%': {
    sig: '(INT64, INT64) → INT64',
    doc: 'remainder',
    type: ([a, b]) => (a === 'INT64' && b === 'INT64' ? 'INT64' : num(a) && num(b) ? 'FLOAT64' : null),
    sql: ([a, b]) => `moduloOrZero(${a}, ${b})`,
    sem: keepSem,
  },
  '**': {
    sig: '(NUMBER, NUMBER) → FLOAT64',
    doc: 'power',
    type: ([a, b]) => (num(a) && num(b) ? 'FLOAT64' : null),
    sql: ([a, b]) => `pow(${a}, ${b})`,
    sem: () => 'ST_NONE',
  },
  '==': compare('equals'),
  '!=': compare('notEquals'),
  '<': compare('less'),
  '<=': compare('lessOrEquals'),
  '>': compare('greater'),
  '>=': compare('greaterOrEquals'),
  '&': logical('and', 'bitAnd'),
  '|': logical('or', 'bitOr'),
  '^': {
    sig: '(BOOLEAN, BOOLEAN) → BOOLEAN',
    doc: 'exclusive or',
    type: ([a, b]) => (a === b && (a === 'BOOLEAN' || a === 'INT64') ? a : null),
    sql: ([a, b], [t]) => (t === 'BOOLEAN' ? `xor(${a}, ${b})` : `bitXor(${a}, ${b})`),
  },
  not: { sig: '(BOOLEAN) → BOOLEAN', doc: 'negation', type: ([a]) => (a === 'BOOLEAN' ? 'BOOLEAN' : null), sql: ([a]) => `not(${a})` },
  '~': {
    sig: '(BOOLEAN) → BOOLEAN or (INT64) → INT64',
    doc: 'negation (bitwise on integers)',
    type: ([a]) => (a === 'BOOLEAN' || a === 'INT64' ? a : null),
    sql: ([a], [t]) => (t === 'BOOLEAN' ? `not(${a})` : `bitNot(${a})`),
  },
  neg: { sig: '(NUMBER) → NUMBER', doc: 'unary minus', type: ([a]) => (num(a) ? a! : null), sql: ([a]) => `negate(${a})`, sem: keepSem },
}

const UPID_HIGH = (a: string) => `bitShiftRight(${a}, 64)`

/** `px.NAME(...)` scalar functions. */
export const scalarFns: Record<string, ScalarFn> = {
  bin: {
    sig: '(INT64 | TIME64NS, INT64) → same',
    doc: 'rounds down to a multiple of the bin size (time windows: px.bin(df.time_, px.seconds(10)))',
    type: ([a, b]) => ((a === 'INT64' || a === 'TIME64NS') && b === 'INT64' ? a : a === 'FLOAT64' && num(b) ? 'FLOAT64' : null),
    sql: ([a, b], [t]) => (t === 'FLOAT64' ? `(floor(${a} / ${b}) * ${b})` : `(intDivOrZero(${a}, ${b}) * ${b})`),
    sem: keepSem,
  },
  select: {
    sig: '(BOOLEAN, T, T) → T',
    doc: 'a if the condition holds, else b',
    type: ([c, a, b]) => (c === 'BOOLEAN' && a !== undefined && (a === b || (num(a) && num(b))) ? (a === b ? a : 'FLOAT64') : null),
    sql: ([c, a, b]) => `if(${c}, ${a}, ${b})`,
    sem: (s) => s[1] ?? 'ST_NONE',
  },
  contains: {
    sig: '(STRING, STRING) → BOOLEAN',
    doc: 'whether the string contains the substring',
    type: fixed(['STRING', 'STRING'], 'BOOLEAN'),
    sql: ([a, b]) => `(position(${a}, ${b}) > 0)`,
  },
  find: {
    sig: '(STRING, STRING) → INT64',
    doc: '0-based index of the substring, -1 when absent',
    type: fixed(['STRING', 'STRING'], 'INT64'),
    sql: ([a, b]) => `(toInt64(position(${a}, ${b})) - 1)`,
  },
  length: { sig: '(STRING) → INT64', doc: 'length in bytes', type: fixed(['STRING'], 'INT64'), sql: ([a]) => `toInt64(length(${a}))` },
  substring: {
    sig: '(STRING, INT64, INT64) → STRING',
    doc: 'substring from a 0-based position, of a length',
    type: fixed(['STRING', 'INT64', 'INT64'], 'STRING'),
    sql: ([s, p, n]) => `substring(${s}, ${p} + 1, ${n})`,
  },
  tolower: { sig: '(STRING) → STRING', doc: 'lower case', type: fixed(['STRING'], 'STRING'), sql: ([a]) => `lower(${a})` },
  toupper: { sig: '(STRING) → STRING', doc: 'upper case', type: fixed(['STRING'], 'STRING'), sql: ([a]) => `upper(${a})` },
  trim: {
    sig: '(STRING) → STRING',
    doc: 'without leading and trailing white space',
    type: fixed(['STRING'], 'STRING'),
    sql: ([a]) => `trimBoth(${a})`,
  },
  strip_prefix: {
    sig: '(STRING prefix, STRING) → STRING',
    doc: 'the string without the prefix, when it starts with it',
    type: fixed(['STRING', 'STRING'], 'STRING'),
    sql: ([p, s]) => `if(startsWith(${s}, ${p}), substring(${s}, length(${p}) + 1), ${s})`,
  },
  regex_match: {
    sig: '(STRING pattern, STRING) → BOOLEAN',
    doc: 'whether the whole string matches the RE2 pattern',
    type: fixed(['STRING', 'STRING'], 'BOOLEAN'),
    sql: ([p, s]) => `match(${s}, concat('^(?:', ${p}, ')$'))`,
  },
  replace: {
    sig: '(STRING pattern, STRING, STRING replacement) → STRING',
    doc: 'replaces every match of the RE2 pattern (\\1 refers to a group)',
    type: fixed(['STRING', 'STRING', 'STRING'], 'STRING'),
    sql: ([p, s, r]) => `replaceRegexpAll(${s}, ${p}, ${r})`,
  },
  pluck: {
    sig: '(STRING json, STRING key) → STRING',
    doc: "a JSON object's value at the key, as a string",
    type: fixed(['STRING', 'STRING'], 'STRING'),
    sql: ([j, k]) => `if(JSONType(${j}, ${k}) = 'String', JSONExtractString(${j}, ${k}), JSONExtractRaw(${j}, ${k}))`,
  },
  pluck_float64: {
    sig: '(STRING json, STRING key) → FLOAT64',
    doc: "a JSON object's number at the key (on px.quantiles: p01, p10, p50, p90 or p99)",
    type: ([a, b]) => ((a === 'STRING' || a === 'QUANTILES') && b === 'STRING' ? 'FLOAT64' : null),
    sql: ([j, k], [t]) => (t === 'QUANTILES' ? `${j}[indexOf(['p01', 'p10', 'p50', 'p90', 'p99'], ${k})]` : `JSONExtractFloat(${j}, ${k})`),
    sem: keepSem,
  },
  pluck_int64: {
    sig: '(STRING json, STRING key) → INT64',
    doc: "a JSON object's integer at the key",
    type: fixed(['STRING', 'STRING'], 'INT64'),
    sql: ([j, k]) => `JSONExtractInt(${j}, ${k})`,
  },
  atoi: {
    sig: '(STRING) → INT64',
    doc: 'the integer a string holds (0 when it holds none)',
    type: fixed(['STRING'], 'INT64'),
    sql: ([a]) => `toInt64OrZero(${a})`,
  },
  atof: {
    sig: '(STRING) → FLOAT64',
    doc: 'the number a string holds (0 when it holds none)',
    type: fixed(['STRING'], 'FLOAT64'),
    sql: ([a]) => `toFloat64OrZero(${a})`,
  },
  itoa: { sig: '(INT64) → STRING', doc: 'an integer as text', type: fixed(['INT64'], 'STRING'), sql: ([a]) => `toString(${a})` },
  ftoa: { sig: '(FLOAT64) → STRING', doc: 'a number as text', type: fixed(['FLOAT64'], 'STRING'), sql: ([a]) => `toString(${a})` },
  abs: mathFn('abs', 'absolute value'),
  sqrt: mathFn('sqrt', 'square root'),
  exp: mathFn('exp', 'e to the power'),
  log: mathFn('log', 'natural logarithm'),
  log2: mathFn('log2', 'base-2 logarithm'),
  log10: mathFn('log10', 'base-10 logarithm'),
  floor: mathFn('floor', 'rounded down, as an integer', 'INT64'),
  ceil: mathFn('ceil', 'rounded up, as an integer', 'INT64'),
  round: mathFn('round', 'rounded to the nearest integer', 'INT64'),
  pow: {
    sig: '(NUMBER, NUMBER) → FLOAT64',
    doc: 'power',
    type: ([a, b]) => (num(a) && num(b) ? 'FLOAT64' : null),
    sql: ([a, b]) => `pow(${a}, ${b})`,
  },
  time_to_int64: { sig: '(TIME64NS) → INT64', doc: 'nanoseconds since the epoch', type: fixed(['TIME64NS'], 'INT64'), sql: ([a]) => a! },
  int64_to_time: {
    sig: '(INT64) → TIME64NS',
    doc: 'a time from nanoseconds since the epoch',
    type: fixed(['INT64'], 'TIME64NS'),
    sql: ([a]) => a!,
  },
  DurationNanos: semantic('ST_DURATION_NS', 'marks nanoseconds as a duration (display only)'),
  Percent: semantic('ST_PERCENT', 'marks a ratio as a percentage (display only)'),
  Bytes: semantic('ST_BYTES', 'marks a count of bytes (display only)'),
  upid_to_pid: {
    sig: '(UINT128) → INT64',
    doc: 'the process id inside a upid',
    type: fixed(['UINT128'], 'INT64'),
    sql: ([a]) => `toInt64(bitAnd(${UPID_HIGH(a!)}, 4294967295))`,
  },
  upid_to_asid: {
    sig: '(UINT128) → INT64',
    doc: 'the agent id inside a upid',
    type: fixed(['UINT128'], 'INT64'),
    sql: ([a]) => `toInt64(bitShiftRight(${a}, 96))`,
  },
  upid_to_start_ts: {
    sig: '(UINT128) → INT64',
    doc: 'the process start time (clock ticks) inside a upid',
    type: fixed(['UINT128'], 'INT64'),
    sql: ([a]) => `toInt64(bitAnd(${a}, 9223372036854775807))`,
  },
  nslookup: {
    sig: '(STRING) → STRING',
    doc: 'Kiln resolves no names yet: returns the address as it is',
    type: fixed(['STRING'], 'STRING'),
    sql: ([a]) => a!,
  },
}

/**
 * `px.upid_to_*` helpers that read process metadata: Kiln stores it on every row, so these
 * resolve to the row's metadata column (see `ctx` in compile rules), keyed by ctx name.
 */
export const upidMetadataFns: Record<string, string> = {
  upid_to_namespace: 'namespace',
  upid_to_pod_name: 'pod',
  upid_to_service_name: 'service',
  upid_to_node_name: 'node',
  upid_to_hostname: 'node',
  upid_to_container_name: 'container',
  upid_to_container_id: 'container_id',
  upid_to_cmdline: 'cmdline',
}

export interface AggFn {
  sig: string
  doc: string
  type(arg: ColType): ColType | null
  sql(arg: string, type: ColType, q?: string): string
  keepSem: boolean
}

/** Pixie's quantile keys and levels, in the order `QUANTILES` stores them. */
export const QUANTILE_KEYS = ['p01', 'p10', 'p50', 'p90', 'p99'] as const

/** Aggregates: `('col', px.NAME)` in `.agg()`, or `x.NAME()` in a pandas lambda. */
export const aggFns: Record<string, AggFn> = {
  count: { sig: '(T) → INT64', doc: 'rows in the group', type: () => 'INT64', sql: () => 'toInt64(count())', keepSem: false },
  sum: {
    sig: '(NUMBER) → NUMBER',
    doc: 'sum (of BOOLEAN: how many are true)',
    type: (t) => (t === 'FLOAT64' ? 'FLOAT64' : t === 'INT64' || t === 'BOOLEAN' ? 'INT64' : null),
    sql: (a, t) => (t === 'FLOAT64' ? `sum(${a})` : `toInt64(sum(${a}))`),
    keepSem: true,
  },
  mean: {
    sig: '(NUMBER) → FLOAT64',
    doc: 'mean (of BOOLEAN: the fraction that is true)',
    type: (t) => (numOrBool(t) ? 'FLOAT64' : null),
    sql: (a) => `avg(${a})`,
    keepSem: true,
  },
  min: { sig: '(T) → T', doc: 'smallest value', type: (t) => (t === 'QUANTILES' ? null : t), sql: (a) => `min(${a})`, keepSem: true },
  max: { sig: '(T) → T', doc: 'largest value', type: (t) => (t === 'QUANTILES' ? null : t), sql: (a) => `max(${a})`, keepSem: true },
  any: { sig: '(T) → T', doc: 'any one value of the group', type: (t) => t, sql: (a) => `any(${a})`, keepSem: true },
  quantiles: {
    sig: '(NUMBER) → quantiles',
    doc: "p01, p10, p50, p90, p99 (t-digest) as Pixie's JSON; px.pluck_float64(q, 'p99') reads one. px.quantiles(0.99) is one quantile as FLOAT64",
    type: (t) => (num(t) ? 'QUANTILES' : null),
    sql: (a, _t, q) => (q === undefined ? `quantilesTDigest(0.01, 0.1, 0.5, 0.9, 0.99)(${a})` : `quantileTDigest(${q})(${a})`),
    keepSem: true,
  },
}
