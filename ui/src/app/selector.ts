import { completionAt, applyCompletion, rankSuggestions, type Completion } from '../lib/complete.ts'
import { parseSelector } from '../../../src/model/selector.ts'
import { h } from './dom.ts'

/** Where suggestions come from (the API's label names and values for the current view). */
export interface Suggest {
  names: () => Promise<string[]>
  values: (name: string) => Promise<string[]>
}

/**
 * The label selector editor: a text field that suggests label names after `{` or `,` and
 * values inside quotes; Enter or blur applies it when it parses, else shows the parse error.
 */
export function selectorEditor(opts: {
  value: string
  suggest: Suggest
  onApply: (q: string) => void /** Called on each edit (errors about the old text go). */
  onEdit?: () => void
  testid?: string
  placeholder?: string
}): HTMLElement {
  const input = h('input', {
    class: 'selector',
    value: opts.value,
    spellcheck: 'false',
    autocomplete: 'off',
    placeholder: opts.placeholder ?? '{env="prod"}',
    'data-testid': opts.testid ?? 'selector',
  })
  const list = h('ul', { class: 'suggest', hidden: true, role: 'listbox' })
  const err = h('div', { class: 'field-error', hidden: true })
  let items: string[] = []
  let active = 0
  let ctx: Completion | null = null
  let seq = 0

  const close = () => {
    list.hidden = true
    items = []
  }
  const accept = (s: string) => {
    if (!ctx) return
    const r = applyCompletion(input.value, ctx, s)
    input.value = r.text
    input.setSelectionRange(r.caret, r.caret)
    input.focus()
    void refresh()
  }
  const show = () => {
    list.replaceChildren(
      ...items.map((s, k) =>
        h('li', { class: k === active ? 'active' : null, onmousedown: (e: Event) => (e.preventDefault(), accept(s)) }, s),
      ),
    )
    list.hidden = items.length === 0
  }
  const refresh = async () => {
    const my = ++seq
    ctx = completionAt(input.value, input.selectionStart ?? input.value.length)
    if (!ctx) return close()
    let all: string[] = []
    try {
      all = ctx.kind === 'name' ? await opts.suggest.names() : await opts.suggest.values(ctx.name)
    } catch {
      all = []
    }
    if (my !== seq || !ctx) return
    items = rankSuggestions(all, ctx.prefix)
    active = 0
    show()
  }
  const apply = () => {
    const q = input.value.trim() || '{}'
    try {
      parseSelector(q)
      err.hidden = true
      input.classList.remove('invalid')
      opts.onApply(q)
    } catch (e) {
      err.textContent = (e as Error).message
      err.hidden = false
      input.classList.add('invalid')
    }
  }
  input.addEventListener('input', () => {
    // An error about the text before this edit no longer applies to it.
    if (!err.hidden) (err.hidden = true), input.classList.remove('invalid')
    opts.onEdit?.()
    void refresh()
  })
  input.addEventListener('focus', () => void refresh())
  input.addEventListener('click', () => void refresh())
  input.addEventListener('blur', () => {
    setTimeout(close, 100)
    if (input.value.trim() !== opts.value) apply()
  })
  input.addEventListener('keydown', (e) => {
    if (!list.hidden && items.length) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        active = (active + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length
        show()
        e.preventDefault()
        return
      }
      if (e.key === 'Tab' || (e.key === 'Enter' && ctx)) {
        e.preventDefault()
        accept(items[active]!)
        return
      }
      if (e.key === 'Escape') return close()
    }
    if (e.key === 'Enter') {
      close()
      apply()
    }
  })
  return h('div', { class: 'selector-wrap' }, input, list, err)
}
