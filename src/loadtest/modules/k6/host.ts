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
