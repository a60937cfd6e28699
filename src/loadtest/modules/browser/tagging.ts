/**
 * k6's `page.on('metric', m => m.tag({name, matches}))`: before a page's browser_* sample goes
 * out, its url and method are pushed to the page's handlers in the VM; what their tag() calls
 * asked comes back as rules (browserMetricTagged) and is applied here as k6 applies it — the
 * first matching entry of a call's `matches`, a later call's match over an earlier one — so the
 * sample's url and name tags become the call's name. A sample the VM can no longer answer for
 * (its iteration is over) gets the rules the page's handlers gave last.
 */
import type { Tagger } from './metrics.ts'

/** One tag() call: `url` as a RegExp's [source, flags]. */
export interface TagRule {
  name: string
  matches: { url: [string, string]; method?: string }[]
}

interface Waiting {
  page: object
  url: string
  method: string
  resolve: (name: string) => void
}

export class MetricTaggers {
  private seq = 0
  private readonly waiting = new Map<number, Waiting>()
  private readonly last = new WeakMap<object, TagRule[]>()
  private stopped = false

  /** The Tagger of `page`, whose handlers see each sample `push`ed to their stream. */
  tagger(page: object, push: (json: string) => void): Tagger {
    return (url, method) => {
      if (this.stopped) return Promise.resolve(applyRules(this.last.get(page), url, method))
      const seq = ++this.seq
      return new Promise((resolve) => {
        this.waiting.set(seq, { page, url, method, resolve })
        push(JSON.stringify({ seq, url, method }))
      })
    }
  }

  /** The VM's answer for sample `seq`: its handlers' tag() calls. */
  answer(seq: number, rulesJson: string): void {
    const w = this.waiting.get(seq)
    if (!w) return
    this.waiting.delete(seq)
    const rules = JSON.parse(rulesJson) as TagRule[]
    this.last.set(w.page, rules)
    w.resolve(applyRules(rules, w.url, w.method))
  }

  /** No answer will come for `page`'s samples (all pages' when omitted): the last rules decide. */
  release(page?: object): void {
    for (const [seq, w] of this.waiting) {
      if (page && w.page !== page) continue
      this.waiting.delete(seq)
      w.resolve(applyRules(this.last.get(w.page), w.url, w.method))
    }
  }

  /** The iteration's VM work is over: samples from now on use the last rules without asking. */
  stop(): void {
    this.stopped = true
    this.release()
  }

  start(): void {
    this.stopped = false
  }
}

/** The name the rules give a sample of `url` and `method`, '' when none matches. */
export function applyRules(rules: TagRule[] | undefined, url: string, method: string): string {
  let name = ''
  for (const r of rules ?? []) {
    for (const m of r.matches) {
      if (m.method && m.method !== method) continue
      if (new RegExp(m.url[0], m.url[1]).test(url)) {
        name = r.name
        break
      }
    }
  }
  return name
}
