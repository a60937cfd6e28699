/**
 * Recording rules (issue 11 §6): profiles become counters on /metrics, counted once each, from the
 * YAML file and the API; and Debian's Prometheus, scraping Kiln, fires the seed's HighCPUFunction
 * alert (metric name adapted) for a Node app burning CPU under @kiln/node.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:net'
import { startKiln, call } from './helpers.ts'
import { parseRecordingRule } from '../../src/model/recording-rules.ts'
import { resolveConfig } from '../../src/server/config.ts'
import { startServer } from '../../src/server/app.ts'
import { RecordingRules } from '../../src/query/recording-rules.ts'
import { hotSource, root as repoRoot, sdk } from '../../packages/node/test/support.ts'

const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds'
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls until `f` returns a value (not undefined) or `ms` pass. */
async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await f()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(250)
  }
}

const metrics = async (url: string) => (await fetch(`${url}/metrics`)).text()
const sampleValue = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}
async function ingestFolded(url: string, name: string, body: string, at = Date.now()) {
  const r = await fetch(`${url}/ingest?name=${encodeURIComponent(name)}&from=${Math.floor(at / 1000)}&sampleRate=100&format=folded`, {
    method: 'POST',
    body,
  })
  assert.equal(r.status, 200, await r.text())
}

test('a rule checks what it is given: metric name, profile type, RE2, labels', () => {
  const ok = parseRecordingRule(
    {
      metric_name: 'x_total',
      matchers: [`{__profile_type__="${CPU}", service_name="api"}`],
      group_by: ['service_name'],
      function_pattern: 'json.*',
    },
    'r',
  )
  assert.equal(ok.profileType, CPU, 'the profile type may come from the selector')
  assert.equal(ok.id, 'x_total')
  const camel = parseRecordingRule(
    {
      metricName: 'y_total',
      profileType: CPU,
      matchers: ['{}'],
      stacktraceFilter: { functionName: { functionName: 'main' } },
      externalLabels: [{ name: 'team', value: 'a' }],
    },
    'r',
  )
  assert.equal(camel.functionName, 'main')
  assert.deepEqual(camel.externalLabels, { team: 'a' })
  const bad: [unknown, RegExp][] = [
    [{ metric_name: '1bad', profile_type: CPU }, /not a Prometheus metric name/],
    [{ metric_name: 'a_total', profile_type: 'cpu' }, /not name:sample_type:sample_unit:period_type:period_unit/],
    [{ metric_name: 'a_total', profile_type: CPU, function_pattern: '(?=x)' }, /RE2/],
    [{ metric_name: 'a_total', profile_type: CPU, matchers: ['{a='] }, /selector/],
    [{ metric_name: 'a_total', profile_type: CPU, group_by: ['function_name'] }, /function_name comes from function_pattern/],
    [{ metric_name: 'a_total', profile_type: CPU, function_name: 'a', function_pattern: 'b' }, /not both/],
    [[1, 2], /an object/],
  ]
  for (const [raw, re] of bad) assert.throws(() => parseRecordingRule(raw, 'r'), re)
  const dir = mkdtempSync(join(tmpdir(), 'kiln-rules-'))
  const file = join(dir, 'kiln.yaml')
  writeFileSync(
    file,
    `recording-rules:\n  - metric_name: a_total\n    profile_type: ${CPU}\n  - metric_name: a_total\n    profile_type: ${CPU}\n`,
  )
  assert.throws(() => resolveConfig({}, file, {}), /a second rule with id "a_total"/)
  writeFileSync(file, 'recording-rules-interval: 10ms\n')
  assert.throws(() => resolveConfig({}, file, {}), /at least 100ms/)
})

test('rules from the file and the API count each sample once; API rules survive a restart; bad ones are 400', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-rules-'))
  const config = join(dir, 'kiln.yaml')
  writeFileSync(
    config,
    `recording-rules:
  - metric_name: kiln_function_cpu_seconds_total
    profile_type: ${CPU}
    matchers: ['{service_name=~"api|web"}']
    group_by: [service_name]
    function_pattern: 'burn.*'
recording-rules-interval: 200ms
`,
  )
  const dataDir = join(dir, 'data')
  let kiln = await startKiln(['--config', config], { dataDir })
  try {
    // 300 samples at 100 Hz in burnCpu (3 s of CPU), 100 in idle: only burnCpu is counted.
    // A rule counts from its creation (the server's start) on, and `from` has whole seconds: a profile
    // sent within a second of the start would fall before it. So these start a second from now.
    await ingestFolded(
      kiln.url,
      'app.cpu{service_name="api"}',
      'main;burnCpu 300\nmain;idle 100\nmain;burnCpu;burnCpu 50',
      Date.now() + 1000,
    )
    const series = 'kiln_function_cpu_seconds_total{function_name="burnCpu",service_name="api"}'
    // Recursion counts once: 300 + 50 samples = 3.5 s.
    assert.equal(await until('the first window', async () => sampleValue(await metrics(kiln.url), series)), 3.5)
    assert.ok(!(await metrics(kiln.url)).includes('function_name="idle"'), 'only functions matching the pattern')
    await ingestFolded(kiln.url, 'app.cpu{service_name="api"}', 'main;burnCpu 100')
    assert.equal(
      await until('the second upload', async () => (sampleValue(await metrics(kiln.url), series) === 4.5 ? 4.5 : undefined)),
      4.5,
    )
    // Several windows later the value stands: nothing is counted twice.
    await sleep(1500)
    assert.equal(sampleValue(await metrics(kiln.url), series), 4.5)
    assert.match(await metrics(kiln.url), /# TYPE kiln_function_cpu_seconds_total counter/)

    // The API: a rule of its own, listed with its source; the file's rule cannot be changed there.
    const rule = {
      metric_name: 'kiln_idle_cpu_seconds_total',
      profile_type: CPU,
      matchers: ['{service_name="api"}'],
      function_name: 'idle',
      external_labels: { team: 'core' },
    }
    const posted = await call(`${kiln.url}/api/v1/recording-rules`, { method: 'POST', body: JSON.stringify(rule) })
    assert.equal(posted.status, 200)
    const listed = await call(`${kiln.url}/api/v1/recording-rules`)
    assert.deepEqual(listed.json.rules.map((r: { id: string; source: string }) => `${r.id}:${r.source}`).sort(), [
      'kiln_function_cpu_seconds_total:file',
      'kiln_idle_cpu_seconds_total:api',
    ])
    const fromFile = await call(`${kiln.url}/api/v1/recording-rules?id=kiln_function_cpu_seconds_total`, { method: 'DELETE' })
    assert.equal(fromFile.status, 400)
    assert.match(fromFile.json.message, /configuration file/)
    for (const body of [
      'not json',
      JSON.stringify({ metric_name: 'x-y', profile_type: CPU }),
      JSON.stringify({ metric_name: 'x_total', profile_type: CPU, function_pattern: '\\1' }),
    ]) {
      const r = await call(`${kiln.url}/api/v1/recording-rules`, { method: 'POST', body })
      assert.equal(r.status, 400, body)
      assert.equal(r.json.code, 'KILN_BAD_REQUEST')
    }
    assert.equal((await call(`${kiln.url}/api/v1/recording-rules?id=nope`, { method: 'DELETE' })).status, 404)
    // A rule counts from its creation on: this profile starts after the POST above.
    await ingestFolded(kiln.url, 'app.cpu{service_name="api"}', 'main;idle 200', Date.now() + 1500)
    const idle = 'kiln_idle_cpu_seconds_total{team="core"}'
    assert.equal(await until('the API rule', async () => sampleValue(await metrics(kiln.url), idle) || undefined), 2)

    await kiln.stop()
    kiln = await startKiln(['--config', config], { dataDir })
    const after = await call(`${kiln.url}/api/v1/recording-rules`)
    assert.ok(
      after.json.rules.some((r: { id: string }) => r.id === 'kiln_idle_cpu_seconds_total'),
      'the API rule is stored',
    )
    assert.equal((await call(`${kiln.url}/api/v1/recording-rules?id=kiln_idle_cpu_seconds_total`, { method: 'DELETE' })).status, 200)
    await kiln.stop()
    kiln = await startKiln(['--config', config], { dataDir })
    assert.deepEqual(
      (await call(`${kiln.url}/api/v1/recording-rules`)).json.rules.map((r: { id: string }) => r.id),
      ['kiln_function_cpu_seconds_total'],
    )
  } finally {
    await kiln.stop()
  }
})

test('a counter settles what leaves the grace window, counts late uploads inside it, and never goes down', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-rules-'))
  const server = await startServer(resolveConfig({ port: 0, host: '127.0.0.1', dataDir, selfProfile: false }, undefined, {}), () => {})
  try {
    const t0 = Math.floor(Date.now() / 1000) * 1000
    // Evaluated by hand at chosen times: a grace of 10 s.
    const rules = new RecordingRules(server.ctx.store.reader, { intervalMs: 60_000, graceMs: 10_000 })
    rules.upsert(
      'anonymous',
      parseRecordingRule({ metric_name: 'burn_seconds_total', profile_type: CPU, function_name: 'burnCpu' }, 'r'),
      t0 - 60_000,
    )
    const value = async (now: number) => {
      await rules.evaluate(now)
      return sampleValue(rules.metricsText(), 'burn_seconds_total')
    }
    await ingestFolded(server.url, 'app.cpu', 'main;burnCpu 100', t0 - 50_000)
    assert.equal(await value(t0), 1, 'settled: older than the grace')
    await ingestFolded(server.url, 'app.cpu', 'main;burnCpu 200\nmain;other 700', t0 - 5_000)
    assert.equal(await value(t0), 3, 'recent: inside the grace, counted again each time, once')
    assert.equal(await value(t0 + 1), 3)
    await ingestFolded(server.url, 'app.cpu', 'main;burnCpu 400', t0 - 40_000)
    assert.equal(await value(t0 + 2), 3, 'an upload later than the grace is not counted (documented)')
    await ingestFolded(server.url, 'app.cpu', 'main;burnCpu 50', t0 - 8_000)
    assert.equal(await value(t0 + 3), 3.5, 'a late upload inside the grace is')
    // The window moves on: what leaves it is settled, nothing counted twice or lost.
    assert.equal(await value(t0 + 20_000), 3.5)
    assert.equal(await value(t0 + 40_000), 3.5)
  } finally {
    await server.close()
  }
})

const prometheus = ['/usr/bin/prometheus', '/usr/sbin/prometheus'].find((p) => existsSync(p))
const noPrometheus = prometheus ? false : "Debian's prometheus package is not installed (.ci/run installs it)"

async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as { port: number }).port
  await new Promise((r) => s.close(r))
  return port
}

test("Prometheus scrapes Kiln and fires the seed's HighCPUFunction alert for a function burning CPU", { skip: noPrometheus }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-prom-'))
  const config = join(dir, 'kiln.yaml')
  // @kiln/node's CPU type; each function that matches is its own series.
  writeFileSync(
    config,
    `recording-rules:
  - metric_name: kiln_function_cpu_seconds_total
    profile_type: process_cpu:cpu:nanoseconds:wall:nanoseconds
    matchers: ['{service_name="burner"}']
    group_by: [service_name]
    function_pattern: 'kilnSdkHot.*'
recording-rules-interval: 500ms
`,
  )
  const kiln = await startKiln(['--config', config])
  const port = await freePort()
  const target = new URL(kiln.url).host
  // The seed's rule: topk(1, sum by (function_name) (rate(parca_agent_cpu_samples_total[5m]))) > 1000,
  // for 10m — here over Kiln's counter in CPU seconds per second, with windows short enough for a test.
  writeFileSync(
    join(dir, 'alerts.yml'),
    `groups:
  - name: cpu-hotspot
    rules:
      - alert: HighCPUFunction
        expr: topk(1, sum by (function_name) (rate(kiln_function_cpu_seconds_total[15s]))) > 0.2
        for: 2s
        annotations:
          summary: CPU hot spot
          description: 'function {{ $labels.function_name }} is using too much CPU'
`,
  )
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ['${join(dir, 'alerts.yml')}']
scrape_configs:
  - job_name: kiln
    static_configs: [{ targets: ['${target}'] }]
`,
  )
  const check = spawnSync(prometheus!.replace(/prometheus$/, 'promtool'), ['check', 'rules', join(dir, 'alerts.yml')], { encoding: 'utf8' })
  if (check.status !== null && !check.error) assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`)
  const prom = spawn(
    prometheus!,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let promLog = ''
  prom.stderr.on('data', (d) => (promLog = (promLog + d).slice(-4000)))
  // A Node app burning CPU in kilnSdkHot for up to 60 s, profiled by @kiln/node (1 s uploads).
  const app = `
import { init, start, stop } from SDK
${hotSource}
init({ flushIntervalMs: 1000 })
await start()
const end = Date.now() + Number(process.env.BURN_MS)
while (Date.now() < end) { kilnSdkHot(200); await new Promise((r) => setTimeout(r, 5)) }
await stop(3000)
`
  writeFileSync(join(dir, 'app.mts'), app.replaceAll('SDK', JSON.stringify(sdk)))
  const burner = spawn(process.execPath, ['--import', 'tsx', join(dir, 'app.mts')], {
    cwd: repoRoot,
    env: { ...process.env, PYROSCOPE_SERVER_ADDRESS: kiln.url, PYROSCOPE_APPLICATION_NAME: 'burner', BURN_MS: '80000' },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let burnerLog = ''
  burner.stderr.on('data', (d) => (burnerLog = (burnerLog + d).slice(-2000)))
  try {
    const alert = await until(
      'HighCPUFunction to fire',
      async () => {
        const r = await fetch(`http://127.0.0.1:${port}/api/v1/alerts`).catch(() => null)
        if (!r?.ok) return undefined
        const body = (await r.json()) as { data: { alerts: { labels: Record<string, string>; state: string }[] } }
        return body.data.alerts.find((a) => a.labels.alertname === 'HighCPUFunction' && a.state === 'firing')
      },
      75_000,
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\nprometheus: ${promLog}\napp: ${burnerLog}`)
    })
    assert.match(alert.labels.function_name!, /^kilnSdkHot /)
    // What Prometheus scraped is Kiln's counter, with the labels the rule asked for.
    const q = (await (await fetch(`http://127.0.0.1:${port}/api/v1/query?query=kiln_function_cpu_seconds_total`)).json()) as {
      data: { result: { metric: Record<string, string> }[] }
    }
    assert.ok(
      q.data.result.some((s) => s.metric.service_name === 'burner' && /^kilnSdkHot /.test(s.metric.function_name ?? '')),
      JSON.stringify(q.data.result),
    )
  } finally {
    burner.kill('SIGKILL')
    prom.kill('SIGTERM')
    await kiln.stop()
  }
})
