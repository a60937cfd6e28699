/**
 * What every read asks first: which tenant, profile type, label matchers and time range (one
 * Selection builder for the Connect, render and JSON handlers), at what step, with how many nodes.
 */
import { KilnError } from '../model/errors.ts'
import { parseSelector, type Matcher } from '../model/selector.ts'
import { parseProfileTypeId } from '../model/profile.ts'
import { parseTime } from '../model/time.ts'
import type { Selection } from '../store/index.ts'

export const DEFAULT_MAX_NODES = 8192
export const MAX_NODES_LIMIT = 1_048_576
/** More points than this per series is a mistake (a 1 s step over a month), not a chart. */
export const MAX_POINTS = 100_000

/** A time as it arrives: text (`now-1h`, unix time, ISO) or ms since the epoch (Connect; 0: unset). */
export type TimeInput = string | number | null | undefined

export interface SelectionInput {
  tenant: string
  /** A profile type id given on its own (`type=`, `profile_typeID`). */
  profileType?: string | null
  /** Selectors; several are ANDed (Pyroscope's `matchers`: clients send one). A selector may name the type before `{`. */
  selectors?: (string | null | undefined)[]
  from?: TimeInput
  until?: TimeInput
  /** Default start when `from` is unset (default: an hour before `until`). */
  defaultFrom?: string
  /** When set, a selection without a profile type is refused with this hint. */
  requireType?: string
}

function timeOf(t: TimeInput, now: number): number | undefined {
  if (t === null || t === undefined || t === '' || t === 0) return undefined
  if (typeof t === 'number') {
    if (!Number.isFinite(t)) throw new KilnError('KILN_BAD_TIME', `time ${t} is not a number of ms since the epoch`)
    return t
  }
  return parseTime(t, now)
}

/** A time range in ms, [from, until): unset until is now, unset from an hour (or `defaultFrom`) before. */
export function timeRange(
  from: TimeInput,
  until: TimeInput,
  opts: { defaultFrom?: string; now?: number } = {},
): { from: number; until: number } {
  const now = opts.now ?? Date.now()
  const u = timeOf(until, now) ?? now
  const f = timeOf(from, now) ?? (opts.defaultFrom ? parseTime(opts.defaultFrom, now) : u - 3_600_000)
  if (!(f < u)) throw new KilnError('KILN_BAD_TIME', `time range is empty: from (${iso(f)}) must be before until (${iso(u)})`)
  const range = { from: clampTime(f), until: clampTime(u) }
  if (!(range.from < range.until))
    throw new KilnError('KILN_BAD_TIME', `time range ${iso(f)} to ${iso(u)} holds no time the store can hold (1970 to 2299)`)
  return range
}

// Times are cut to what DateTime64(3) holds (1970 to 2299): `now-100000y` reads as the beginning.
const EARLIEST_MS = 0
const LATEST_MS = Date.UTC(2299, 0, 1)
const clampTime = (ms: number) => Math.min(LATEST_MS, Math.max(EARLIEST_MS, ms))

const iso = (ms: number) => (Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : String(ms))

/** Builds the one Selection every read takes; every refusal is a 400 naming what is wrong. */
export function selection(input: SelectionInput): Selection {
  let type = input.profileType || undefined
  const matchers: Matcher[] = []
  for (const text of input.selectors ?? []) {
    const sel = parseSelector(text || '{}')
    if (sel.prefix) {
      if (type && type !== sel.prefix) {
        throw new KilnError(
          'KILN_SELECTOR_SYNTAX',
          `query ${JSON.stringify(sel.prefix.slice(0, 100))} has text before '{' that is not the profile type ${type}: write the selector as {label="value", …}`,
        )
      }
      type = sel.prefix
    }
    matchers.push(...sel.matchers)
  }
  if (type) parseProfileTypeId(type)
  else if (input.requireType) throw new KilnError('KILN_BAD_REQUEST', input.requireType)
  const { from, until } = timeRange(input.from, input.until, { defaultFrom: input.defaultFrom })
  return { tenant: input.tenant, profileType: type, matchers, from, until }
}

/**
 * Timeline step in seconds: the one asked for, else the range over `points` (at least `minS`).
 * A step must be a finite number; one longer than the range gives one point, so it is cut there.
 */
export function stepOf(sel: Selection, requested: unknown, rule: { minS: number; points: number }): number {
  const rangeS = (sel.until - sel.from) / 1000
  let step = 0
  if (requested !== undefined && requested !== null && requested !== '') {
    step = Number(requested)
    if (!Number.isFinite(step))
      throw new KilnError('KILN_BAD_REQUEST', `step ${JSON.stringify(String(requested).slice(0, 40))} is not a number of seconds`)
  }
  if (!(step > 0)) step = Math.max(rule.minS, Math.round(rangeS / rule.points))
  step = Math.min(step, Math.max(1, Math.ceil(rangeS)))
  if (rangeS / step > MAX_POINTS)
    throw new KilnError(
      'KILN_LIMIT',
      `step ${step}s gives more than ${MAX_POINTS.toLocaleString('en-US')} points for this range; use a larger step`,
    )
  return step
}

/** The node limit of a flame graph: default 8,192, at most 1,048,576. */
export function maxNodesOf(v: unknown): number {
  const n = Number(v ?? 0)
  if (!n) return DEFAULT_MAX_NODES
  if (n < 0) throw new KilnError('KILN_BAD_REQUEST', 'max_nodes must be positive')
  return Math.floor(Math.min(n, MAX_NODES_LIMIT))
}
