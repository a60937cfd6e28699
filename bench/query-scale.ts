/**
 * The query benchmark's scale curve: Kiln's merged flame graph and the bare `GROUP BY stack_id`
 * over 1 h, 24 h and 7 days of 100 series, and over 1 h of 10,000 series, so that how each grows
 * with the data is visible. Samples are generated inside the engine (`INSERT … SELECT` over
 * `numbers()`): 7 days through the writer would take hours here. Stacks, functions and series go
 * through Kiln's writer, so every id the samples carry is one Kiln wrote.
 */
import { decimalIds, prepareWrite } from '../src/store/prepare.ts'
import { makeLabels } from '../src/model/labels.ts'
import { flameGraph } from '../src/model/flamegraph.ts'
import type { Selection, Store, SeriesWrite } from '../src/store/index.ts'
import { fmt } from './support.ts'

const STEP_MS = 10_000
const HOUR = 3_600_000
// Fewer stacks per profile than the main run's 150: 7 days of 100 series is already 121 M rows.
const STACKS = Number(process.env.BENCH_SCALE_STACKS ?? 20)
const ROUNDS = Number(process.env.BENCH_SCALE_ROUNDS ?? 5)

/** The least any merged flame graph must cost: the merge by stack id in SQL, fetched into JS. */
export async function bareGroupBy(store: Store, s: Selection): Promise<void> {
  const rs = await store.client.query({
    query: `SELECT stack_id, sum(value) FROM kiln.samples WHERE tenant = {t:String} AND profile_type = {type:String} AND time >= fromUnixTimestamp64Milli({from:Int64}) AND time < fromUnixTimestamp64Milli({until:Int64}) GROUP BY stack_id`,
    query_params: { t: s.tenant, type: s.profileType, from: s.from, until: s.until },
    format: 'JSONCompactEachRow',
  })
  await rs.json()
}

/** Median ms of `rounds` interleaved pairs (Kiln and bare, in alternating order): both see the same machine noise; and Kiln's first (cold) run. */
async function pairs(rounds: number, kiln: () => Promise<unknown>, bare: () => Promise<unknown>): Promise<[number, number, number]> {
  const k: number[] = []
  const b: number[] = []
  const t = performance.now()
  await kiln()
  const cold = performance.now() - t
  await bare()
  const time = async (f: () => Promise<unknown>, into: number[]) => {
    const t0 = performance.now()
    await f()
    into.push(performance.now() - t0)
  }
  // The order alternates (Kiln first, then the bare query first): a query that runs second may
  // find caches the first warmed, and a fixed order would hand that to one side every time.
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      await time(kiln, k)
      await time(bare, b)
    } else {
      await time(bare, b)
      await time(kiln, k)
    }
  }
  const med = (x: number[]) => x.sort((p, q) => p - q)[Math.floor(x.length / 2)]!
  return [med(k), med(b), cold]
}

/**
 * Writes `series` series of the synthetic program for `hours` hours at 10 s, `STACKS` samples per
 * profile drawn Zipf-like from `stacks`, in tenant `tenant`; returns the rows written.
 */
async function load(
  store: Store,
  tenant: string,
  opts: { series: number; hours: number; t0: number; functions: string[]; stacks: number[][]; type: string },
): Promise<number> {
  const started = performance.now()
  // One profile per series an hour before the range, through the writer: the series rows, and
  // (in the first) every stack and function.
  const writes: SeriesWrite[] = []
  for (let s = 0; s < opts.series; s++) {
    const all = s === 0
    writes.push({
      profileType: opts.type,
      labels: makeLabels([
        ['__name__', 'process_cpu'],
        ['service_name', `svc${s % 10}`],
        ['pod', `pod-${s}`],
      ]),
      timeMs: opts.t0 - HOUR,
      durationNs: 10e9,
      functions: opts.functions,
      stacks: all ? opts.stacks : [opts.stacks[0]!],
      values: all ? opts.stacks.map(() => 1) : [1],
    })
  }
  for (let i = 0; i < writes.length; i += 1000) await store.writer.write(tenant, writes.slice(i, i + 1000))
  const nowS = Math.floor(Date.now() / 1000)
  const seriesIds = writes.map((w) => BigInt(prepareWrite(tenant, w, nowS).seriesId))
  const stackIds = decimalIds(prepareWrite(tenant, writes[0]!, nowS).stacks)
  const steps = (opts.hours * HOUR) / STEP_MS
  const rows = opts.series * steps * STACKS
  // n → (series, step, k); the stack drawn as r³ of a hash of n, so a few stacks are hot.
  await store.client.command({
    query: `INSERT INTO kiln.samples (tenant, profile_type, series_id, time, stack_id, value, duration_ns)
      SELECT {t:String}, {type:String},
        {series:Array(UInt64)}[1 + intDiv(number, ${steps * STACKS})],
        fromUnixTimestamp64Milli(toInt64({t0:Int64} + (intDiv(number, ${STACKS}) % ${steps}) * ${STEP_MS})),
        {stacks:Array(UInt64)}[1 + toUInt32(floor(${stackIds.length} * pow((cityHash64(number, 7) % 1000003) / 1000003, 3)))],
        10000000 * (1 + cityHash64(number, 11) % 20),
        10000000000
      FROM numbers(${rows})`,
    query_params: { t: tenant, type: opts.type, series: seriesIds, stacks: stackIds, t0: opts.t0 },
  })
  process.stderr.write(`scale: ${tenant} ${fmt(rows, 0)} rows in ${fmt((performance.now() - started) / 1000)} s\n`)
  return rows
}

/** Loads the scale data, measures each case in interleaved pairs and prints the curve. */
export async function scaleCurve(store: Store, program: { functions: string[]; stacks: number[][]; type: string }): Promise<void> {
  const t0 = Date.UTC(2026, 1, 1)
  const week = await load(store, 'scale100', { series: 100, hours: 168, t0, ...program })
  const wide = await load(store, 'scale10k', { series: 10_000, hours: 1, t0, ...program })
  const cases: [string, string, number, number][] = [
    ['100 series, 1 h', 'scale100', HOUR, week / 168],
    ['100 series, 24 h', 'scale100', 24 * HOUR, week / 7],
    ['100 series, 7 d', 'scale100', 168 * HOUR, week],
    ['10,000 series, 1 h', 'scale10k', HOUR, wide],
  ]
  console.log(`\nscale curve (${STACKS} samples per profile, 10 s apart; medians of ${ROUNDS} interleaved pairs):`)
  console.log('case                  rows        bare GROUP BY   kiln flame graph   ratio   kiln first read (cold)')
  for (const [name, tenant, span, rows] of cases) {
    // The last hours of the data: the range a user opens.
    const until = t0 + 168 * HOUR * Number(tenant === 'scale100') + HOUR * Number(tenant === 'scale10k')
    const sel: Selection = { tenant, profileType: program.type, matchers: [], from: until - span, until }
    const [kiln, bare, cold] = await pairs(
      ROUNDS,
      async () => flameGraph(await store.reader.mergedTree(sel), 8192),
      () => bareGroupBy(store, sel),
    )
    console.log(
      `${name.padEnd(20)}  ${fmt(rows, 0).padStart(11)}  ${fmt(bare, 0).padStart(10)} ms  ${fmt(kiln, 0).padStart(13)} ms   ${(kiln / bare).toFixed(2)}   ${fmt(cold, 0)} ms (${(cold / bare).toFixed(2)})`,
    )
  }
}
