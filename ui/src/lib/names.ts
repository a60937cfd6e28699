/**
 * Function names as people read them: the function first, its file (or package path) after it.
 * Shortening never drops the function and cuts the file side or the middle, so two labels that are
 * the same and carry no `…` always come from the same function.
 */

/** A frame name split into the function and where it lives ('' when the name says nothing). */
export interface NameParts {
  fn: string
  file: string
}

/**
 * Splits the names Kiln's decoders produce:
 * `sha app-kiln/app.mjs:5` (V8, `@kiln/node`) → `sha` + `app-kiln/app.mjs:5`;
 * `work (app.py:12)` → `work` + `app.py:12`;
 * `github.com/a/b/store.(*DB).Get` (Go) → `store.(*DB).Get` + `github.com/a/b`;
 * `java/io/File.read` (JFR) → `File.read` + `java/io`; anything else is all function.
 */
export function nameParts(name: string): NameParts {
  const paren = / \(([^()]*)\)$/.exec(name)
  if (paren && paren.index > 0 && /[/.:]/.test(paren[1]!)) return { fn: name.slice(0, paren.index), file: paren[1]! }
  const sp = name.lastIndexOf(' ')
  if (sp > 0) {
    const file = name.slice(sp + 1)
    // A location: `x.js:12` or a path; not the second word of `Object.<anonymous>` style names.
    if (/:\d+(:\d+)?$/.test(file) || (file.includes('/') && !file.includes('('))) return { fn: name.slice(0, sp), file }
    return { fn: name, file: '' }
  }
  // A package path: the last '/' before any '(' (a Go receiver `(*T)` may follow it).
  const p = name.indexOf('(')
  const slash = (p >= 0 ? name.slice(0, p) : name).lastIndexOf('/')
  if (slash > 0 && slash < name.length - 1) return { fn: name.slice(slash + 1), file: name.slice(0, slash) }
  return { fn: name, file: '' }
}

/** The whole name, function first: `fn file` (what the table shows and the tooltip's first line). */
export function displayName(name: string): string {
  const { fn, file } = nameParts(name)
  return file ? `${fn} ${file}` : fn
}

/** `s` in at most `n` chars, cut in the middle with `…` (`processTicksAndRejections`, 9 → `proc…ions`). */
export function middleCut(s: string, n: number, always = false): string {
  if (s.length <= n && !(always && s.length === n)) return s
  if (n < 2) return ''
  const head = Math.ceil((n - 1) / 2)
  return s.slice(0, head) + '…' + s.slice(s.length - (n - 1 - head))
}

/**
 * A label of at most `fit` chars: `fn file` when it fits, else the function with the end of its
 * file (`sha …/app.mjs:5`, then `sha …s:5`, then `sha …`), else the function cut in the middle.
 */
export function fitName(name: string, fit: number): string {
  if (fit < 3) return ''
  const { fn, file } = nameParts(name)
  const whole = file ? `${fn} ${file}` : fn
  if (whole.length <= fit) return whole
  if (file && fn.length + 2 <= fit) {
    const room = fit - fn.length - 2
    let tail = file.slice(file.length - room)
    // Prefer the file's end from a path boundary (`…/app.mjs:5` rather than `…n/app.mjs:5`).
    const cut = tail.indexOf('/')
    if (cut > 0 && file.length > room) tail = tail.slice(cut)
    return `${fn} …${tail}`
  }
  // A file that does not fit at all still leaves its mark: `File.read…`, never a bare `File.read`.
  if (file && fn.length < fit) return `${fn}…`
  return middleCut(fn, fit, file !== '')
}
