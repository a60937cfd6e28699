/** Host functions of html.js: pages live in the VU's HtmlStore, the VM holds ids. */
import type { HostBinder } from '../../engine/host-api.ts'
import type { HtmlStore } from './html.ts'
import { ELEMENT_METHODS } from './element.ts'

export function installHtml(b: HostBinder, html: HtmlStore): void {
  b.def('htmlParse', ['s', 's'], (src, url) => html.parse(src, url))
  b.def('htmlMethods', [], () => JSON.stringify(ELEMENT_METHODS))
  b.def('html', ['s'], (j) => html.call(j))
}
