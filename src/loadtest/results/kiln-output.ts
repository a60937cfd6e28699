/**
 * `-o kiln=http://localhost:4040`: stores the run in a Kiln server — per-second aggregates of every
 * metric, the thresholds' outcome, the script and tags, and (with `--profile SELECTOR`) which
 * profiles cover the run's window, so the server shows the target's flame graph for this run.
 */
import { basename } from 'node:path'
import type { Metric, Registry, Sample } from './metrics.ts'
import type { Threshold } from './thresholds.ts'
import { histAdd, type RunPoint } from '../../model/run.ts'
import { request } from '../../client/client.ts'

export interface KilnRunMeta {
  script: string
  tags: Record<string, string>
  profile?: string
  /** X-Scope-OrgID for a multi-tenant server (`--tenant`); the token comes from KILN_AUTH_TOKEN, as for every CLI command. */
  tenant?: string
}


/** Subscribes to samples; returns the closer that sends what is left and the thresholds' outcome. */
export function attachKilnOutput(server: string, registry: Registry, thresholds: () => Threshold[], meta: KilnRunMeta, warn: (s: string) => void): () => Promise<void> {
  const base = server.replace(/\/+$/, '')
  const client = { server: base, ...(meta.tenant ? { tenant: meta.tenant } : {}) }
  const post = async (path: string, body: unknown) => {
    const r = await request(client, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) })
    return (await r.json()) as { id?: string }
  }
  let failed = false
  const fail = (e: unknown) => {
    if (!failed) warn(`output kiln=${server}: ${(e as Error).message}; the run goes on, its results are not stored\n`)
    failed = true
  }
  const created = post('/api/v1/runs', { script: basename(meta.script), tags: meta.tags, profile: meta.profile ?? '', started: Date.now() })
    .then((r) => r.id!)
    .catch((e: unknown) => {
      fail(e)
      return ''
    })
  const buckets = new Map<string, RunPoint>()
  registry.onSample((s: Sample, m: Metric) => {
    const t = Math.floor(s.time / 1000) * 1000
    const key = `${s.metric}\u0000${t}`
    let a = buckets.get(key)
    if (!a) buckets.set(key, (a = { metric: s.metric, type: m.type, t, count: 0, sum: 0, min: Infinity, max: -Infinity }))
    a.count++
    a.sum += s.value
    if (s.value < a.min) a.min = s.value
    if (s.value > a.max) a.max = s.value
    if (m.type === 'trend') histAdd((a.hist ??= {}), s.value)
  })
  let sending: Promise<void> = Promise.resolve()
  const flush = (all: boolean) => {
    const now = Math.floor(Date.now() / 1000) * 1000
    const points: RunPoint[] = []
    for (const [k, a] of buckets) {
      if (all || a.t < now) {
        points.push(a)
        buckets.delete(k)
      }
    }
    if (!points.length) return sending
    sending = sending.then(async () => {
      const id = await created
      if (id && !failed) await post(`/api/v1/runs/points?run=${encodeURIComponent(id)}`, { points }).catch(fail)
    })
    return sending
  }
  // Once a second, the finished seconds.
  const timer = setInterval(() => void flush(false), 1000)
  timer.unref()
  return async () => {
    clearInterval(timer)
    await flush(true)
    const id = await created
    if (!id || failed) return
    const ths = thresholds().map((t) => ({ metric: t.metric, source: t.source, ok: t.ok }))
    await post(`/api/v1/runs/finish?run=${encodeURIComponent(id)}`, { ended: Date.now(), thresholds: ths }).catch(fail)
    if (!failed) warn(`run stored in Kiln: ${base}/?page=runs&run=${id} (API: ${base}/api/v1/runs/get?run=${id})\n`)
  }
}
