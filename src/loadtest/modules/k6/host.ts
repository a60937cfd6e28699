/** Host functions of k6.js: `k6`, `k6/metrics`, `k6/execution`, `k6/data`, `open()`, `console`. */
import { performance } from 'node:perf_hooks'
import type { HostBinder } from '../../engine/host-api.ts'
import type { BoardVU, Host } from '../../engine/host.ts'
import type { Tags } from '../../results/metrics.ts'

/** What of its VU these functions read. */
export interface K6Bridge {
  host: Host
  vu: BoardVU & { baseTags: Tags }
}

export function installK6(b: HostBinder, { host, vu }: K6Bridge): void {
  b.def('now', [], () => performance.now())
  b.def('emit', ['s', 'n', 's'], (n, v, t) => host.emit(n, v, { ...vu.baseTags, ...(JSON.parse(t) as Tags) }))
  // Samples without the script's tags (check(), metric.add(), group_duration): their tag sets made
  // once per group (and check name) while the VU's own tags stay the same object (a scenario's;
  // per iteration with the vu/iter system tags), instead of JSON both ways for every sample.
  // The sets are shared by the samples and never changed after they are made.
  let base: Tags | null = null
  const groupTags = new Map<string, Tags>()
  const checkTags = new Map<string, Tags>()
  const current = (): void => {
    if (base !== vu.baseTags || groupTags.size >= 1000 || checkTags.size >= 1000) {
      base = vu.baseTags
      groupTags.clear()
      checkTags.clear()
    }
  }
  b.def('sample', ['s', 'n', 's'], (metric, value, group) => {
    current()
    let tags = groupTags.get(group)
    if (tags === undefined) groupTags.set(group, (tags = { ...vu.baseTags, group }))
    host.emit(metric, value, tags)
  })
  b.def('check', ['s', 'n', 's'], (name, passed, group) => {
    current()
    const key = `${group}\u0001${name}`
    let tags = checkTags.get(key)
    if (tags === undefined) checkTags.set(key, (tags = { ...vu.baseTags, group, check: name }))
    host.emit('checks', passed, tags)
  })
  b.def('metric', ['s', 's', 'b'], (n, t, isTime) => host.defineMetric(n, t, isTime))
  b.def('log', ['s', 's'], (l, m) => host.log(l, m))
  b.def('open', ['s', 'b'], (p, binary) => {
    const buf = host.readBytes(p)
    return binary ? buf.toString('base64') : buf.toString('utf8')
  })
  b.def('exec', [], () => JSON.stringify(host.execState(vu)))
  b.def('abort', ['s'], (m) => host.abort(m))
  b.def('markFailed', ['s'], (m) => host.markFailed(m))
  b.def('shared', ['s'], (n) => host.shared.get(n) ?? '')
  b.def('setShared', ['s', 's'], (n, j) => void host.shared.set(n, j))
}
