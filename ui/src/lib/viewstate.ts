import { parseTime } from '../../../src/model/time.ts'

/** Which main view is shown. */
export type ViewName = 'flame' | 'table' | 'both' | 'sandwich' | 'diff' | 'labels'
export const viewNames: readonly ViewName[] = ['both', 'flame', 'table', 'sandwich', 'diff', 'labels']

/**
 * Everything a view shows, so that the URL can hold it all: a copied link reproduces the view
 * and back/forward step through views. Times stay as typed (`now-1h` or unix ms) so that a
 * relative link stays relative.
 */
export interface ViewState {
  service: string
  type: string
  /** Extra matchers besides the service, e.g. `{env="prod"}`. */
  query: string
  from: string
  until: string
  view: ViewName
  orientation: 'flame' | 'icicle'
  search: string
  /** Zoomed frame, as its stack of names joined by `;` ("" = not zoomed). */
  zoom: string
  /** Function shown in the sandwich view. */
  fn: string
  groupBy: string
  /** Label explored in the label view. */
  label: string
  /** Diff: baseline (left) and comparison (right) selectors and ranges; "" = same as main. */
  lquery: string
  lfrom: string
  luntil: string
  rquery: string
  rfrom: string
  runtil: string
  /** Flame graph node budget sent to the API ("" = the server's default, 8192). */
  maxNodes: string
  /** Auto-refresh interval (`30s`, `1m`…; "" = off): relative ranges move with the clock. */
  refresh: string
  /** "runs": the load-test runs page instead of the profiles ("" = profiles). */
  page: string
  /** Runs page: the run shown, or two runs compared (`a,b`). */
  run: string
  compare: string
}

export const defaultState: ViewState = {
  service: '',
  type: '',
  query: '{}',
  from: 'now-1h',
  until: 'now',
  view: 'both',
  orientation: 'icicle',
  search: '',
  zoom: '',
  fn: '',
  groupBy: '',
  label: '',
  lquery: '',
  lfrom: '',
  luntil: '',
  rquery: '',
  rfrom: '',
  runtil: '',
  maxNodes: '',
  refresh: '',
  page: '',
  run: '',
  compare: '',
}

const keys = Object.keys(defaultState) as (keyof ViewState)[]

/** The URL query string for a state; defaults are left out, so links stay short. */
export function stateToSearch(s: ViewState): string {
  const p = new URLSearchParams()
  for (const k of keys) if (s[k] !== defaultState[k]) p.set(k, s[k])
  const q = p.toString()
  return q ? `?${q}` : ''
}

/** Reads a state from a URL query string; unknown keys and invalid enum values are ignored. */
export function searchToState(search: string): ViewState {
  const p = new URLSearchParams(search)
  const s: ViewState = { ...defaultState }
  for (const k of keys) {
    const v = p.get(k)
    if (v !== null) (s as unknown as Record<string, string>)[k] = v
  }
  if (!viewNames.includes(s.view)) s.view = defaultState.view
  if (s.orientation !== 'flame' && s.orientation !== 'icicle') s.orientation = defaultState.orientation
  return s
}

/** The selector sent to the API: the service matcher joined with the user's extra matchers. */
export function effectiveQuery(service: string, query: string): string {
  return service ? withMatcher(query, 'service_name', service, true) : join([inner(query)])
}

const inner = (q: string) => q.trim().replace(/^\{/, '').replace(/\}$/, '').trim()
const join = (parts: string[]) => `{${parts.filter(Boolean).join(', ')}}`

/** The selector with `name="value"` added (at the end, or at the front with `first`). */
export function withMatcher(query: string, name: string, value: string, first = false): string {
  const m = `${name}=${JSON.stringify(value)}`
  return join(first ? [m, inner(query)] : [inner(query), m])
}

/** Label names worth exploring or grouping by: not internal (`__name__`), not the chosen service. */
export function userLabels(names: readonly string[], service: string): string[] {
  return names.filter((n) => !n.startsWith('__') && !(service && n === 'service_name'))
}

/**
 * The two sides of a diff: the URL's, else the main selector, the selected range as the
 * comparison and the same length just before it as the baseline (unix ms) — "what changed
 * against before", as Pyroscope's comparison view defaults to.
 */
export function diffSides(s: ViewState, range: { from: number; until: number }) {
  const len = range.until - range.from
  return {
    lq: s.lquery || s.query,
    rq: s.rquery || s.query,
    lfrom: s.lfrom || String(range.from - len),
    luntil: s.luntil || String(range.from),
    rfrom: s.rfrom || String(range.from),
    runtil: s.runtil || String(range.until),
  }
}

/**
 * A time as sent to the API: a relative one (`now-1h`) resolved against `now` (unix ms), so that
 * responses are cached by what they cover and a refresh (a new `now`) asks again; others as typed.
 */
export function resolveTime(t: string, now: number): string {
  if (!/now/.test(t)) return t
  try {
    return String(parseTime(t, now))
  } catch {
    return t // the server reports the error
  }
}
