/**
 * `-o kiln=http://localhost:4040`: stores the run in a Kiln server — per-second aggregates of every
 * metric, the thresholds' outcome, the script and tags, and (with `--profile SELECTOR`) which
 * profiles cover the run's window, so the server shows the target's flame graph for this run.
 */
import { basename } from 'node:path'
import type { Metric, Registry, Sample } from './metrics.ts'
import type { Threshold } from './thresholds.ts'
import { histAdd, type RunPoint } from '../../model/run.ts'
import { toRunSummary } from '../../model/run-summary.ts'
import type { SummaryLike } from './report-data.ts'
import { request, type ClientOptions } from '../../client/client.ts'

export interface KilnRunMeta {
  /** The end-of-test summary once printed (null before): its duration and rates go with the run's end. */
  summary?: () => SummaryLike | null
  script: string
  tags: Record<string, string>
  profile?: string
  /** X-Scope-OrgID for a multi-tenant server (`--tenant`); the token comes from KILN_AUTH_TOKEN, as for every CLI command. */
  tenant?: string
}

/** The stored run, as profile thresholds and baselines read it back. */
export interface KilnOutput {
  client: ClientOptions
  /**
   * Sends every point and the run's end; resolves to the run id, or '' with `failure` set when
   * the run could not be stored. The end time is fixed by the first call.
   */
  end(): Promise<string>
  /** Why the run is not stored (the server is down or refused it); null while all is well. */
  failure: string | null
  /** Sends the thresholds' final outcome (after `end`). */
  close(): Promise<void>
}

/** Subscribes to samples; returns the stored run's handle. */
export function attachKilnOutput(
  server: string,
  registry: Registry,
  thresholds: () => Threshold[],
  meta: KilnRunMeta,
  warn: (s: string) => void,
): KilnOutput {
  const base = server.replace(/\/+$/, '')
  const client: ClientOptions = { server: base, ...(meta.tenant ? { tenant: meta.tenant } : {}) }
  // 30 s: a server's durable inserts took over 10 s at load 24 on a shared 2-core machine, and a
  // run not stored cannot be judged by its profile thresholds.
  const post = async (path: string, body: unknown) => {
    const r = await request(client, path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    })
    return (await r.json()) as { id?: string }
  }
  let failed = false
  const fail = (e: unknown) => {
    if (!failed) warn(`output kiln=${server}: ${(e as Error).message}; the run goes on, its results are not stored\n`)
    failed = true
    out.failure ??= (e as Error).message
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
  let ended = 0
  const finish = async (): Promise<string> => {
    const id = await created
    if (!id || failed) return ''
    const summary = meta.summary?.()
    const ths = thresholds().map((t) => ({ metric: t.metric, source: t.source, ok: t.ok }))
    await post(`/api/v1/runs/finish?run=${encodeURIComponent(id)}`, {
      ended,
      thresholds: ths,
      ...(summary ? { summary: toRunSummary(summary) } : {}),
    }).catch(fail)
    return failed ? '' : id
  }
  let ending: Promise<string> | null = null
  const out: KilnOutput = {
    client,
    failure: null,
    end: () =>
      (ending ??= (async () => {
        clearInterval(timer)
        ended = Date.now()
        await flush(true)
        return finish()
      })()),
    close: async () => {
      // Ended before (to judge profile thresholds): send the end again, with their outcome.
      const judged = ending !== null
      let id = await out.end()
      if (judged && id) id = await finish()
      if (id) warn(`run stored in Kiln: ${base}/?page=runs&run=${id} (API: ${base}/api/v1/runs/get?run=${id})\n`)
    },
  }
  return out
}
