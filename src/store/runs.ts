import type { ClickHouseClient } from '@clickhouse/client'
import { sqlString } from './client.ts'
import type { RunPoint } from '../model/run.ts'
import type { StoredRun as RunInfo, RunSummary } from '../model/run-summary.ts'

export type { RunPoint, RunInfo, RunSummary }

/** Load-test runs and their per-second metric aggregates. */
export class Runs {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly db: string,
  ) {}

  async save(tenant: string, r: RunInfo): Promise<void> {
    await this.client.insert({
      table: `${this.db}.runs`,
      values: [
        {
          tenant,
          run_id: r.id,
          script: r.script,
          tags: r.tags,
          profile: r.profile,
          started: r.started,
          ended: r.ended,
          thresholds: JSON.stringify(r.thresholds),
          summary: r.summary ? JSON.stringify(r.summary) : '',
          updated: Date.now(),
        },
      ],
      format: 'JSONEachRow',
    })
  }

  async addPoints(tenant: string, id: string, points: RunPoint[]): Promise<void> {
    if (!points.length) return
    const values = points.map((p) => ({
      tenant,
      run_id: id,
      metric: p.metric,
      type: p.type,
      time: Math.floor(p.t / 1000),
      count: p.count,
      sum: p.sum,
      min: p.min,
      max: p.max,
      hist: p.hist ?? {},
    }))
    await this.client.insert({ table: `${this.db}.run_points`, values, format: 'JSONEachRow' })
  }

  async list(tenant: string, id?: string): Promise<RunInfo[]> {
    const rs = await this.client.query({
      query: `SELECT run_id, script, tags, profile, toUnixTimestamp64Milli(started), toUnixTimestamp64Milli(ended), thresholds, summary
              FROM ${this.db}.runs FINAL WHERE tenant = ${sqlString(tenant)}${id ? ` AND run_id = ${sqlString(id)}` : ''} ORDER BY started DESC LIMIT 1000`,
      format: 'JSONCompactEachRow',
    })
    const rows = (await rs.json()) as [string, string, Record<string, string>, string, string, string, string, string][]
    return rows.map(([id, script, tags, profile, started, ended, th, summary]) => ({
      id,
      script,
      tags,
      profile,
      started: Number(started),
      ended: Number(ended),
      thresholds: JSON.parse(th || '[]'),
      ...(summary ? { summary: JSON.parse(summary) as RunSummary } : {}),
    }))
  }

  async points(tenant: string, id: string): Promise<RunPoint[]> {
    const rs = await this.client.query({
      query: `SELECT metric, any(type), toUnixTimestamp(time) * 1000, sum(count), sum(sum), min(min), max(max), sumMap(hist) FROM ${this.db}.run_points
              WHERE tenant = ${sqlString(tenant)} AND run_id = ${sqlString(id)} GROUP BY metric, time ORDER BY metric, time`,
      format: 'JSONCompactEachRow',
    })
    type Row = [string, string, string, string, number, number, number, Record<string, string | number>]
    return ((await rs.json()) as Row[]).map(([metric, type, t, count, sum, min, max, hist]) => {
      const p: RunPoint = { metric, type, t: Number(t), count: Number(count), sum, min, max }
      if (Object.keys(hist).length) p.hist = Object.fromEntries(Object.entries(hist).map(([k, v]) => [k, Number(v)]))
      return p
    })
  }
}
