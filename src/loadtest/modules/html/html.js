// Runs inside each VU's QuickJS runtime: the JS side of `k6/html`. The page itself lives on the
// host (html.ts): a Selection here is a document id and node ids, and each query is
// one synchronous host call.
;(function () {
  const H = globalThis.__kh
  const K = Symbol('kiln.html')
  const call = (op, d, ids, a, b) =>
    JSON.parse(H.html(JSON.stringify([op, d, ids, a === undefined ? null : a, b === undefined ? null : b])))
  const NodeType = Object.freeze({ ElementNode: 1, TextNode: 3, CommentNode: 8, DocumentNode: 9, DoctypeNode: 10 })

  class Selection {
    constructor(d, ids, prev) {
      this[K] = { d, ids, prev }
    }
  }
  class Element {
    constructor(d, id) {
      this[K] = { d, id }
    }
  }
  class Attribute {
    constructor(owner, a) {
      this.name = a.name
      this.value = a.value
      this.ownerElement = owner
    }
    localName() {
      return this.name
    }
    namespaceURI() {
      return ''
    }
    prefix() {
      return ''
    }
  }

  const derive = (s, ids) => new Selection(s[K].d, ids, s)
  const single = (s, id) => new Selection(s[K].d, [id], s)
  const sameDoc = (s, o) => {
    if (!(o instanceof Selection)) throw new Error('expected a selector string, a function or a Selection')
    return o[K].d === s[K].d ? o[K].ids : []
  }
  const P = /** @type {any} */ (Selection.prototype)
  // Traversals: a selector string (optional for most), a new Selection remembering this one for end().
  for (const op of [
    'find',
    'children',
    'contents',
    'parent',
    'parents',
    'parentsUntil',
    'closest',
    'siblings',
    'next',
    'nextAll',
    'nextUntil',
    'prev',
    'prevAll',
    'prevUntil',
    'has',
  ]) {
    P[op] = function (sel) {
      const s = this[K]
      return derive(this, s.ids.length ? call(op, s.d, s.ids, sel) : [])
    }
  }
  /** filter / not / is with a selector, a test function (index, Selection) or a Selection. */
  const pick = (self, x, keep) => {
    const s = self[K]
    if (typeof x === 'function') return s.ids.filter((id, i) => !!x.call(single(self, id), i, single(self, id)) === keep)
    if (x instanceof Selection) {
      const other = new Set(sameDoc(self, x))
      return s.ids.filter((id) => other.has(id) === keep)
    }
    return s.ids.length ? call(keep ? 'filter' : 'not', s.d, s.ids, String(x)) : []
  }
  P.filter = function (x) {
    return derive(this, pick(this, x, true))
  }
  P.not = function (x) {
    return derive(this, pick(this, x, false))
  }
  P.is = function (x) {
    const s = this[K]
    if (typeof x === 'string') return s.ids.length > 0 && call('is', s.d, s.ids, x)
    return pick(this, x, true).length > 0
  }
  P.add = function (x) {
    const s = this[K]
    return derive(this, typeof x === 'string' ? call('add', s.d, s.ids, x) : call('union', s.d, s.ids, null, sameDoc(this, x)))
  }
  P.end = function () {
    return this[K].prev || new Selection(this[K].d, [], null)
  }
  P.size = function () {
    return this[K].ids.length
  }
  P.first = function () {
    return derive(this, this[K].ids.slice(0, 1))
  }
  P.last = function () {
    return derive(this, this[K].ids.slice(-1))
  }
  P.eq = function (i) {
    const ids = this[K].ids
    const id = ids[i < 0 ? ids.length + i : i]
    return derive(this, id === undefined ? [] : [id])
  }
  P.slice = function (start, end) {
    return derive(this, this[K].ids.slice(start, end))
  }
  P.get = function (i) {
    const ids = this[K].ids
    const id = ids[i < 0 ? ids.length + i : i]
    return id === undefined ? undefined : new Element(this[K].d, id)
  }
  P.toArray = function () {
    return this[K].ids.map((id) => single(this, id))
  }
  P.each = function (fn) {
    const s = this[K]
    s.ids.forEach((id, i) => fn.call(new Element(s.d, id), i, new Element(s.d, id)))
    return this
  }
  P.map = function (fn) {
    return this[K].ids.map((id, i) => fn.call(single(this, id), i, single(this, id)))
  }
  // Values of the first element (attr, html, val, data) or of all (text, serialize*).
  const first = (s) => s[K].ids.slice(0, 1)
  P.attr = function (name, def) {
    return this[K].ids.length ? nul(call('attr', this[K].d, first(this), String(name), def)) : def
  }
  P.text = function () {
    return this[K].ids.length ? call('text', this[K].d, this[K].ids) : ''
  }
  P.html = function () {
    return this[K].ids.length ? nul(call('html', this[K].d, first(this))) : undefined
  }
  P.val = function () {
    return this[K].ids.length ? nul(call('val', this[K].d, first(this))) : undefined
  }
  P.data = function (key) {
    return this[K].ids.length ? nul(call('data', this[K].d, first(this), key)) : undefined
  }
  P.serializeArray = function () {
    return this[K].ids.length ? call('serializeArray', this[K].d, this[K].ids) : []
  }
  P.serializeObject = function () {
    const o = {}
    for (const f of this.serializeArray()) o[f.name] = f.value
    return o
  }
  const formEnc = (s) => encodeURIComponent(s).replace(/%20/g, '+')
  P.serialize = function () {
    return this.serializeArray()
      .map((f) => `${formEnc(f.name)}=${formEnc(f.value)}`)
      .join('&')
  }
  const nul = (v) => (v === null ? undefined : v)

  // Element: every DOM-like method is forwarded to the host, which knows the tag.
  const wrap = (el, name, out) => {
    const d = el[K].d
    if ('n' in out) return out.n === null ? undefined : new Element(d, out.n)
    if ('ns' in out) return out.ns.map((id) => new Element(d, id))
    if ('attrs' in out) {
      const attrs = {}
      for (const k of Object.keys(out.attrs)) attrs[k] = new Attribute(el, out.attrs[k])
      return name === 'getAttributeNode' ? Object.values(attrs)[0] : attrs
    }
    return nul(out.v)
  }
  const argOf = (el, x) => (x instanceof Element ? { el: x[K].d === el[K].d ? x[K].id : -1 } : x)
  for (const name of JSON.parse(H.htmlMethods())) {
    Element.prototype[name] = function (...args) {
      const k = this[K]
      return wrap(
        this,
        name,
        call(
          'el',
          k.d,
          [k.id],
          name,
          args.map((a) => argOf(this, a)),
        ),
      )
    }
  }
  const elementProto = /** @type {any} */ (Element.prototype)
  elementProto.selection = function () {
    return new Selection(this[K].d, [this[K].id], null)
  }

  /** Parses a page; `url` (a Response's) resolves relative links and form actions. */
  function parse(src, url) {
    return new Selection(Number(H.htmlParse(src === undefined || src === null ? '' : String(src), url || '')), [0], null)
  }
  const parseHTML = (src) => parse(src, '')
  globalThis.__k6html = { parse, Selection, Element }
  // Replaces the loading getter vu.ts put there (this file is evaluated on first use).
  Object.defineProperty(globalThis.__k6mods, 'k6/html', {
    value: { default: { parseHTML, NodeType }, parseHTML, NodeType },
    enumerable: true,
    writable: true,
    configurable: true,
  })
})()
