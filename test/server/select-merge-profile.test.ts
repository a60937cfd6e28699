/**
 * SelectMergeProfile keeps what pprof users read (issue 11 §2): a Go program's own heap profile
 * (runtime/pprof, every allocation recorded) goes in through /ingest and comes back through the
 * RPC with its functions' files, line numbers, binary and sampling period, so that `go tool pprof -lines` and
 * `-list` show the program's source lines; in Connect's JSON too.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { createClient } from '@connectrpc/connect'
import { createConnectTransport } from '@connectrpc/connect-node'
import { toBinary } from '@bufbuild/protobuf'
import { startKiln, call, type TestServer } from './helpers.ts'
import { haveGo } from '../formats/support.ts'
import { goPprof, goTopLines } from '../formats/go-lines.ts'
import { ProfileSchema } from '../../src/server/rpc/gen/google/v1/profile_pb.ts'
import { ProfileFormat, QuerierService } from '../../src/server/rpc/gen/querier/v1/querier_pb.ts'
import { decodePprof } from '../../src/formats/pprof.ts'

// Each function allocates on a line of its own; MemProfileRate 1 records every allocation, so the
// profile is the same whatever the machine's speed.
const source = `package main

import (
	"os"
	"runtime"
	"runtime/pprof"
)

var sink [][]byte

//go:noinline
func kilnSmall() {
	sink = append(sink, make([]byte, 1024))
}

//go:noinline
func kilnBig() {
	b := make([]byte, 4096)
	sink = append(sink, b, make([]byte, 64<<10))
}

func main() {
	runtime.MemProfileRate = 1
	for i := 0; i < 50; i++ {
		kilnSmall()
		kilnBig()
	}
	runtime.GC()
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		panic(err)
	}
	f.Close()
}
`
const ALLOC = 'memory:alloc_space:bytes:space:bytes'
let kiln: TestServer
let dir: string
let original: Uint8Array
const now = Date.now()
const range = { start: BigInt(now - 600_000), end: BigInt(now + 60_000) }

before(async () => {
  kiln = await startKiln(['--retention', '0'])
  if (!haveGo()) return
  dir = mkdtempSync(join(tmpdir(), 'kiln-go-heap-'))
  writeFileSync(join(dir, 'heapapp.go'), source)
  const out = join(dir, 'heap.pb.gz')
  const r = spawnSync('go', ['run', 'heapapp.go', out], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, GOCACHE: join(dir, 'cache'), GO111MODULE: 'off', HOME: process.env.HOME ?? dir },
    timeout: 300_000,
  })
  assert.equal(r.status, 0, `go run failed: ${r.stderr}`)
  original = new Uint8Array(readFileSync(out))
  const up = await call(`${kiln.url}/ingest?name=heapapp&format=pprof&from=now-10s&until=now`, {
    method: 'POST',
    body: Buffer.from(original),
  })
  assert.equal(up.status, 200, up.text)
})
after(async () => {
  await kiln?.dispose()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const request = { profileTypeID: ALLOC, labelSelector: '{service_name="heapapp"}', ...range }

test('SelectMergeProfile: go tool pprof -lines reads the same file:line rows as the program wrote', async (t) => {
  if (!haveGo()) return t.skip('go is not installed (Debian golang-go; .ci/run installs it)')
  const querier = createClient(QuerierService, createConnectTransport({ baseUrl: kiln.url, httpVersion: '1.1' }))
  const profile = await querier.selectMergeProfile(request)
  const bytes = toBinary(ProfileSchema, profile)
  const rows = goTopLines(bytes)
  const big = rows.filter((r) => / main\.kilnBig \S*heapapp\.go:(18|19)$/.test(r))
  assert.equal(big.length, 2, `kilnBig allocates on two lines: ${rows.join('\n')}`)
  assert.ok(
    rows.some((r) => / main\.kilnSmall \S*heapapp\.go:13$/.test(r)),
    rows.join('\n'),
  )
  // Every row — values, names, files and lines — as in the program's own profile.
  assert.deepEqual(rows, goTopLines(original, 'alloc_space'))
  // The program's sampling period (its MemProfileRate) and period type, kept with the series.
  const own = decodePprof(original)
  assert.ok(own.period > 0)
  assert.equal(profile.period, BigInt(own.period))
  assert.deepEqual(
    [profile.stringTable[Number(profile.periodType!.type)], profile.stringTable[Number(profile.periodType!.unit)]],
    ['space', 'bytes'],
  )
  // The binary the frames ran in: one mapping, the program's.
  assert.ok(profile.mapping.length >= 1)
  assert.ok(profile.location.every((l) => l.line.length === 1 && l.mappingId >= 0n))
  // -list shows the source of kilnBig with its lines' allocations beside them (50 × 4096 B on line 18).
  const list = goPprof(bytes, ['-list', 'main.kilnBig'])
  assert.match(list, /ROUTINE ======================== main\.kilnBig in .*heapapp\.go/)
  assert.match(list, /\s200kB\s+200kB\s+18:\s+b := make\(\[\]byte, 4096\)/, list)
  assert.match(list, /MB\s+\S+MB\s+19:\s+sink = append\(sink, b, make\(\[\]byte, 64<<10\)\)/, list)
})

test('SelectMergeProfile answers Connect JSON: locations with lines, functions with file names, the period type', async (t) => {
  if (!haveGo()) return t.skip('go is not installed (Debian golang-go; .ci/run installs it)')
  const r = await call(`${kiln.url}/querier.v1.QuerierService/SelectMergeProfile`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      profile_typeID: ALLOC,
      label_selector: request.labelSelector,
      start: String(range.start),
      end: String(range.end),
    }),
  })
  assert.equal(r.status, 200, r.text)
  const p = r.json as {
    stringTable: string[]
    function: { id: string; name: string; filename: string }[]
    location: { line: { functionId: string; line: string }[] }[]
    periodType: { type: string; unit: string }
    timeNanos: string
    durationNanos: string
  }
  const str = (i: string) => p.stringTable[Number(i ?? 0)]
  assert.equal(str(p.periodType.type), 'space')
  assert.equal(str(p.periodType.unit), 'bytes')
  const small = p.function.find((f) => str(f.name) === 'main.kilnSmall')!
  assert.match(str(small.filename)!, /heapapp\.go$/)
  const lines = p.location.flatMap((l) => l.line).filter((l) => l.functionId === small.id)
  assert.deepEqual(
    lines.map((l) => l.line),
    ['13'],
  )
  assert.equal(Math.round(Number(p.durationNanos) / 1e6), Number(range.end - range.start))
})

test('a call site selects frames by name whatever their lines: SelectSeries and SelectMergeProfile agree', async (t) => {
  if (!haveGo()) return t.skip('go is not installed (Debian golang-go; .ci/run installs it)')
  const querier = createClient(QuerierService, createConnectTransport({ baseUrl: kiln.url, httpVersion: '1.1' }))
  const callSite = ['runtime.main', 'main.main', 'main.kilnBig'].map((name) => ({ name }))
  const series = await querier.selectSeries({ ...request, step: 3600, stackTraceSelector: { callSite } })
  const total = series.series.flatMap((s) => s.points).reduce((a, p) => a + p.value, 0)
  const profile = await querier.selectMergeProfile({ ...request, stackTraceSelector: { callSite } })
  const sum = profile.sample.reduce((a, s) => a + Number(s.value[0]), 0)
  // kilnBig's two lines: 50 × 4096 B and 50 × 64 KiB, plus the growth of sink on line 19.
  assert.ok(sum >= 50 * (4096 + 65536), `${sum}`)
  assert.equal(total, sum)
  assert.ok(profile.sample.every((s) => s.locationId.length >= 3))
})

test("SelectMergeStacktraces' PPROF format is the same pprof, lines and all", async (t) => {
  if (!haveGo()) return t.skip('go is not installed (Debian golang-go; .ci/run installs it)')
  const querier = createClient(QuerierService, createConnectTransport({ baseUrl: kiln.url, httpVersion: '1.1' }))
  const r = await querier.selectMergeStacktraces({ ...request, format: ProfileFormat.PPROF })
  assert.deepEqual(goTopLines(r.pprof!.profile), goTopLines(original, 'alloc_space'))
})

test("/api/v1/export (the UI's and kiln query's download) is the same pprof, lines and all; speedscope keeps them too", async (t) => {
  if (!haveGo()) return t.skip('go is not installed (Debian golang-go; .ci/run installs it)')
  const q = (format: string) =>
    new URLSearchParams({
      type: ALLOC,
      query: request.labelSelector,
      from: String(range.start),
      until: String(range.end),
      format,
    })
  const pprof = await fetch(`${kiln.url}/api/v1/export?${q('pprof')}`)
  assert.equal(pprof.status, 200)
  assert.match(pprof.headers.get('content-disposition') ?? '', /\.pb\.gz"$/)
  const bytes = gunzipSync(new Uint8Array(await pprof.arrayBuffer()))
  assert.deepEqual(goTopLines(bytes), goTopLines(original, 'alloc_space'))
  // Kiln's own decoder reads the same file and line of kilnSmall's allocation.
  const p = decodePprof(bytes)
  const small = p.functions.flatMap((name, i) => (name === 'main.kilnSmall' ? [p.sources?.[i]] : []))
  assert.deepEqual(
    small.map((s) => [s?.file.endsWith('heapapp.go'), s?.line]),
    [[true, 13]],
  )
  const ss = (await (await fetch(`${kiln.url}/api/v1/export?${q('speedscope')}`)).json()) as {
    shared: { frames: { name: string; file?: string; line?: number }[] }
  }
  const big = ss.shared.frames.filter((f) => f.name === 'main.kilnBig').map((f) => f.line)
  assert.deepEqual(big.sort(), [18, 19])
  assert.ok(ss.shared.frames.filter((f) => f.name === 'main.kilnBig').every((f) => f.file?.endsWith('heapapp.go')))
})
