import type { ClickHouseClient } from '@clickhouse/client'
import { CallTree } from '../model/tree.ts'
import type { Matcher } from '../model/selector.ts'
import { KilnError } from '../model/errors.ts'
import type { ProfileRef } from '../model/profile-id.ts'

/** What a query selects: a tenant, an optional profile type, label matchers and a time range. */
export interface Selection {
  tenant: string
  profileType?: string
  matchers: Matcher[]
  /** ms since the epoch, [from, until). */
  from: number
  until: number
  /** Only samples of these spans (their UInt64 ids as decimal text, src/model/span.ts); absent: every sample. */
  spanIds?: string[]
  /** Only these profiles (a series at a time, src/model/profile-id.ts); absent: every profile. */
  profiles?: ProfileRef[]
}

/** A function id's row: its name and where it is ('' and 0 when the profile did not say). */
export interface StoredFrame {
  name: string
  file: string
  line: number
  mapping: string
  buildId: string
}

export interface TimelineSeries {
  labels: Record<string, string>
  points: [number, number][]
  /** With `exemplars`: per point, the largest profile in it. */
  exemplars?: Exemplar[]
}

/** A profile standing for a point of a timeline: which, when, how much, its series' labels. */
export interface Exemplar extends ProfileRef {
  value: number
  labels: Record<string, string>
}

/** Query parameters: every value a user gave goes to ClickHouse bound, never spliced into the SQL. */
class Params {
  readonly values: Record<string, unknown> = {}
  private n = 0
  /** Binds a value; returns its `{pN:Type}` placeholder. */
  bind(value: unknown, type: string): string {
    const k = `p${this.n++}`
    this.values[k] = value
    return `{${k}:${type}}`
  }
  ms(t: number): string {
    return `fromUnixTimestamp64Milli(${this.bind(Math.floor(t), 'Int64')})`
  }
}

// ClickHouse's CANNOT_COMPILE_REGEXP: RE2 refuses what JavaScript accepted (lookahead, backreferences).
const CANNOT_COMPILE_REGEXP = '427'

/**
 * Stacks and function names already read, keyed `tenant\0id`. Both are named by a hash of their
 * content, so a cached one never goes stale: a dashboard asking again reads only the merge. A
 * stack is cached with its functions' names (read in the same query), and both maps start over
 * together once they hold `limit` entries, so a cached stack always has its names.
 */
class Symbols {
  readonly stacks = new Map<string, string[]>()
  readonly names = new Map<string, string>()
  constructor(private readonly limit: number) {}
  /** Called before each read: makes room. */
  trim(): void {
    if (this.stacks.size + this.names.size <= this.limit) return
    this.stacks.clear()
    this.names.clear()
  }
}

/** Read queries over Kiln's tables: aggregation in SQL, only merged results cross into JS. */
export class Reader {
  // 400,000 entries (stacks of ~20 frames, names): ~100 MB at most.
  private readonly symbols = new Symbols(400_000)
  constructor(
    private readonly client: ClickHouseClient,
    private readonly db: string,
  ) {}

  private async rows<T = unknown[]>(query: string, p: Params): Promise<T[]> {
    try {
      const rs = await this.client.query({ query, format: 'JSONCompactEachRow', query_params: p.values })
      return (await rs.json()) as T[]
    } catch (e) {
      const err = e as Error & { code?: string }
      if (err.code === CANNOT_COMPILE_REGEXP) {
        throw new KilnError(
          'KILN_SELECTOR_SYNTAX',
          `a regular expression of the selector is not one ClickHouse (RE2) can run: ${err.message.split('\n')[0]!.slice(0, 300)}; lookarounds and backreferences are not supported`,
        )
      }
      throw e
    }
  }

  /** SQL condition on `series` rows for the label matchers. */
  private labelConds(matchers: Matcher[], p: Params): string {
    return matchers
      .map((m) => {
        const v = `labels[${p.bind(m.name, 'String')}]`
        switch (m.op) {
          case '=':
            return `${v} = ${p.bind(m.value, 'String')}`
          case '!=':
            return `${v} != ${p.bind(m.value, 'String')}`
          case '=~':
            return `match(${v}, ${p.bind(`^(?:${m.value})$`, 'String')})`
          case '!~':
            return `NOT match(${v}, ${p.bind(`^(?:${m.value})$`, 'String')})`
        }
      })
      .map((c) => ` AND ${c}`)
      .join('')
  }

  /** `tenant = … [AND profile_type = …]`, on a table alias or none. */
  private scope(s: Selection, p: Params, alias = ''): string {
    const a = alias ? `${alias}.` : ''
    return `${a}tenant = ${p.bind(s.tenant, 'String')}${s.profileType ? ` AND ${a}profile_type = ${p.bind(s.profileType, 'String')}` : ''}`
  }

  /** `series` rows matching the selection's type and labels, with extra columns. */
  private seriesSelect(s: Selection, p: Params, columns = 'series_id'): string {
    return `SELECT ${columns} FROM ${this.db}.series WHERE ${this.scope(s, p)}${this.labelConds(s.matchers, p)}`
  }

  /** WHERE clause over `samples` or `profiles` for a selection. */
  private where(s: Selection, p: Params, alias = ''): string {
    const a = alias ? `${alias}.` : ''
    const series = s.matchers.length ? ` AND ${a}series_id IN (${this.seriesSelect(s, p)})` : ''
    return `${this.scope(s, p, alias)} AND ${a}time >= ${p.ms(s.from)} AND ${a}time < ${p.ms(s.until)}${series}`
  }

  /** WHERE clause over `samples`: the selection's, and its spans and profiles when it names some. */
  private sampleWhere(s: Selection, p: Params): string {
    const spans = s.spanIds ? ` AND span_id IN ${p.bind(s.spanIds.map(BigInt), 'Array(UInt64)')}` : ''
    // Two arrays zipped in SQL: the client sends a bound tuple as an array, which ClickHouse refuses.
    const refs = s.profiles
      ? `arrayZip(${p.bind(
          s.profiles.map((r) => BigInt(r.seriesId)),
          'Array(UInt64)',
        )}, ${p.bind(
          s.profiles.map((r) => Math.floor(r.timeMs)),
          'Array(Int64)',
        )})`
      : ''
    const profiles = refs ? ` AND has(${refs}, (series_id, toUnixTimestamp64Milli(time)))` : ''
    return this.where(s, p) + spans + profiles
  }

  /** Profile types with data in the range. */
  async profileTypes(s: Selection): Promise<string[]> {
    const p = new Params()
    const r = await this.rows<[string]>(
      `SELECT DISTINCT profile_type FROM ${this.db}.profiles WHERE ${this.where(s, p)} ORDER BY profile_type`,
      p,
    )
    return r.map((x) => x[0])
  }

  private activeSeries(s: Selection, p: Params): string {
    return `SELECT DISTINCT series_id FROM ${this.db}.profiles WHERE ${this.where(s, p)}`
  }

  async labelNames(s: Selection): Promise<string[]> {
    const p = new Params()
    const r = await this.rows<[string]>(
      `SELECT DISTINCT arrayJoin(mapKeys(labels)) AS n FROM ${this.db}.series WHERE tenant = ${p.bind(s.tenant, 'String')} AND series_id IN (${this.activeSeries(s, p)}) ORDER BY n`,
      p,
    )
    return r.map((x) => x[0])
  }

  async labelValues(s: Selection, name: string): Promise<string[]> {
    const p = new Params()
    const r = await this.rows<[string]>(
      `SELECT DISTINCT labels[${p.bind(name, 'String')}] AS v FROM ${this.db}.series WHERE tenant = ${p.bind(s.tenant, 'String')} AND series_id IN (${this.activeSeries(s, p)}) AND v != '' ORDER BY v`,
      p,
    )
    return r.map((x) => x[0])
  }

  /** Label sets (with their profile type) of series with data in the range. */
  async series(s: Selection): Promise<{ profileType: string; labels: Record<string, string> }[]> {
    const p = new Params()
    const r = await this.rows<[string, Record<string, string>]>(
      `SELECT profile_type, any(labels) FROM ${this.db}.series WHERE tenant = ${p.bind(s.tenant, 'String')} AND series_id IN (${this.activeSeries(s, p)}) GROUP BY profile_type, series_id ORDER BY profile_type, series_id`,
      p,
    )
    return r.map(([profileType, labels]) => ({ profileType, labels }))
  }

  /**
   * The merged call tree of every sample in the selection: the merge by stack id (the bare GROUP
   * BY), then the stacks it names and their functions' names, by id, for those not cached. One
   * query with the merge as a CTE joined to the stacks ran the merge twice (a CTE is inlined where
   * it is used): 2.36× the bare GROUP BY (bench/query.bench.ts).
   */
  async mergedTree(s: Selection): Promise<CallTree> {
    const p = new Params()
    const merged = await this.rows<[string, string]>(
      `SELECT stack_id, sum(value) FROM ${this.db}.samples WHERE ${this.sampleWhere(s, p)} GROUP BY stack_id`,
      p,
    )
    const { stacks: cachedStacks, names: cachedNames } = this.symbols
    this.symbols.trim()
    const key = `${s.tenant}\u0000`
    // What this read uses, taken from the cache before any await (another read may clear it meanwhile).
    const stackFns = new Map<string, string[]>()
    const names = new Map<string, string | undefined>()
    const missing: string[] = []
    for (const [id] of merged) {
      const fns = cachedStacks.get(key + id)
      if (!fns) missing.push(id)
      else {
        stackFns.set(id, fns)
        for (const f of fns) if (!names.has(f)) names.set(f, cachedNames.get(key + f))
      }
    }
    // In chunks of 8,192 ids (~160 KiB of parameter, well inside what a URL carries to a ClickHouse server).
    for (let k = 0; k < missing.length; k += 8192) {
      const q = new Params()
      const t = q.bind(s.tenant, 'String')
      const ids = q.bind(missing.slice(k, k + 8192).map(BigInt), 'Array(UInt64)')
      // Stacks (kind 0) and the names of their functions (kind 1), in one round trip.
      const rows = await this.rows<[number, string, string[], string]>(
        `SELECT 0, stack_id, any(function_ids), '' FROM ${this.db}.stacks WHERE tenant = ${t} AND stack_id IN ${ids} GROUP BY stack_id
         UNION ALL
         SELECT 1, function_id, [], any(name) FROM ${this.db}.functions WHERE tenant = ${t}
           AND function_id IN (SELECT arrayJoin(function_ids) FROM ${this.db}.stacks WHERE tenant = ${t} AND stack_id IN ${ids}) GROUP BY function_id`,
        q,
      )
      for (const [kind, id, fns, name] of rows) {
        if (kind === 0) stackFns.set(id, fns)
        else names.set(id, name)
      }
      // Cached once the query answered: a cached stack always has its functions' names.
      for (const [kind, id, fns, name] of rows) {
        if (kind === 0) cachedStacks.set(key + id, fns)
        else cachedNames.set(key + id, name)
      }
    }
    const tree = new CallTree()
    const nameId = new Map<string, number>()
    for (const [id, name] of names) if (name !== undefined) nameId.set(id, tree.nameId(name))
    const unknown = tree.nameId('[unknown]')
    const path: number[] = []
    for (const [stackId, v] of merged) {
      const fns = stackFns.get(stackId)
      if (!fns) continue
      path.length = fns.length
      for (let i = 0; i < fns.length; i++) path[i] = nameId.get(fns[i]!) ?? unknown
      tree.addIds(path, Number(v))
    }
    return tree
  }

  /**
   * `function_ids[i]` has the name `names[i]`, for each i: by name, since one function at several
   * source lines is several function ids (a name-only frame's id is the hash of its name).
   */
  private namedFrames(tenant: string, names: string[], p: Params): string {
    const t = p.bind(tenant, 'String')
    return names
      .map(
        (n, i) =>
          `function_ids[${i + 1}] IN (SELECT function_id FROM ${this.db}.functions WHERE tenant = ${t} AND name = ${p.bind(n, 'String')})`,
      )
      .join(' AND ')
  }

  /**
   * The merged stacks of a selection with each frame's name and source (file, line, binary), for
   * a pprof that keeps them (SelectMergeProfile): what mergedTree reads, uncached and unmerged by name.
   */
  async mergedFrames(s: Selection): Promise<{ stacks: [string[], number][]; frames: Map<string, StoredFrame>; period: number }> {
    const p = new Params()
    const merged = await this.rows<[string, string]>(
      `SELECT stack_id, sum(value) FROM ${this.db}.samples WHERE ${this.sampleWhere(s, p)} GROUP BY stack_id`,
      p,
    )
    const pp = new Params()
    const [[period] = ['0']] = await this.rows<[string]>(this.seriesSelect(s, pp, 'max(period)'), pp)
    const fnsOf = new Map<string, string[]>()
    const frames = new Map<string, StoredFrame>()
    for (let k = 0; k < merged.length; k += 8192) {
      const q = new Params()
      const t = q.bind(s.tenant, 'String')
      const ids = q.bind(
        merged.slice(k, k + 8192).map(([id]) => BigInt(id)),
        'Array(UInt64)',
      )
      const rows = await this.rows<[number, string, string[], string, string, string, string, string]>(
        `SELECT 0, stack_id, any(function_ids), '', '', toInt64(0), '', '' FROM ${this.db}.stacks WHERE tenant = ${t} AND stack_id IN ${ids} GROUP BY stack_id
         UNION ALL
         SELECT 1, function_id, [], any(name), any(file), any(line), any(mapping), any(build_id) FROM ${this.db}.functions WHERE tenant = ${t}
           AND function_id IN (SELECT arrayJoin(function_ids) FROM ${this.db}.stacks WHERE tenant = ${t} AND stack_id IN ${ids}) GROUP BY function_id`,
        q,
      )
      for (const [kind, id, fns, name, file, line, mapping, buildId] of rows) {
        if (kind === 0) fnsOf.set(id, fns)
        else frames.set(id, { name, file, line: Number(line), mapping, buildId })
      }
    }
    const stacks: [string[], number][] = []
    for (const [id, v] of merged) {
      const fns = fnsOf.get(id)
      if (fns) stacks.push([fns, Number(v)])
    }
    return { stacks, frames, period: Number(period) }
  }

  /**
   * Totals over time in steps of `stepS` seconds, one series per combination of `groupBy` labels.
   * `average` divides each bucket's sum by the number of profiles in it (Pyroscope's AVERAGE).
   */
  async timeline(
    s: Selection,
    opts: {
      stepS: number
      groupBy: string[]
      aggregation: 'sum' | 'average'
      limit?: number
      callSite?: string[]
      /** Each point also names its largest profile (Pyroscope's one exemplar per point). */
      exemplars?: boolean
    },
  ): Promise<TimelineSeries[]> {
    const step = Math.max(1, Math.round(opts.stepS))
    // Per-profile totals: from the profiles table, or — for the stacks through a call site
    // (a root-first prefix of function names) — summed from the samples of those stacks.
    const p = new Params()
    const inRange = this.where({ ...s, matchers: [] }, p)
    const site = opts.callSite ?? []
    const source = site.length
      ? `(SELECT series_id, time, sum(value) AS total FROM ${this.db}.samples WHERE ${inRange} AND stack_id IN (
           SELECT stack_id FROM ${this.db}.stacks WHERE tenant = ${p.bind(s.tenant, 'String')}
           AND length(function_ids) >= ${site.length} AND ${this.namedFrames(s.tenant, site, p)}) GROUP BY series_id, time)`
      : `(SELECT series_id, time, total FROM ${this.db}.profiles WHERE ${inRange})`
    const groups = opts.groupBy.map((g, i) => `labels[${p.bind(g, 'String')}] AS g${i}`)
    const gcols = opts.groupBy.map((_, i) => `g${i}`)
    const agg = opts.aggregation === 'average' ? 'sum(p.total) / count()' : 'sum(p.total)'
    const seriesSel = this.seriesSelect(s, p, ['series_id', ...groups].join(', '))
    const bucket = `toUnixTimestamp(toStartOfInterval(p.time, INTERVAL ${p.bind(step, 'UInt32')} SECOND)) * 1000`
    const ex = opts.exemplars ? ', argMax(tuple(p.series_id, toUnixTimestamp64Milli(p.time), p.total), p.total)' : ''
    const r = await this.rows<unknown[]>(
      `SELECT ${bucket} AS t${gcols.length ? ', ' + gcols.map((g) => `s.${g}`).join(', ') : ''}, ${agg} AS v${ex}
       FROM ${source} AS p
       INNER JOIN (SELECT * FROM (${seriesSel}) LIMIT 1 BY series_id) AS s ON s.series_id = p.series_id
       GROUP BY t${gcols.length ? ', ' + gcols.map((g) => `s.${g}`).join(', ') : ''}
       ORDER BY t`,
      p,
    )
    const bySeries = new Map<string, TimelineSeries>()
    const n = opts.groupBy.length
    for (const row of r) {
      const t = Number(row[0])
      const vals = opts.groupBy.map((_, i) => String(row[1 + i]))
      const v = Number(row[1 + n])
      const key = JSON.stringify(vals)
      let ser = bySeries.get(key)
      if (!ser) {
        const labels: Record<string, string> = {}
        opts.groupBy.forEach((g, i) => (labels[g] = vals[i]!))
        ser = { labels, points: [], ...(opts.exemplars ? { exemplars: [] } : {}) }
        bySeries.set(key, ser)
      }
      ser.points.push([t, v])
      const e = row[2 + n] as [string, string, string] | undefined
      if (e) ser.exemplars!.push({ seriesId: String(e[0]), timeMs: Number(e[1]), value: Number(e[2]), labels: {} })
    }
    if (opts.exemplars)
      await this.exemplarLabels(
        s.tenant,
        [...bySeries.values()].flatMap((x) => x.exemplars!),
      )
    let out = [...bySeries.values()]
    if (opts.limit && opts.limit > 0 && out.length > opts.limit) {
      const sum = (x: TimelineSeries) => x.points.reduce((a, p) => a + p[1], 0)
      out = out.sort((a, b) => sum(b) - sum(a)).slice(0, opts.limit)
    }
    return out
  }

  /** Fills in the labels of the exemplars' series. */
  private async exemplarLabels(tenant: string, exemplars: Exemplar[]): Promise<void> {
    const ids = [...new Set(exemplars.map((e) => e.seriesId))]
    if (!ids.length) return
    const p = new Params()
    const rows = await this.rows<[string, Record<string, string>]>(
      `SELECT series_id, any(labels) FROM ${this.db}.series WHERE tenant = ${p.bind(tenant, 'String')} AND series_id IN ${p.bind(ids.map(BigInt), 'Array(UInt64)')} GROUP BY series_id`,
      p,
    )
    const labels = new Map(rows.map(([id, l]) => [String(id), l]))
    for (const e of exemplars) e.labels = labels.get(e.seriesId) ?? {}
  }

  /** Oldest and newest profile time of a tenant, ms (0 when there is none). */
  async profileStats(tenant: string): Promise<{ count: number; oldest: number; newest: number }> {
    const p = new Params()
    const [row] = await this.rows<[string, string, string]>(
      `SELECT count(), toUnixTimestamp64Milli(min(time)), toUnixTimestamp64Milli(max(time)) FROM ${this.db}.profiles WHERE tenant = ${p.bind(tenant, 'String')}`,
      p,
    )
    const n = Number(row?.[0] ?? 0)
    return { count: n, oldest: n ? Number(row![1]) : 0, newest: n ? Number(row![2]) : 0 }
  }

  /** Total per value of one label, largest first. */
  async breakdown(s: Selection, label: string): Promise<{ value: string; total: number }[]> {
    const q = new Params()
    const r = await this.rows<[string, string]>(
      `SELECT s.v, sum(p.total) AS tot FROM ${this.db}.profiles AS p
       INNER JOIN (${this.seriesSelect(s, q, `series_id, any(labels[${q.bind(label, 'String')}]) AS v`)} GROUP BY series_id) AS s
       ON s.series_id = p.series_id
       WHERE ${this.where({ ...s, matchers: [] }, q, 'p')}
       GROUP BY s.v ORDER BY tot DESC`,
      q,
    )
    return r.map(([value, total]) => ({ value, total: Number(total) }))
  }
}
