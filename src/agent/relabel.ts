/**
 * Relabelling rules in the manner of Prometheus `relabel_configs`: each rule joins its
 * `source_labels` with `separator`, matches the fully anchored `regex`, and keeps, drops or
 * rewrites the label set. Rules run in order; a dropped target stops the chain.
 */
import { parse as parseYaml } from 'yaml'
import { KilnError } from '../model/errors.ts'
import { isValidLabelName } from '../model/labels.ts'

export type RelabelAction = 'replace' | 'keep' | 'drop' | 'labeldrop' | 'labelkeep' | 'labelmap'
const ACTIONS: readonly RelabelAction[] = ['replace', 'keep', 'drop', 'labeldrop', 'labelkeep', 'labelmap']

export interface RelabelRule {
  action: RelabelAction
  sourceLabels: string[]
  separator: string
  regex: RegExp
  targetLabel?: string
  replacement: string
}

/** Go's `$1`, `${1}`, `${name}` in a replacement → JS's `$1`, `$<name>`; `$$` stays a literal `$`. */
function jsReplacement(r: string): string {
  return r.replace(/\$(\$|\{(\w+)\}|(\w+))/g, (_all, _x: string, braced?: string, bare?: string) => {
    const name = braced ?? bare
    if (name === undefined) return '$$'
    return /^\d+$/.test(name) ? `$${name}` : `$<${name}>`
  })
}

/** Checks and normalises one rule as written in YAML (snake_case keys, Prometheus defaults). */
export function compileRule(raw: unknown, where: string): RelabelRule {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new KilnError('KILN_USAGE', `${where}: expected a mapping with action, source_labels, regex, …`)
  const r = raw as Record<string, unknown>
  for (const k of Object.keys(r)) {
    if (!['action', 'source_labels', 'separator', 'regex', 'target_label', 'replacement'].includes(k)) {
      throw new KilnError(
        'KILN_USAGE',
        `${where}: unknown key ${JSON.stringify(k)}; use action, source_labels, separator, regex, target_label, replacement`,
      )
    }
  }
  const action = (r.action ?? 'replace') as RelabelAction
  if (!ACTIONS.includes(action))
    throw new KilnError('KILN_USAGE', `${where}: unknown action ${JSON.stringify(r.action)}; use one of ${ACTIONS.join(', ')}`)
  const src = r.source_labels ?? []
  if (!Array.isArray(src) || !src.every((s) => typeof s === 'string'))
    throw new KilnError('KILN_USAGE', `${where}: source_labels must be a list of label names, e.g. [comm]`)
  const text = (k: string, def: string): string => {
    const v = r[k] ?? def
    if (typeof v !== 'string' && typeof v !== 'number') throw new KilnError('KILN_USAGE', `${where}: ${k} must be a string`)
    return String(v)
  }
  let regex: RegExp
  const pattern = text('regex', '(.*)')
  try {
    regex = new RegExp(`^(?:${pattern})$`, 's')
  } catch (e) {
    throw new KilnError('KILN_USAGE', `${where}: regex ${JSON.stringify(pattern)} does not compile: ${(e as Error).message}`)
  }
  const rule: RelabelRule = {
    action,
    sourceLabels: src as string[],
    separator: text('separator', ';'),
    regex,
    replacement: text('replacement', '$1'),
  }
  if ((action === 'keep' || action === 'drop') && rule.sourceLabels.length === 0)
    throw new KilnError('KILN_USAGE', `${where}: action ${action} needs source_labels`)
  if (action === 'replace') {
    if (r.target_label === undefined) throw new KilnError('KILN_USAGE', `${where}: action replace needs target_label`)
    rule.targetLabel = text('target_label', '')
  }
  return rule
}

/** Parses a relabel file: a YAML list of rules, or a mapping with `relabel_configs:` (Parca's config.yaml). */
export function parseRelabelConfig(text: string, file = 'relabel config'): RelabelRule[] {
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (e) {
    throw new KilnError('KILN_USAGE', `${file}: not valid YAML: ${(e as Error).message.split('\n')[0]}`)
  }
  if (doc === null || doc === undefined) return []
  const list = Array.isArray(doc) ? doc : typeof doc === 'object' ? (doc as Record<string, unknown>).relabel_configs : undefined
  if (!Array.isArray(list)) throw new KilnError('KILN_USAGE', `${file}: expected a list of rules, or relabel_configs: followed by a list`)
  return list.map((r, i) => compileRule(r, `${file}: rule ${i + 1}`))
}

/** Applies the rules to a label set; returns the new set, or null when a rule drops the target. */
export function relabel(labels: ReadonlyMap<string, string>, rules: readonly RelabelRule[]): Map<string, string> | null {
  const out = new Map(labels)
  for (const rule of rules) {
    const value = rule.sourceLabels.map((n) => out.get(n) ?? '').join(rule.separator)
    switch (rule.action) {
      case 'keep':
        if (!rule.regex.test(value)) return null
        break
      case 'drop':
        if (rule.regex.test(value)) return null
        break
      case 'replace': {
        const m = rule.regex.exec(value)
        if (!m) break
        const target = m[0].replace(rule.regex, jsReplacement(rule.targetLabel!))
        const result = m[0].replace(rule.regex, jsReplacement(rule.replacement))
        if (!isValidLabelName(target)) break
        if (result === '') out.delete(target)
        else out.set(target, result)
        break
      }
      case 'labeldrop':
        for (const name of [...out.keys()]) if (rule.regex.test(name)) out.delete(name)
        break
      case 'labelkeep':
        for (const name of [...out.keys()]) if (!rule.regex.test(name)) out.delete(name)
        break
      case 'labelmap':
        for (const [name, v] of [...out]) {
          if (!rule.regex.test(name)) continue
          const to = name.replace(rule.regex, jsReplacement(rule.replacement))
          if (isValidLabelName(to)) out.set(to, v)
        }
        break
    }
  }
  return out
}
