/**
 * Pyroscope's private labels in label queries. Pyroscope writes `__profile_type__`, `__type__`,
 * `__unit__`, `__period_type__` and `__period_unit__` on every series; Kiln keeps the profile type
 * once per series (a column) and `__name__` as a label, so the others are derived from the type:
 * matchers on them pick profile types, and label lists show them as Pyroscope lists them.
 */
import { parseProfileTypeId } from '../../model/profile.ts'
import { matchesLabels, type Matcher } from '../../model/selector.ts'
import { selection } from '../../query/index.ts'
import type { Reader, Selection } from '../../store/index.ts'

export const TYPE_LABELS = ['__period_type__', '__period_unit__', '__profile_type__', '__type__', '__unit__'] as const

/** The labels a profile type stands for. */
export function typeLabels(id: string): Record<string, string> {
  const t = parseProfileTypeId(id)
  return {
    __period_type__: t.periodType,
    __period_unit__: t.periodUnit,
    __profile_type__: id,
    __type__: t.sampleType,
    __unit__: t.sampleUnit,
  }
}

export const isTypeLabel = (name: string): boolean => (TYPE_LABELS as readonly string[]).includes(name)

export interface MatcherQuery {
  tenant: string
  /** Selectors, ORed as in Pyroscope; none means every series. */
  matchers: string[]
  /** ms since the epoch; 0 is unset. */
  start: number
  end: number
}

/**
 * The store selections the request's matchers stand for: one per selector, and per profile type
 * where a selector has matchers on the type's labels. Grafana's label autocompletion sends
 * `{__profile_type__="…", service_name="api"}`: one exact type needs no look-up.
 */
export async function matcherSelections(reader: Reader, q: MatcherQuery): Promise<Selection[]> {
  const out: Selection[] = []
  for (const text of q.matchers.length ? q.matchers : ['{}']) {
    const sel = selection({ tenant: q.tenant, selectors: [text], from: q.start, until: q.end })
    const onType = sel.matchers.filter((m) => isTypeLabel(m.name))
    if (!onType.length) {
      out.push(sel)
      continue
    }
    const plain: Selection = { ...sel, matchers: sel.matchers.filter((m) => !isTypeLabel(m.name)) }
    const exact = onType.find((m) => m.name === '__profile_type__' && m.op === '=')?.value
    const candidates = sel.profileType ? [sel.profileType] : exact ? [exact] : await reader.profileTypes(plain)
    const test = matchesLabels(onType)
    for (const t of candidates) if (isTypeId(t) && test(Object.entries(typeLabels(t)))) out.push({ ...plain, profileType: t })
  }
  return out
}

/**
 * A typed query's selection with matchers on the type's labels settled against its type: kept
 * out when they hold, and when they do not, one that matches no series (the store has no
 * `__profile_type__` label, so any non-empty value of it selects nothing).
 */
export function settleTypeMatchers(sel: Selection): Selection {
  const onType = sel.matchers.filter((m) => isTypeLabel(m.name))
  if (!onType.length || !sel.profileType) return sel
  const plain = sel.matchers.filter((m) => !isTypeLabel(m.name))
  const holds = matchesLabels(onType)(Object.entries(typeLabels(sel.profileType)))
  const nothing: Matcher = { name: '__profile_type__', op: '=', value: sel.profileType }
  return { ...sel, matchers: holds ? plain : [...plain, nothing] }
}

function isTypeId(id: string): boolean {
  try {
    parseProfileTypeId(id)
    return true
  } catch {
    return false
  }
}
