/**
 * The proof with a real client: the official @pyroscope/nodejs SDK, unchanged, profiles a small
 * program and pushes to Kiln; the merged flame graph then holds the program's hot function.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startKiln, call, q, root } from './helpers.ts'
import { decodeLevels } from '../../src/model/flamegraph.ts'

const program = `
const Pyroscope = require(${JSON.stringify(join(root, 'node_modules/@pyroscope/nodejs'))});
Pyroscope.init({ serverAddress: process.env.KILN_URL, appName: 'sdk-demo', tags: { region: 'test' }, flushIntervalMs: 1500,
  wall: { samplingDurationMs: 1500, collectCpuTime: true } });
Pyroscope.start();
function kilnHotLoop(ms) { const end = Date.now() + ms; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1); return x; }
function kilnColdWait() {}
let rounds = 0;
const t = setInterval(() => { kilnHotLoop(80); kilnColdWait(); if (++rounds === 50) { clearInterval(t); Pyroscope.stop().then(() => process.exit(0)); } }, 20);
`

test('@pyroscope/nodejs pushes wall and heap profiles that Kiln stores and merges', async () => {
  const kiln = await startKiln()
  const dir = mkdtempSync(join(tmpdir(), 'kiln-sdk-'))
  try {
    const file = join(dir, 'app.cjs')
    writeFileSync(file, program)
    const child = spawn(process.execPath, [file], { env: { ...process.env, KILN_URL: kiln.url }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    const code = await new Promise<number | null>((r) => child.on('exit', r))
    assert.equal(code, 0, out)
    const types = (await call(`${kiln.url}/api/v1/profile-types?${q({ query: '{service_name="sdk-demo"}' })}`)).json.map(
      (t: { id: string }) => t.id,
    )
    const wallType = types.find((t: string) => t.startsWith('wall:wall:'))
    assert.ok(wallType, `wall:wall:… type in ${types}`)
    assert.ok(
      types.includes('process_cpu:cpu:nanoseconds:wall:nanoseconds'),
      `CPU time collected beside wall time is process_cpu: ${types}`,
    )
    assert.ok(
      types.some((t: string) => t.startsWith('memory:')),
      `a memory type in ${types}`,
    )
    const names = (await call(`${kiln.url}/api/v1/label-names?${q({ query: '{service_name="sdk-demo"}' })}`)).json
    assert.ok(names.includes('region'), 'SDK tags become labels')
    const fg = (await call(`${kiln.url}/api/v1/flamegraph?${q({ type: wallType, query: '{service_name="sdk-demo", region="test"}' })}`))
      .json.flamegraph
    const nodes = decodeLevels(fg.levels).flat()
    const hot = nodes.filter((n) => String(fg.names[n.name]).includes('kilnHotLoop'))
    assert.ok(hot.length > 0, `kilnHotLoop in the flame graph (names: ${fg.names.slice(0, 30).join(', ')})`)
    const hotTotal = hot.reduce((a, n) => a + n.total, 0)
    assert.ok(hotTotal / fg.total > 0.3, `the hot loop is a large share of wall time: ${(hotTotal / fg.total).toFixed(2)}`)
  } finally {
    await kiln.dispose()
    rmSync(dir, { recursive: true, force: true })
  }
})
