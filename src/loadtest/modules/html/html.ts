/**
 * The host side of `k6/html`: pages are parsed by parse5 (into domhandler nodes) and queried with
 * css-select in Node; the VU only holds document and node ids (html.js). On a 100 KB page,
 * parsing inside the QuickJS VM took 30–60× longer than here (`npm run bench -- k6-html`), so the
 * DOM lives here and each Selection call is one host call.
 */
import { DomUtils } from 'htmlparser2'
import { parse as parseHtml5 } from 'parse5'
import { adapter } from 'parse5-htmlparser2-tree-adapter'
import { compile } from 'css-select'
import { isTag, isDocument, hasChildren, type AnyNode, type Element, type Document } from 'domhandler'
import { formFields, elementMethod, innerHtml, value, type Ctx } from './element.ts'

interface Doc {
  root: Document
  url: string
  nodes: AnyNode[]
  ids: Map<AnyNode, number>
  /** Parsed in the init context: kept for the VU's life; others are freed after their iteration. */
  keep: boolean
}

type Test = (n: Element) => boolean

const MAX_CACHED_SELECTORS = 256

/** A VU's parsed documents, addressed by id from the VM. */
export class HtmlStore {
  private docs = new Map<number, Doc>()
  private nextDoc = 1
  private selectors = new Map<string, Test>()
  /** True while the VU runs its init code: documents parsed then survive endIteration(). */
  keepNew = true

  /** Parses a page; returns its document id (the Selection of the document root is node 0). */
  parse(src: string, url: string): number {
    // HTML5 tree building (implied html/head/body/tbody, misnested tags) as Go's x/net/html does for
    // k6's goquery, into the domhandler nodes css-select and DomUtils work on.
    const root = parseHtml5(src, { treeAdapter: adapter }) as Document
    const id = this.nextDoc++
    this.docs.set(id, { root, url, nodes: [root], ids: new Map([[root, 0]]), keep: this.keepNew })
    return id
  }

  /** Frees the documents parsed during the iteration that just ended. */
  endIteration(): void {
    for (const [id, d] of this.docs) if (!d.keep) this.docs.delete(id)
  }

  /** One call from the VM: `[op, doc, ids, a, b]` → JSON of the result. Throws Errors for the script. */
  call(json: string): string {
    const [op, docId, ids, a, b] = JSON.parse(json) as [string, number, number[], unknown, unknown]
    const doc = this.docs.get(docId)
    if (!doc)
      throw new Error(
        'this Selection belongs to a page parsed in an earlier iteration (pages are freed when their iteration ends); parse it again',
      )
    const nodes = ids.map((i) => {
      const n = doc.nodes[i]
      if (!n) throw new Error(`unknown node ${i}`)
      return n
    })
    const out = this.op(doc, op, nodes, a, b)
    return JSON.stringify(out === undefined ? null : out)
  }

  private id(doc: Doc, n: AnyNode): number {
    let i = doc.ids.get(n)
    if (i === undefined) {
      i = doc.nodes.push(n) - 1
      doc.ids.set(n, i)
    }
    return i
  }

  private test(sel: unknown): Test {
    const s = String(sel)
    let t = this.selectors.get(s)
    if (!t) {
      try {
        t = compile<AnyNode, Element>(s) as Test
      } catch (e) {
        throw new Error(`invalid selector '${s}': ${(e as Error).message}`)
      }
      if (this.selectors.size >= MAX_CACHED_SELECTORS) this.selectors.clear()
      this.selectors.set(s, t)
    }
    return t
  }

  private op(doc: Doc, op: string, nodes: AnyNode[], a: unknown, b: unknown): unknown {
    const ids = (list: AnyNode[]): number[] => DomUtils.uniqueSort([...new Set(list)]).map((n) => this.id(doc, n))
    const opt = (list: AnyNode[]): number[] =>
      a === undefined || a === null || a === '' ? ids(list) : ids(list.filter((n) => isTag(n) && this.test(a)(n)))
    const els = nodes.filter(isTag)
    const first = nodes[0]
    switch (op) {
      case 'find': {
        const t = this.test(a)
        return ids(nodes.flatMap((n) => (hasChildren(n) ? DomUtils.findAll(t, n.children) : [])))
      }
      case 'add':
        return ids([...nodes, ...DomUtils.findAll(this.test(a), doc.root.children)])
      case 'union':
        return ids([...nodes, ...(Array.isArray(b) ? b : []).map((i: number) => doc.nodes[i]).filter((n): n is AnyNode => n !== undefined)])
      case 'filter':
        return ids(els.filter(this.test(a)))
      case 'not': {
        const t = this.test(a)
        return ids(nodes.filter((n) => !isTag(n) || !t(n)))
      }
      case 'is':
        return els.some(this.test(a))
      case 'has': {
        const t = this.test(a)
        return ids(els.filter((n) => DomUtils.findOne(t, n.children) !== null))
      }
      case 'children':
        return opt(els.flatMap((n) => n.children.filter(isTag)).concat(nodes.filter(isDocument).flatMap((d) => d.children.filter(isTag))))
      case 'contents':
        return ids(nodes.flatMap((n) => (hasChildren(n) ? n.children : [])))
      case 'parent':
        return opt(nodes.map((n) => n.parent).filter((p): p is Element => p !== null && isTag(p)))
      case 'parents':
      case 'parentsUntil': {
        const stop = op === 'parentsUntil' && a ? this.test(a) : null
        const out: AnyNode[] = []
        for (const n of nodes) {
          for (let p = n.parent; p && isTag(p); p = p.parent) {
            if (stop && stop(p)) break
            out.push(p)
          }
        }
        return op === 'parents' ? opt(out) : ids(out)
      }
      case 'closest': {
        const t = this.test(a)
        const out: AnyNode[] = []
        for (const n of els) {
          for (let p: AnyNode | null = n; p && isTag(p); p = p.parent) {
            if (t(p)) {
              out.push(p)
              break
            }
          }
        }
        return ids(out)
      }
      case 'siblings':
        return opt(nodes.flatMap((n) => (n.parent ? n.parent.children.filter((s) => s !== n && isTag(s)) : [])))
      case 'next':
      case 'prev':
        return opt(
          nodes
            .map((n) => (op === 'next' ? DomUtils.nextElementSibling(n) : DomUtils.prevElementSibling(n)))
            .filter((n): n is Element => n !== null),
        )
      case 'nextAll':
      case 'prevAll':
      case 'nextUntil':
      case 'prevUntil': {
        const until = op.endsWith('Until')
        const stop = until && a ? this.test(a) : null
        const out: AnyNode[] = []
        for (const n of nodes) {
          const step = op.startsWith('next') ? DomUtils.nextElementSibling : DomUtils.prevElementSibling
          for (let s = step(n); s; s = step(s)) {
            if (stop && stop(s)) break
            out.push(s)
          }
        }
        return until ? ids(out) : opt(out)
      }
      case 'attr':
        return first && isTag(first) ? (first.attribs[String(a)] ?? b ?? undefined) : undefined
      case 'text':
        return DomUtils.textContent(nodes)
      case 'html':
        return first ? innerHtml(first) : undefined
      case 'val':
        return first && isTag(first) ? value(first) : undefined
      case 'data':
        return first && isTag(first) ? data(first, a === undefined || a === null ? undefined : String(a)) : undefined
      case 'serializeArray':
        return formFields(els)
      case 'el': {
        if (!first) return undefined
        const args = Array.isArray(b) ? b : []
        return elementMethod(first, String(a), args, this.ctx(doc))
      }
      default:
        throw new Error(`unknown k6/html operation '${op}'`)
    }
  }

  private ctx(doc: Doc): Ctx {
    return { url: doc.url, id: (n) => this.id(doc, n), node: (i) => doc.nodes[i], test: (s) => this.test(s) }
  }
}

/** `data-*` values as k6 gives them: numbers, booleans, null and JSON objects/arrays converted. */
function dataValue(v: string): unknown {
  if (v === 'true') return true
  if (v === 'false') return false
  if (v === 'null') return null
  if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(v)) return Number(v)
  if (/^[[{]/.test(v)) {
    try {
      return JSON.parse(v)
    } catch {
      return v
    }
  }
  return v
}
const camel = (s: string): string => s.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase())
const kebab = (s: string): string => s.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())

function data(el: Element, key: string | undefined): unknown {
  if (key !== undefined) {
    const v = el.attribs['data-' + kebab(key)]
    return v === undefined ? undefined : dataValue(v)
  }
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(el.attribs)) if (k.startsWith('data-')) out[camel(k.slice(5))] = dataValue(v)
  return out
}
