import { KilnError } from './errors.ts'
import { hash64 } from './hash.ts'

/** A label set: pairs sorted by name, names unique. */
export type Labels = ReadonlyArray<readonly [string, string]>

// Prometheus label names, plus dots: OpenTelemetry-style names (otel.scope.name) arrive from the
// Pyroscope Node SDK and must be kept as sent.
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.]*$/

export interface LabelLimits {
  maxLabels: number
  maxNameLength: number
  maxValueLength: number
}
export const defaultLabelLimits: LabelLimits = { maxLabels: 40, maxNameLength: 1024, maxValueLength: 2048 }

export function isValidLabelName(name: string): boolean {
  return NAME_RE.test(name)
}

/** Sorts and validates pairs into a label set; later duplicates win. */
export function makeLabels(pairs: Iterable<readonly [string, string]>, limits: LabelLimits = defaultLabelLimits): Labels {
  const map = new Map<string, string>()
  for (const [n, v] of pairs) {
    if (!isValidLabelName(n)) {
      throw new KilnError(
        'KILN_BAD_LABELS',
        `invalid label name ${JSON.stringify(n.slice(0, 80))}: use letters, digits, '_' and '.', not starting with a digit`,
      )
    }
    if (n.length > limits.maxNameLength) throw new KilnError('KILN_BAD_LABELS', `label name longer than ${limits.maxNameLength} characters`)
    if (v.length > limits.maxValueLength)
      throw new KilnError('KILN_BAD_LABELS', `value of label ${n} is longer than ${limits.maxValueLength} characters`)
    map.set(n, v)
    if (map.size > limits.maxLabels) {
      throw new KilnError('KILN_BAD_LABELS', `more than ${limits.maxLabels} labels in one series; drop some labels or raise --max-labels`)
    }
  }
  return [...map.entries()].filter(([, v]) => v !== '').sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
}

export function getLabel(labels: Labels, name: string): string | undefined {
  for (const [n, v] of labels) if (n === name) return v
  return undefined
}

export function withLabels(labels: Labels, extra: Iterable<readonly [string, string]>, limits?: LabelLimits): Labels {
  return makeLabels([...labels, ...extra], limits)
}

/** `{a="1", b="2"}` — the Prometheus text form. */
export function formatLabels(labels: Labels): string {
  return `{${labels.map(([n, v]) => `${n}=${JSON.stringify(v)}`).join(', ')}}`
}

/** A stable 64-bit id for a label set. */
export function labelsHash(labels: Labels): string {
  return hash64(labelsKey(labels))
}

/** The text labelsHash hashes: `head` (the text of pairs put before the set), then each pair's. */
export function labelsKey(labels: Labels, head = ''): string {
  let s = head
  for (const [n, v] of labels) s += n + '\u0000' + v + '\u0001'
  return s
}

/**
 * Parses Pyroscope's ingest `name` parameter: `app.cpu{k=v,k2=v2}`. The text before `{` is the
 * application name (with its profile-type suffix); pairs are split on `,` and `=`, whitespace
 * trimmed. Quotes around values are removed (Pyroscope keeps them; nobody means them).
 */
export function parseAppName(name: string, limits: LabelLimits = defaultLabelLimits): { app: string; labels: Labels } {
  const open = name.indexOf('{')
  const app = (open < 0 ? name : name.slice(0, open)).trim()
  if (!app)
    throw new KilnError(
      'KILN_BAD_LABELS',
      `name ${JSON.stringify(name.slice(0, 100))} has no application name before '{': send name=myapp.cpu{env=prod}`,
    )
  if (open < 0) return { app, labels: [] }
  const close = name.lastIndexOf('}')
  if (close < open) throw new KilnError('KILN_BAD_LABELS', `name ${JSON.stringify(name.slice(0, 100))} has '{' without a closing '}'`)
  const body = name.slice(open + 1, close).trim()
  const pairs: [string, string][] = []
  if (body) {
    for (const part of body.split(',')) {
      const eq = part.indexOf('=')
      if (eq < 0) {
        if (part.trim() === '') continue
        throw new KilnError('KILN_BAD_LABELS', `label ${JSON.stringify(part.trim().slice(0, 80))} in name has no '=': write key=value`)
      }
      const k = part.slice(0, eq).trim()
      let v = part.slice(eq + 1).trim()
      if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v[v.length - 1] === v[0]) v = v.slice(1, -1)
      if (k === '__name__') throw new KilnError('KILN_BAD_LABELS', 'label __name__ is reserved')
      pairs.push([k, v])
    }
  }
  return { app, labels: makeLabels(pairs, limits) }
}
