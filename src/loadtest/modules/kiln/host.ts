/** Host functions of kiln.js: the report writers over handleSummary's data. */
import type { HostBinder } from '../../engine/host-api.ts'
import { junitXml } from '../../results/junit.ts'
import { markdownSummary } from '../../results/markdown.ts'

export function installKiln(b: HostBinder): void {
  b.def('report', ['s', 's', 's'], (kind, dataJson, optsJson) => {
    const opts = JSON.parse(optsJson) as { name?: unknown; title?: unknown }
    const data = JSON.parse(dataJson)
    if (!data || typeof data !== 'object' || typeof data.metrics !== 'object')
      throw new TypeError(`${kind}(data): data must be handleSummary's argument (an object with metrics)`)
    if (kind === 'junit') return junitXml(data, typeof opts.name === 'string' ? { name: opts.name } : {})
    return markdownSummary(data, typeof opts.title === 'string' ? { title: opts.title } : {})
  })
}
