/**
 * The trace agent's user-space cost per capture event, without nginx and wrk competing for the
 * same cores: the capture loader's stream is recorded once under wrk against nginx, then replayed
 * in this process through the agent's own pipeline — event decoding, connection tracking, protocol
 * parsing and pairing, row text with the process columns, batching and gzip, the POST to a sink
 * in another process — and its CPU time (process.cpuUsage) divided by the events and by the rows.
 * The recording is the kernel's raw events (the loader with --http1 off); each round replays it
 * twice: as is (the agent parses every transfer) and as the loader's HTTP/1 parser passes it on
 * (`kiln-capture --replay`, its CPU measured by the shell's `times`: one record per request). With
 * `KILN_BENCH_BASELINE=/path/to/another/checkout` (its src/ is imported), that tree's pipeline
 * replays the raw recording in every round too, interleaved. Method: bench/README.md
 * ("trace-replay"). Root only; skips with a reason otherwise.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fmt } from './support.ts'
import { startNginx } from '../test/trace/services.ts'
import { captureUnavailable } from '../test/trace/capture/helpers.ts'
import { buildLoader } from '../src/trace/capture/build.ts'

const SECONDS = Number(process.env.KILN_BENCH_SECONDS ?? 4)
const ROUNDS = Number(process.env.KILN_BENCH_ROUNDS ?? 5)
const BASELINE = process.env.KILN_BENCH_BASELINE
/** A file holding a recording: replayed when it exists, else written once recorded (pairs of runs on the same bytes). */
const RECORDING = process.env.KILN_BENCH_RECORDING
/** Which replays run (default all): raw (the agent parses), loader, plain (the loader's, uploads not gzipped), baseline. */
const MODES = process.env.KILN_BENCH_MODES?.split(',')
const here = join(import.meta.dirname, '..')

const why =
  captureUnavailable() ?? (spawnSync('sh', ['-c', 'command -v wrk']).status === 0 ? null : 'wrk is not installed (apt-get install wrk)')
if (why) {
  console.log(`trace-replay: skipped: ${why}`)
  process.exit(0)
}

/** The loader's stream while wrk (-t1 -c16) loads nginx for SECONDS. */
async function record(): Promise<Buffer> {
  const nginx = await startNginx()
  if ('skip' in nginx) {
    console.log(`trace-replay: skipped: ${nginx.skip}`)
    process.exit(0)
  }
  try {
    // Nothing skipped: wrk is this process's child, and the agent's rule (its own pid and children) would hide it.
    const loader = spawn(buildLoader(), ['--http1', 'off'], { stdio: ['pipe', 'pipe', 'ignore'] })
    const chunks: Buffer[] = []
    loader.stdout.on('data', (c: Buffer) => chunks.push(c))
    await sleep(1500)
    const wrk = spawn('wrk', ['-t1', '-c16', `-d${SECONDS}s`, `http://127.0.0.1:${nginx.port}/`], { stdio: 'ignore' })
    await new Promise((r) => wrk.on('close', r))
    loader.stdin.end()
    await new Promise((r) => loader.on('close', r))
    return Buffer.concat(chunks)
  } finally {
    await nginx.stop()
  }
}

/** A sink in its own process, so reading the uploads is not counted as the agent's CPU. */
async function startSink(): Promise<{ url: string; stop: () => void }> {
  const code = `const s=require('http').createServer((q,r)=>{q.resume();q.on('end',()=>r.end('{}'))});s.listen(0,'127.0.0.1',()=>console.log(s.address().port))`
  const p = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<string>((r) => p.stdout.once('data', (d: Buffer) => r(d.toString().trim())))
  return { url: `http://127.0.0.1:${port}`, stop: () => p.kill() }
}

/** `rows`: made (emitted by the tracker); `sent`: uploaded (fewer when the sink fell behind). */
type Result = { cpuUs: number; events: number; rows: number; sent: number; loaderUs?: number }

/** The raw recording through the loader's HTTP/1 parser (--replay), and the loader's CPU for it. */
function throughLoader(rec: Buffer, compact: boolean): { out: Buffer; cpuUs: number } {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-replay-'))
  try {
    writeFileSync(join(dir, 'in'), rec)
    // bash's `times`: the children's user and system time, after the loader has exited.
    const rows = compact ? ' --http1-rows compact' : ''
    const r = spawnSync('bash', ['-c', `"$0" --replay${rows} < "$1"/in > "$1"/out; times`, buildLoader(), dir], { encoding: 'utf8' })
    const t = [...r.stdout.split('\n')[1]!.matchAll(/(\d+)m([\d.]+)s/g)].reduce((a, m) => a + Number(m[1]) * 60 + Number(m[2]), 0)
    return { out: readFileSync(join(dir, 'out')), cpuUs: t * 1e6 }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Replays the recording through the pipeline of the tree at `root`, as socket-source.ts and the
 * agent's runner run it. `gzip`: the runner's option (default on), where the tree has it (a tree
 * before the grouped body always gzips).
 */
async function replay(root: string, rec: Buffer, server: string, gzip?: boolean): Promise<Result> {
  const { EventDecoder, EventType } = await import(join(root, 'src/trace/capture/wire.ts'))
  const { ConnTracker } = await import(join(root, 'src/trace/capture/connections.ts'))
  const { ProcessMeta } = await import(join(root, 'src/trace/sources/process-meta.ts'))
  const { TraceRunner } = await import(join(root, 'src/agent/trace.ts'))
  const grouped = 'RowBatch' in (await import(join(root, 'src/trace/batch.ts')))
  const meta = new ProcessMeta({ node: 'bench', asid: 1 })
  let events = 0
  let made = 0
  type P = { tgid: number; startTicks: bigint; comm: string; columnsJson?: string; shared?: { conn: string; text: string } }
  // socket-source.ts's shared columns: the connection's and the process's, one string per connection.
  const shared = (p: P, connColumns: string | undefined): string => {
    p.columnsJson ??= meta.columnsJson(p.tgid, { startTicks: p.startTicks, comm: p.comm }) as string
    if (!connColumns) return p.columnsJson
    if (p.shared?.conn !== connColumns) p.shared = { conn: connColumns, text: `${connColumns},${p.columnsJson}` }
    return p.shared.text
  }
  const groupedEmit = (emit: (table: string, rows: (string | Uint8Array)[], shared?: string, columns?: readonly string[]) => void) => ({
    emit: (table: string, row: object, p: P, connColumns?: string) => {
      made++
      emit(table, [JSON.stringify(row)], shared(p, connColumns))
    },
    emitBytes: (table: string, bytes: Buffer, p: P, connColumns: string, columns?: readonly string[]) => {
      made++
      emit(table, [bytes], shared(p, connColumns), columns)
    },
  })
  const source = {
    name: 'socket',
    async start(emit: (table: string, rows: (string | Uint8Array)[], shared?: string, columns?: readonly string[]) => void) {
      // A tree before the grouped body: the row's text with the process's columns appended.
      const tracker = new ConnTracker({
        emit: (table: string, row: object, p: P, connColumns?: string) => {
          const text = JSON.stringify(row)
          const cols = p.columnsJson ?? meta.columnsJson(p.tgid, { startTicks: p.startTicks, comm: p.comm })
          if ('columnsJson' in p) p.columnsJson = cols
          // A tree before connColumns completed the row object with them instead.
          made++
          emit(table, [`${text.slice(0, -1)},${connColumns ? `${connColumns},` : ''}${cols}}`])
        },
        // socket-source.ts's emitText: the loader's row text (EV_HTTP records).
        emitText: (table: string, text: string, p: P, connColumns: string) => {
          p.columnsJson ??= meta.columnsJson(p.tgid, { startTicks: p.startTicks, comm: p.comm })
          made++
          emit(table, [`${text},${connColumns},${p.columnsJson}}`])
        },
        alive: () => true,
        // This tree's socket-source.ts: rows and their shared columns apart.
        ...(grouped ? groupedEmit(emit) : {}),
      })
      const decoder = new EventDecoder()
      // 64 KiB chunks, as a pipe delivers the loader's output.
      for (let at = 0; at < rec.length; at += 65536) {
        for (const ev of decoder.push(rec.subarray(at, at + 65536))) {
          events++
          if (ev.type === EventType.hello) tracker.offsetNs = ev.data.readBigInt64LE(0)
          else if (ev.type <= EventType.close || ev.type === 7) tracker.handle(ev)
        }
      }
    },
    async stop() {},
    stats: () => ({}),
  }
  const runner = new TraceRunner({
    server,
    maxQueueBytes: 1 << 30,
    log: (l: string) => process.env.KILN_BENCH_LOG && console.log(l),
    sources: [source],
    flushMs: 1000,
    gzip,
  })
  const t0 = process.cpuUsage()
  await runner.start()
  const u = await runner.stop()
  const t = process.cpuUsage(t0)
  return { cpuUs: t.user + t.system, events, rows: made, sent: u.sentUnits }
}

const rec = RECORDING && existsSync(RECORDING) ? readFileSync(RECORDING) : await record()
if (RECORDING && !existsSync(RECORDING)) writeFileSync(RECORDING, rec)
const sink = await startSink()
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
// Modes: the tree at a root, replaying the raw events or the loader's output of them.
type Mode = { key: string; name: string; root: string; loader: boolean; gzip?: boolean }
const modes: Mode[] = [
  { key: 'raw', name: 'the agent parses (--http1 off)', root: here, loader: false },
  { key: 'loader', name: 'the loader parses HTTP/1', root: here, loader: true },
  { key: 'plain', name: 'the loader parses HTTP/1, uploads not gzipped', root: here, loader: true, gzip: false },
  // The agent's own path in both trees: the loader parses HTTP/1.
  ...(BASELINE ? [{ key: 'baseline', name: 'baseline', root: BASELINE, loader: true }] : []),
].filter((m) => !MODES || MODES.includes(m.key))
const results = new Map<string, Result[]>(modes.map((m) => [m.name, []]))
// The loader's passes (and their CPU) all before the replays: a child spawned between them left
// every page of this process copy-on-write, and the faults that followed more than doubled the
// next replay's CPU (7.4-8.5 against 2.6-4.3 µs per row, same bytes) — no agent spawns per batch.
// This tree's agent asks the loader for compact rows (arrays of values); a tree before reads objects.
const compactTree = async (root: string) => 'compactHttpColumns' in (await import(join(root, 'src/trace/capture/wire.ts')))
const flavours = new Map<boolean, { out: Buffer; cpuUs: number }>()
for (const m of modes.filter((x) => x.loader)) {
  const compact = await compactTree(m.root)
  if (flavours.has(compact)) continue
  const passes = Array.from({ length: 3 }, () => throughLoader(rec, compact))
  flavours.set(compact, { out: passes[0]!.out, cpuUs: median(passes.map((l) => l.cpuUs)) })
}
const run = async (m: Mode): Promise<Result> => {
  if (!m.loader) return replay(m.root, rec, sink.url, m.gzip)
  const l = flavours.get(await compactTree(m.root))!
  return { ...(await replay(m.root, l.out, sink.url, m.gzip)), loaderUs: l.cpuUs }
}
try {
  for (const m of modes) await run(m) // warm-up: module loading and JIT
  for (let i = 0; i < ROUNDS; i++) {
    for (const m of i % 2 ? [...modes].reverse() : modes) results.get(m.name)!.push(await run(m))
  }
} finally {
  sink.stop()
}
const first = results.get(modes[0]!.name)![0]!
const byKey = (key: string) => results.get(modes.find((m) => m.key === key)?.name ?? '')
const rawEvents = byKey('raw')?.[0]?.events
console.log(
  `recording: ${fmt(rec.length / 1e6, 1)} MB, ${fmt(rawEvents ?? first.events, 0)} capture events, ${fmt(first.rows, 0)} rows, of ${SECONDS} s of wrk -t1 -c16 against nginx; ${ROUNDS} interleaved replays`,
)
const perRow = (r: Result) => r.cpuUs / r.rows
const loaderPerRow = (r: Result) => (r.loaderUs ?? 0) / r.rows
for (const [name, rs] of results) {
  const rows = rs.map((r) => r.sent)
  console.log(
    `  ${name}: node ${rs.map((r) => fmt(perRow(r), 2)).join(', ')} µs CPU per row (median ${fmt(median(rs.map(perRow)), 2)}` +
      (rawEvents ? `; ${fmt(median(rs.map((r) => r.cpuUs / rawEvents)), 2)} µs per raw capture event)` : ')') +
      (rs[0]!.loaderUs !== undefined ? `, the loader's parsing ${fmt(median(rs.map(loaderPerRow)), 2)} µs per row` : '') +
      `, ${fmt(Math.min(...rows), 0)}–${fmt(Math.max(...rows), 0)} rows uploaded per replay`,
  )
}
const med = (rs: Result[], f: (r: Result) => number) => median(rs.map(f))
const withLoader = (r: Result) => perRow(r) + loaderPerRow(r)
const raw = byKey('raw')
const loader = byKey('loader')
if (raw && loader)
  console.log(`  ratio loader+node / node alone, CPU per row: ${(med(loader, withLoader) / med(raw, withLoader)).toFixed(3)}`)
const baseline = byKey('baseline')
if (baseline) {
  for (const m of modes.filter((x) => x.key === 'loader' || x.key === 'plain'))
    console.log(
      `  ratio ${m.name} / baseline (the loader parses), node's CPU per row: ${(med(results.get(m.name)!, perRow) / med(baseline, perRow)).toFixed(3)}`,
    )
}
