/**
 * k6/html's Element methods (DOM-like getters, per-tag ones such as `href()` or `options()`) and
 * form serialisation, computed on the host's htmlparser2 tree. Results go to the VM as
 * `{v}` (a value), `{n}` (one node id or null), `{ns}` (node ids) or `{attrs}`.
 */
import { DomUtils } from 'htmlparser2'
import { isTag, isText, isComment, isDocument, isDirective, hasChildren, type AnyNode, type Element } from 'domhandler'

export type Out = { v: unknown } | { n: number | null } | { ns: number[] } | { attrs: Record<string, { name: string; value: string }> }

export interface Ctx {
  url: string
  id: (n: AnyNode) => number
  node: (i: number) => AnyNode | undefined
  test: (selector: unknown) => (n: Element) => boolean
}

const FIELDS = new Set(['input', 'select', 'textarea', 'button', 'keygen', 'output', 'fieldset', 'object'])
const SUBMITTABLE = new Set(['input', 'select', 'textarea', 'keygen'])

const VOID = new Set([
  'area',
  'base',
  'br',
  'col',
  'embed',
  'hr',
  'img',
  'input',
  'keygen',
  'link',
  'meta',
  'param',
  'source',
  'track',
  'wbr',
])
const RAW_TEXT = new Set(['iframe', 'noembed', 'noframes', 'noscript', 'plaintext', 'script', 'style', 'xmp'])
const ESCAPES: Record<string, string> = { '&': '&amp;', "'": '&#39;', '<': '&lt;', '>': '&gt;', '"': '&#34;', '\r': '&#13;' }
const escapeHtml = (s: string): string => s.replace(/[&'<>"\r]/g, (c) => ESCAPES[c]!)

/** A node as Go's html.Render writes it (what goquery's Html() returns): characters as they are, & ' < > " escaped. */
function render(n: AnyNode, out: string[]): void {
  if (isText(n)) out.push(n.parent && isTag(n.parent) && RAW_TEXT.has(n.parent.name) ? n.data : escapeHtml(n.data))
  else if (isComment(n)) out.push(`<!--${n.data}-->`)
  else if (isDirective(n)) out.push(`<${n.data}>`)
  else if (isTag(n)) {
    out.push(`<${n.name}`)
    for (const [k, v] of Object.entries(n.attribs)) out.push(` ${k}="${escapeHtml(v)}"`)
    out.push('>')
    if (VOID.has(n.name)) return
    // Go writes the newline that the parser drops after <pre>, <textarea> and <listing>.
    const first = n.children[0]
    if ((n.name === 'pre' || n.name === 'textarea' || n.name === 'listing') && first && isText(first) && first.data.startsWith('\n'))
      out.push('\n')
    for (const c of n.children) render(c, out)
    out.push(`</${n.name}>`)
  } else if (hasChildren(n)) for (const c of n.children) render(c, out)
}

/** Inner HTML as goquery gives it. */
export function innerHtml(n: AnyNode): string | undefined {
  if (!hasChildren(n)) return undefined
  const out: string[] = []
  for (const c of n.children) render(c, out)
  return out.join('')
}

const attr = (n: AnyNode, name: string): string | undefined => (isTag(n) ? n.attribs[name] : undefined)
const bool = (n: AnyNode, name: string): boolean => attr(n, name) !== undefined
const text = (n: AnyNode): string => DomUtils.textContent(n)
const collapse = (s: string): string => s.replace(/\s+/g, ' ').trim()
const tagsIn = (n: AnyNode, pred: (e: Element) => boolean): Element[] => (hasChildren(n) ? DomUtils.findAll(pred, n.children) : [])
const named =
  (...names: string[]) =>
  (e: Element) =>
    names.includes(e.name)

function options(n: AnyNode): Element[] {
  return tagsIn(n, named('option'))
}
function optionValue(o: Element): string {
  return o.attribs.value ?? collapse(text(o))
}
function selectedOptions(sel: AnyNode): Element[] {
  const all = options(sel)
  const chosen = all.filter((o) => bool(o, 'selected'))
  if (chosen.length || bool(sel, 'multiple')) return bool(sel, 'multiple') ? chosen : chosen.slice(-1)
  // A single select with nothing marked shows (and submits) its first enabled option.
  const first = all.find((o) => !bool(o, 'disabled'))
  return first ? [first] : []
}

/** A form control's current value, as `Selection.val()` and `Element.value()` give it. */
export function value(n: Element): string | undefined {
  switch (n.name) {
    case 'input': {
      const type = (n.attribs.type ?? '').toLowerCase()
      return n.attribs.value ?? (type === 'checkbox' || type === 'radio' ? 'on' : '')
    }
    case 'select': {
      const o = selectedOptions(n)[0]
      return o ? optionValue(o) : ''
    }
    case 'textarea':
      return text(n)
    case 'option':
      return optionValue(n)
    default:
      return n.attribs.value
  }
}

/** jQuery/k6 serializeArray: the successful controls of the forms (or of the controls) given. */
export function formFields(els: Element[]): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = []
  const controls = els.flatMap((e) => (e.name === 'form' ? tagsIn(e, (x) => SUBMITTABLE.has(x.name)) : [e]))
  for (const c of controls) {
    const name = c.attribs.name
    if (!name || bool(c, 'disabled') || !SUBMITTABLE.has(c.name)) continue
    const type = (c.attribs.type ?? '').toLowerCase()
    if (c.name === 'input' && /^(submit|button|image|reset|file)$/.test(type)) continue
    if ((type === 'checkbox' || type === 'radio') && !bool(c, 'checked')) continue
    const values = c.name === 'select' ? selectedOptions(c).map(optionValue) : [value(c) ?? '']
    for (const v of values) out.push({ name, value: v.replace(/\r?\n/g, '\r\n') })
  }
  return out
}

function parentForm(n: AnyNode): Element | null {
  const id = attr(n, 'form')
  if (id) {
    let root: AnyNode = n
    while (root.parent) root = root.parent
    const f = DomUtils.findOne((e) => e.name === 'form' && e.attribs.id === id, [root])
    if (f) return f
  }
  for (let p = n.parent; p; p = p.parent) if (isTag(p) && p.name === 'form') return p
  return null
}

// A page parsed without a URL (parseHTML) keeps relative links relative: their parts are read
// against this placeholder, whose host parts then read as empty.
const NO_BASE = 'http://kiln.invalid'

function resolved(n: AnyNode, c: Ctx, name: string): URL | null {
  const raw = attr(n, name)
  if (raw === undefined) return null
  try {
    return new URL(raw, c.url || NO_BASE)
  } catch {
    return null
  }
}

function labelsOf(n: AnyNode): Element[] {
  let root: AnyNode = n
  while (root.parent) root = root.parent
  const id = attr(n, 'id')
  return tagsIn(
    root,
    (l) =>
      l.name === 'label' &&
      ((id !== undefined && l.attribs.for === id) ||
        (l.attribs.for === undefined && DomUtils.findOne((x) => x === n, l.children) !== null)),
  )
}

type Method = (n: AnyNode, args: unknown[], c: Ctx) => Out
const v = (x: unknown): Out => ({ v: x })
const one = (c: Ctx, x: AnyNode | null | undefined): Out => ({ n: x ? c.id(x) : null })
const many = (c: Ctx, xs: AnyNode[]): Out => ({ ns: xs.map((x) => c.id(x)) })
const argNode = (c: Ctx, a: unknown): AnyNode | undefined =>
  a && typeof a === 'object' && 'el' in a ? c.node(Number((a as { el: unknown }).el)) : undefined
const urlPart =
  (part: 'hash' | 'host' | 'hostname' | 'origin' | 'password' | 'pathname' | 'port' | 'protocol' | 'search' | 'username'): Method =>
  (n, _a, c) => {
    const u = resolved(n, c, 'href')
    return v(!u || (u.origin === NO_BASE && !['hash', 'pathname', 'search'].includes(part)) ? '' : u[part])
  }
/** An absolute URL, or the attribute as written when the page has no URL to resolve it against. */
const absolute = (n: AnyNode, c: Ctx, name: string): string => {
  const u = resolved(n, c, name)
  return u && u.origin !== NO_BASE ? u.href : (attr(n, name) ?? '')
}
const rows = (n: AnyNode): Element[] => tagsIn(n, named('tr')).filter((r) => DomUtils.findOne((x) => x === r, [n]) !== null)

const methods: Record<string, Method> = {
  nodeName: (n) =>
    v(
      isTag(n)
        ? n.name.toUpperCase()
        : isText(n)
          ? '#text'
          : isComment(n)
            ? '#comment'
            : isDocument(n)
              ? '#document'
              : isDirective(n)
                ? n.name.replace(/^!/, '')
                : '',
    ),
  nodeType: (n) => v(isTag(n) ? 1 : isText(n) ? 3 : isComment(n) ? 8 : isDocument(n) ? 9 : isDirective(n) ? 10 : undefined),
  nodeValue: (n) => v(isText(n) || isComment(n) ? n.data : undefined),
  id: (n) => v(attr(n, 'id') ?? ''),
  className: (n) => v(attr(n, 'class')),
  classList: (n) => v((attr(n, 'class') ?? '').split(/\s+/).filter(Boolean)),
  attributes: (n) => ({ attrs: Object.fromEntries(Object.entries(isTag(n) ? n.attribs : {}).map(([k, x]) => [k, { name: k, value: x }])) }),
  hasAttribute: (n, a) => v(bool(n, String(a[0]).toLowerCase())),
  hasAttributes: (n) => v(isTag(n) && Object.keys(n.attribs).length > 0),
  getAttribute: (n, a) => v(attr(n, String(a[0]).toLowerCase())),
  getAttributeNode: (n, a) => {
    const k = String(a[0]).toLowerCase()
    const x = attr(n, k)
    return { attrs: x === undefined ? {} : { [k]: { name: k, value: x } } }
  },
  textContent: (n) => v(text(n)),
  innerHTML: (n) => v(innerHtml(n)),
  toString: (n: AnyNode) => v(isTag(n) ? `[object html.${n.name.toUpperCase()}Element]` : '[object html.Node]'),
  childNodes: (n, _a, c) => many(c, hasChildren(n) ? n.children : []),
  children: (n, _a, c) => many(c, hasChildren(n) ? n.children.filter(isTag) : []),
  childElementCount: (n) => v(hasChildren(n) ? n.children.filter(isTag).length : 0),
  hasChildNodes: (n) => v(hasChildren(n) && n.children.length > 0),
  firstChild: (n, _a, c) => one(c, hasChildren(n) ? n.children[0] : null),
  lastChild: (n, _a, c) => one(c, hasChildren(n) ? n.children[n.children.length - 1] : null),
  firstElementChild: (n, _a, c) => one(c, hasChildren(n) ? n.children.find(isTag) : null),
  lastElementChild: (n, _a, c) => one(c, hasChildren(n) ? n.children.filter(isTag).pop() : null),
  parentNode: (n, _a, c) => one(c, n.parent),
  parentElement: (n, _a, c) => one(c, n.parent && isTag(n.parent) ? n.parent : null),
  nextSibling: (n, _a, c) => one(c, n.next),
  previousSibling: (n, _a, c) => one(c, n.prev),
  nextElementSibling: (n, _a, c) => one(c, DomUtils.nextElementSibling(n)),
  previousElementSibling: (n, _a, c) => one(c, DomUtils.prevElementSibling(n)),
  ownerDocument: (n, _a, c) => {
    let r: AnyNode = n
    while (r.parent) r = r.parent
    return one(c, isDocument(r) ? r : null)
  },
  contains: (n, a, c) => {
    const o = argNode(c, a[0])
    for (let p = o; p; p = p.parent ?? undefined) if (p === n) return v(true)
    return v(false)
  },
  isSameNode: (n, a, c) => v(argNode(c, a[0]) === n),
  isEqualNode: (n, a, c) => {
    const o = argNode(c, a[0])
    return v(o !== undefined && DomUtils.getOuterHTML(o) === DomUtils.getOuterHTML(n))
  },
  getElementsByClassName: (n, a, c) =>
    many(
      c,
      tagsIn(n, (e) => (e.attribs.class ?? '').split(/\s+/).includes(String(a[0]))),
    ),
  getElementsByTagName: (n, a, c) =>
    many(
      c,
      tagsIn(n, (e) => a[0] === '*' || e.name === String(a[0]).toLowerCase()),
    ),
  querySelector: (n, a, c) => one(c, hasChildren(n) ? DomUtils.findOne(c.test(a[0]), n.children) : null),
  querySelectorAll: (n, a, c) => many(c, tagsIn(n, c.test(a[0]))),
  matches: (n, a, c) => v(isTag(n) && c.test(a[0])(n)),
  lang: (n) => {
    for (let p: AnyNode | null = n; p; p = p.parent) if (attr(p, 'lang') !== undefined) return v(attr(p, 'lang'))
    return v(undefined)
  },
  namespaceURI: () => v('http://www.w3.org/1999/xhtml'),
  isDefaultNamespace: (n) => v(isTag(n)),
  // a, area, link
  href: (n, _a, c) => v(absolute(n, c, 'href')),
  hash: urlPart('hash'),
  host: urlPart('host'),
  hostname: urlPart('hostname'),
  origin: urlPart('origin'),
  password: urlPart('password'),
  pathname: urlPart('pathname'),
  port: urlPart('port'),
  protocol: urlPart('protocol'),
  search: urlPart('search'),
  username: urlPart('username'),
  relList: (n) => v((attr(n, 'rel') ?? '').split(/\s+/).filter(Boolean)),
  text: (n) => v(isTag(n) && n.name === 'option' ? collapse(text(n)) : text(n)),
  src: (n, _a, c) => v(absolute(n, c, 'src')),
  // forms and their fields
  value: (n) =>
    isTag(n) && (n.name === 'progress' || n.name === 'meter')
      ? v(Number(attr(n, 'value') ?? 0))
      : v(isTag(n) ? (value(n) ?? '') : undefined),
  defaultValue: (n) => v(isTag(n) && n.name === 'output' ? text(n) : (attr(n, 'value') ?? '')),
  name: (n) => v(attr(n, 'name') ?? ''),
  type: (n) =>
    v(
      isTag(n)
        ? (
            attr(n, 'type') ??
            (n.name === 'input'
              ? 'text'
              : n.name === 'button'
                ? 'submit'
                : n.name === 'select'
                  ? bool(n, 'multiple')
                    ? 'select-multiple'
                    : 'select-one'
                  : n.name === 'fieldset'
                    ? 'fieldset'
                    : '')
          ).toLowerCase()
        : '',
    ),
  form: (n, _a, c) => one(c, parentForm(n)),
  elements: (n, _a, c) =>
    many(
      c,
      tagsIn(n, (e) => FIELDS.has(e.name)),
    ),
  length: (n) =>
    v(
      isTag(n) && n.name === 'form'
        ? tagsIn(n, (e) => FIELDS.has(e.name)).length
        : isTag(n) && n.name === 'textarea'
          ? text(n).length
          : options(n).length,
    ),
  method: (n) => v((attr(n, 'method') ?? 'get').toLowerCase() === 'post' ? 'post' : 'get'),
  action: (n, _a, c) => v(attr(n, 'action') ? absolute(n, c, 'action') : c.url),
  enctype: (n) => v(attr(n, 'enctype') ?? 'application/x-www-form-urlencoded'),
  formAction: (n, _a, c) => v(absolute(n, c, 'formaction')),
  formEnctype: (n) => v(attr(n, 'formenctype') ?? ''),
  formMethod: (n) => v(attr(n, 'formmethod') ?? ''),
  formNoValidate: (n) => v(bool(n, 'formnovalidate')),
  formTarget: (n) => v(attr(n, 'formtarget') ?? ''),
  labels: (n, _a, c) => many(c, labelsOf(n)),
  control: (n, _a, c) => {
    const f = attr(n, 'for')
    let root: AnyNode = n
    while (root.parent) root = root.parent
    return one(c, f !== undefined ? DomUtils.findOne((e) => e.attribs.id === f, [root]) : tagsIn(n, (e) => FIELDS.has(e.name))[0])
  },
  disabled: (n) => v(bool(n, 'disabled')),
  checked: (n) => v(bool(n, 'checked')),
  options: (n, _a, c) => many(c, options(n)),
  selectedOptions: (n, _a, c) => many(c, selectedOptions(n)),
  selectedIndex: (n) => {
    const s = selectedOptions(n)[0]
    return v(s ? options(n).indexOf(s) : -1)
  },
  size: (n) => v(Number(attr(n, 'size') ?? 0)),
  index: (n) => {
    let s: AnyNode = n
    while (s.parent && !(isTag(s.parent) && s.parent.name === 'select')) s = s.parent
    return v(s.parent ? options(s.parent).indexOf(n as Element) : 0)
  },
  label: (n) => v(attr(n, 'label') ?? collapse(text(n))),
  validity: () => v(undefined),
  // tables
  rows: (n, _a, c) => many(c, rows(n)),
  tBodies: (n, _a, c) => many(c, hasChildren(n) ? n.children.filter((e): e is Element => isTag(e) && e.name === 'tbody') : []),
  tHead: (n, _a, c) => one(c, hasChildren(n) ? n.children.find((e) => isTag(e) && e.name === 'thead') : null),
  tFoot: (n, _a, c) => one(c, hasChildren(n) ? n.children.find((e) => isTag(e) && e.name === 'tfoot') : null),
  caption: (n, _a, c) => one(c, hasChildren(n) ? n.children.find((e) => isTag(e) && e.name === 'caption') : null),
  cells: (n, _a, c) =>
    many(c, hasChildren(n) ? n.children.filter((e): e is Element => isTag(e) && (e.name === 'td' || e.name === 'th')) : []),
  cellIndex: (n) =>
    v(n.parent ? n.parent.children.filter((e) => isTag(e) && (e.name === 'td' || e.name === 'th')).indexOf(n as Element) : -1),
  rowIndex: (n) => {
    let t: AnyNode | null = n.parent
    while (t && !(isTag(t) && t.name === 'table')) t = t.parent
    return v(t ? rows(t).indexOf(n as Element) : -1)
  },
  sectionRowIndex: (n) => v(n.parent ? n.parent.children.filter((e) => isTag(e) && e.name === 'tr').indexOf(n as Element) : -1),
  span: (n) => v(Number(attr(n, 'span') ?? 1)),
  // media, maps, misc
  width: (n) => v(Number(attr(n, 'width') ?? 0)),
  height: (n) => v(Number(attr(n, 'height') ?? 0)),
  max: (n) => v(Number(attr(n, 'max') ?? 1)),
  position: (n) => v(Number(attr(n, 'value') ?? -1) / Number(attr(n, 'max') ?? 1)),
  areas: (n, _a, c) => many(c, tagsIn(n, named('area'))),
  images: (n, _a, c) => many(c, tagsIn(n, named('img'))),
  textTracks: (n, _a, c) => many(c, tagsIn(n, named('track'))),
}

/** The Element methods the VM exposes (all forwarded here). */
export const ELEMENT_METHODS = Object.keys(methods)

/** Calls one Element method on a node; an unknown name is a script error. */
export function elementMethod(n: AnyNode, name: string, args: unknown[], c: Ctx): Out {
  const m = Object.hasOwn(methods, name) ? methods[name] : undefined
  if (!m) throw new Error(`Element has no method '${name}'`)
  return m(n, args, c)
}
