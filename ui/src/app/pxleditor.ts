import { tokenize, offsetOf, lineColumn } from '../lib/pxl-tokens.ts'
import { pxlCompletions, applyPxlCompletion, type PxlCompletion, type PxlSchema } from '../lib/pxl-complete.ts'
import { h } from './dom.ts'

export interface PxlEditorOptions {
  value: string
  /** Tables, columns and functions, for completion. */
  schema: () => Promise<PxlSchema>
  onChange: (text: string) => void
  /** Ctrl/Cmd+Enter. */
  onRun: () => void
}

// Must match .pxl-code's line-height and padding in style.css.
const LINE = 18
const PAD = 8

/**
 * The PxL editor: a textarea over a highlighted <pre> with the same text, font and size (both in
 * one grid cell, sized by the text, so nothing scrolls apart); a line-number gutter; completion
 * of tables, columns and px functions (Tab/Enter accept, Ctrl+Space asks); Tab indents; Enter
 * keeps the indentation; an error's line and column are marked.
 */
export class PxlEditor {
  readonly el: HTMLElement
  private readonly input: HTMLTextAreaElement
  private readonly code: HTMLElement
  private readonly gutter: HTMLElement
  private readonly scroller: HTMLElement
  private readonly errLine: HTMLElement
  private readonly list: HTMLUListElement
  private schema: PxlSchema = { tables: [], functions: [], ctxKeys: [] }
  private completion: PxlCompletion | null = null
  private active = 0
  private error: { line: number; column: number } | null = null
  private charWidth = 7.2

  constructor(private readonly opts: PxlEditorOptions) {
    this.input = h('textarea', {
      class: 'pxl-input',
      spellcheck: 'false',
      autocomplete: 'off',
      autocapitalize: 'off',
      wrap: 'off',
      'data-testid': 'pxl-editor',
      'aria-label': 'PxL script',
    })
    this.input.value = opts.value
    this.code = h('code')
    this.gutter = h('div', { class: 'pxl-gutter', 'aria-hidden': 'true' })
    this.errLine = h('div', { class: 'pxl-errline', hidden: true })
    this.list = h('ul', { class: 'suggest pxl-suggest', hidden: true, role: 'listbox', 'data-testid': 'pxl-suggest' })
    const stack = h(
      'div',
      { class: 'pxl-stack' },
      this.errLine,
      h('pre', { class: 'pxl-highlight', 'aria-hidden': 'true' }, this.code),
      this.input,
    )
    this.scroller = h('div', { class: 'pxl-scroll' }, this.gutter, stack)
    this.el = h('div', { class: 'pxl-editor' }, this.scroller, this.list)
    this.input.addEventListener('input', () => {
      this.error = null
      this.render()
      this.opts.onChange(this.input.value)
      void this.suggest(false)
    })
    this.input.addEventListener('keydown', (e) => this.key(e))
    this.input.addEventListener('blur', () => setTimeout(() => this.close(), 150))
    this.input.addEventListener('click', () => this.close())
    this.scroller.addEventListener('scroll', () => this.close())
    void opts
      .schema()
      .then((x) => (this.schema = x))
      .catch(() => undefined)
    this.render()
  }

  get value(): string {
    return this.input.value
  }

  /** Replaces the text (a script picked, a link followed); the caret goes to the start. */
  set value(text: string) {
    if (text === this.input.value) return
    this.input.value = text
    this.error = null
    this.close()
    this.render()
  }

  /** Marks an error's place (1-based line and column); null clears it. */
  markError(at: { line: number; column: number } | null): void {
    this.error = at
    this.render()
    if (at) {
      // Bring the line into view.
      const top = (at.line - 1) * LINE
      if (top < this.scroller.scrollTop || top > this.scroller.scrollTop + this.scroller.clientHeight - LINE * 2)
        this.scroller.scrollTop = Math.max(0, top - LINE * 2)
    }
  }

  focus(): void {
    this.input.focus()
  }

  private render(): void {
    const text = this.input.value
    const errAt = this.error ? offsetOf(text, this.error.line, this.error.column) : -1
    const spans: Node[] = []
    for (const t of tokenize(text)) {
      const squiggle = errAt >= 0 && ((t.start <= errAt && errAt < t.end) || (t.start === errAt && t.end === errAt)) && t.kind !== 'space'
      spans.push(
        t.kind === 'space' && !squiggle
          ? document.createTextNode(t.text)
          : h('span', { class: `tok-${t.kind}${squiggle ? ' squiggle' : ''}` }, t.text),
      )
    }
    // A last line that is empty still takes its height.
    spans.push(document.createTextNode('\n'))
    this.code.replaceChildren(...spans)
    const lines = text.split('\n').length
    this.gutter.replaceChildren(
      ...Array.from({ length: lines }, (_, k) => h('div', { class: this.error?.line === k + 1 ? 'err' : null }, String(k + 1))),
    )
    this.errLine.hidden = !this.error
    if (this.error) this.errLine.style.top = `${PAD + (this.error.line - 1) * LINE}px`
  }

  private key(e: KeyboardEvent): void {
    if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') {
      e.preventDefault()
      this.close()
      this.opts.onRun()
      return
    }
    if (e.ctrlKey && e.key === ' ') {
      e.preventDefault()
      void this.suggest(true)
      return
    }
    const c = this.completion
    if (c && !this.list.hidden) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault()
        this.active = (this.active + (e.key === 'ArrowDown' ? 1 : c.items.length - 1)) % c.items.length
        this.show()
        return
      }
      if (e.key === 'Tab' || e.key === 'Enter') {
        e.preventDefault()
        this.accept(c.items[this.active]!.label)
        return
      }
      if (e.key === 'Escape') {
        e.preventDefault()
        this.close()
        return
      }
    }
    if (e.key === 'Tab' && !e.shiftKey) {
      e.preventDefault()
      this.insert('    ')
    } else if (e.key === 'Tab') {
      // Shift+Tab: one level less on the caret's line.
      e.preventDefault()
      const v = this.input.value
      const caret = this.input.selectionStart
      const start = v.lastIndexOf('\n', caret - 1) + 1
      const n = /^ {1,4}/.exec(v.slice(start))?.[0].length ?? 0
      if (n) {
        this.insert('', start, start + n)
        this.input.setSelectionRange(Math.max(start, caret - n), Math.max(start, caret - n))
      }
    } else if (e.key === 'Enter' && !e.shiftKey) {
      // Keep the indentation; one level more after a colon.
      const before = this.input.value.slice(0, this.input.selectionStart)
      const line = before.slice(before.lastIndexOf('\n') + 1)
      const indent = /^\s*/.exec(line)![0] + (/:\s*$/.test(line) ? '    ' : '')
      e.preventDefault()
      this.insert(`\n${indent}`)
    }
  }

  /** Inserts at the caret as typing would (the browser's undo keeps it). */
  private insert(text: string, from = this.input.selectionStart, to = this.input.selectionEnd): void {
    this.input.focus()
    this.input.setSelectionRange(from, to)
    if (!document.execCommand('insertText', false, text)) {
      this.input.setRangeText(text, from, to, 'end')
      this.input.dispatchEvent(new Event('input'))
    }
  }

  private accept(label: string): void {
    const c = this.completion
    if (!c) return
    const r = applyPxlCompletion(this.input.value, c, label)
    this.close()
    this.insert(label, c.start, c.end)
    this.input.setSelectionRange(r.caret, r.caret)
  }

  /** Offers completions at the caret: after typing a name, `.`, a quote or `[`, or when asked. */
  private async suggest(asked: boolean): Promise<void> {
    const caret = this.input.selectionStart
    if (caret !== this.input.selectionEnd) return this.close()
    const typed = this.input.value[caret - 1] ?? ''
    if (!asked && !/[\w.'"[]/.test(typed)) return this.close()
    this.completion = pxlCompletions(this.input.value, caret, this.schema)
    this.active = 0
    this.show()
  }

  private show(): void {
    const c = this.completion
    if (!c) return this.close()
    this.list.replaceChildren(
      ...c.items.map((s, k) =>
        h(
          'li',
          {
            class: k === this.active ? 'active' : null,
            'data-label': s.label,
            onmousedown: (e: Event) => (e.preventDefault(), this.accept(s.label)),
          },
          h('span', { class: `kind kind-${s.kind}` }, s.kind[0]!.toUpperCase()),
          h('b', null, s.label),
          h('span', { class: 'detail' }, s.detail),
        ),
      ),
    )
    this.list.hidden = false
    this.list.querySelector('.active')?.scrollIntoView({ block: 'nearest' })
    // Under the caret: monospace, so the column gives x.
    const { line, column } = lineColumn(this.input.value, c.start)
    this.measure()
    const x = this.gutter.offsetWidth + PAD + (column - 1) * this.charWidth - this.scroller.scrollLeft
    const y = PAD + line * LINE - this.scroller.scrollTop + 2
    this.list.style.left = `${Math.max(0, Math.min(x, this.el.clientWidth - 320))}px`
    this.list.style.top = `${y}px`
  }

  private measure(): void {
    const probe = h('span', { style: { visibility: 'hidden', position: 'absolute' } }, 'x'.repeat(20))
    this.code.append(probe)
    this.charWidth = probe.getBoundingClientRect().width / 20 || this.charWidth
    probe.remove()
  }

  private close(): void {
    this.list.hidden = true
    this.completion = null
  }
}
