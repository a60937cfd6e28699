import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { call, CPU, q, startKiln } from '../server/helpers.ts'
import { bin, busyProgram, perfUnavailable, runAgent, startBusy, work } from './helpers.ts'
import { nobodyCannotRun } from '../nobody.ts'

const unavailable = perfUnavailable()
if (unavailable) console.log(`# skipping the agent's sampling tests: ${unavailable}`)

const RULES = `
relabel_configs:
  - source_labels: [comm]
    regex: kiln_busy_drop
    action: drop
  - source_labels: [comm]
    regex: 'kiln_busy_(.*)'
    target_label: busy_role
    replacement: role-$1
  - source_labels: [__meta_process_cmdline]
    regex: '.*--perf-basic-prof.*'
    target_label: jit
    replacement: perf-map
  - action: labeldrop
    regex: cgroup
`

test('kiln agent samples every process, labels it, relabels, and uploads to a real kiln server', {
  skip: unavailable ?? false,
}, async () => {
  const keep = startBusy(busyProgram('kiln_busy_keep'), ['60'])
  const drop = startBusy(busyProgram('kiln_busy_drop'), ['60'])
  // Not inlined into the loop (V8 would, and the frame would be the eval script's).
  const js = startBusy(process.execPath, [
    '--perf-basic-prof',
    '--no-turbo-inlining',
    '-e',
    'function kilnAgentJsHot(n){let s=0;for(let i=0;i<n;i++)s+=Math.sqrt(i)*i;return s}const t=Date.now();while(Date.now()-t<60000)kilnAgentJsHot(1e5)',
  ])
  const kiln = await startKiln()
  try {
    const rules = join(work, 'relabel.yaml')
    writeFileSync(rules, RULES)
    const r = await runAgent(['--server', kiln.url, '--upload-interval', '1s', '--relabel-config', rules], { windows: 3 })
    assert.equal(r.status, 0, r.log)
    assert.match(r.log, /sampler: perf \(/)
    assert.match(r.log, /SIGINT: uploading the last window/)
    const sent = Number(/stopped: (\d+) profiles/.exec(r.log)?.[1])
    assert.ok(sent > 0, r.log)
    assert.match(r.log, /stopped: .* 0 dropped \(0 samples\), 0 refused/)

    const range = { from: 'now-1h', until: 'now' }
    const values = async (name: string, query = '{}') => {
      const v = await call(`${kiln.url}/api/v1/label-values?${q({ name, query, ...range })}`)
      assert.equal(v.status, 200, v.text)
      return v.json as string[]
    }
    const comms = await values('comm')
    assert.ok(comms.includes('kiln_busy_keep'), JSON.stringify(comms))
    assert.ok(!comms.includes('kiln_busy_drop'), 'the drop rule let kiln_busy_drop through')
    const keepSel = `{service_name="kiln_busy_keep", pid="${keep.pid}"}`
    assert.deepEqual(await values('pid', '{service_name="kiln_busy_keep"}'), [String(keep.pid)])
    assert.deepEqual(await values('exe', keepSel), [busyProgram('kiln_busy_keep')])
    assert.deepEqual(await values('busy_role', keepSel), ['role-keep'])
    assert.deepEqual(await values('cgroup', keepSel), [], 'labeldrop left the cgroup label')
    assert.ok((await values('node', keepSel)).length === 1)

    const top = await call(`${kiln.url}/api/v1/top?${q({ type: CPU, query: keepSel, ...range })}`)
    assert.equal(top.status, 200, top.text)
    const rows = (top.json as { rows: { name: string; self: number }[] }).rows
    const hot = rows.find((x) => x.name === 'kiln_agent_hot_spin')
    assert.ok(hot && hot.self > 0, JSON.stringify(rows.slice(0, 5)))

    // JIT frames come named from the process's /tmp/perf-PID.map; the meta cmdline label fed a rule.
    const jsSel = `{service_name="node", pid="${js.pid}"}`
    assert.deepEqual(await values('jit', jsSel), ['perf-map'])
    const jsTop = await call(`${kiln.url}/api/v1/top?${q({ type: CPU, query: jsSel, ...range })}`)
    const jsRows = (jsTop.json as { rows: { name: string }[] }).rows
    assert.ok(
      jsRows.some((x) => x.name.includes('kilnAgentJsHot')),
      JSON.stringify(jsRows.slice(0, 8)),
    )
  } finally {
    for (const c of [keep, drop, js]) c.kill('SIGKILL')
    await kiln.dispose()
  }
})

test('kiln agent with a dead server: retries with back-off, bounded queue, drops counted, clean exit on SIGTERM', {
  skip: unavailable ?? false,
}, async () => {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port
      s.close(() => resolve(p))
    })
  })
  const busy = startBusy(busyProgram('kiln_busy_keep'), ['60'])
  try {
    // Stopped once the log shows the second failed round (the 2 s back-off) and a drop, after at
    // least six windows: a fixed count of windows was not always enough under load (a CI run at
    // load 10 logged its first refusal in the third window; a paired run none of the 2 s retry in
    // ten). A 200-byte queue: on a quiet host a window of the busy program folds to one or two
    // stacks, ~60 bytes, and 16 of them stayed under 1 KB in a clean-clone run, so nothing was dropped.
    const r = await runAgent(['--server', `http://127.0.0.1:${port}`, '--upload-interval', '1s', '--max-queue', '0.0002'], {
      windows: 6,
      until: [/retrying in 2s/, /dropped \d+ profiles/],
      stopWith: 'SIGTERM',
    })
    assert.equal(r.status, 0, r.log)
    assert.match(r.log, /cannot reach Kiln at .*ECONNREFUSED.*retrying in 1s/)
    assert.match(r.log, /retrying in 2s/, 'no back-off')
    assert.match(r.log, /dropped \d+ profiles \(\d+ samples\): queue over 209 bytes/)
    assert.match(r.log, /SIGTERM: uploading the last window/)
    const stopped = /stopped: 0 profiles \(0 samples\) sent, (\d+) dropped \((\d+) samples\)/.exec(r.log)
    assert.ok(stopped && Number(stopped[1]) > 0 && Number(stopped[2]) > 0, r.log)
  } finally {
    busy.kill('SIGKILL')
  }
})

test('kiln agent: bad options and relabel files are refused with a message before sampling', () => {
  const agent = (...args: string[]) => spawnSync(process.execPath, [bin, 'agent', ...args], { encoding: 'utf8', timeout: 30000 })
  const cases: [string[], RegExp][] = [
    [['--frequency', '0'], /--frequency 0: expected whole Hz/],
    [['--upload-interval', '200ms'], /--upload-interval 200ms: must be at least 1s/],
    [['--server', 'not a url'], /--server not a url: not a URL/],
    [['--relabel-config', join(work, 'missing.yaml')], /cannot read --relabel-config .*missing\.yaml: ENOENT/],
    [['--max-queue', 'lots'], /--max-queue lots: expected megabytes/],
    [['extra'], /agent takes no arguments/],
    [['--sampler', 'dtrace'], /--sampler dtrace: use perf or bpftrace/],
  ]
  const bad = join(work, 'bad.yaml')
  writeFileSync(bad, '- action: explode\n')
  cases.push([['--relabel-config', bad], /bad\.yaml: rule 1: unknown action "explode"/])
  for (const [args, message] of cases) {
    const r = agent(...args)
    assert.notEqual(r.status, 0, args.join(' '))
    assert.match(r.stderr, message)
  }
  const help = agent('--help')
  assert.equal(help.status, 0)
  assert.match(help.stdout, /--relabel-config FILE/)
})

test('kiln agent: profiles the server refuses (4xx) are logged and not retried; a labelkeep rule makes them fit', {
  skip: unavailable ?? false,
}, async () => {
  const busy = startBusy(busyProgram('kiln_busy_keep'), ['60'])
  // At most 5 labels per series (the server's own count included): service_name, node, pid, comm, exe, cgroup is too many.
  const kiln = await startKiln(['--max-labels', '5'])
  try {
    const refused = await runAgent(['--server', kiln.url, '--upload-interval', '1s'], { windows: 2 })
    assert.equal(refused.status, 0, refused.log)
    assert.match(refused.log, /server refused kiln_busy_keep\.cpu\{.*server answered 400: .*more than 5 labels/)
    assert.doesNotMatch(refused.log, /retrying in/)
    assert.match(refused.log, /stopped: 0 profiles \(0 samples\) sent, 0 dropped \(0 samples\), [1-9]\d* refused by the server/)

    const rules = join(work, 'keep-two.yaml')
    writeFileSync(rules, '- {action: labelkeep, regex: pid|comm}\n')
    const fits = await runAgent(['--server', kiln.url, '--upload-interval', '1s', '--relabel-config', rules], { windows: 2 })
    assert.match(fits.log, /stopped: [1-9]\d* profiles .* 0 refused by the server/)
    const names = await call(
      `${kiln.url}/api/v1/label-names?${q({ query: `{service_name="kiln_busy_keep"}`, from: 'now-1h', until: 'now' })}`,
    )
    // pyroscope_spy is the server's, from spyName=kiln-agent.
    assert.deepEqual((names.json as string[]).filter((n) => !n.startsWith('__')).sort(), ['comm', 'pid', 'pyroscope_spy', 'service_name'])
  } finally {
    busy.kill('SIGKILL')
    await kiln.dispose()
  }
})

const noBpftrace = unavailable ?? (spawnSync('bpftrace', ['--version']).status === 0 ? null : 'bpftrace is not installed')

test('kiln agent --sampler bpftrace: stacks counted by a profile:hz probe reach the server', { skip: noBpftrace ?? false }, async () => {
  const busy = startBusy(busyProgram('kiln_busy_keep'), ['90'])
  const kiln = await startKiln()
  try {
    // The agent names the user frames (bpftrace naming them took minutes a window under load):
    // its first window reads each mapped file's symbols, node's 86,000 among them, ~1 s at load 24.
    const r = await runAgent(['--server', kiln.url, '--sampler', 'bpftrace', '--upload-interval', '1s'], { windows: 1, limitMs: 120_000 })
    assert.equal(r.status, 0, r.log)
    assert.match(r.log, /sampler: bpftrace/)
    assert.match(r.log, /stopped: [1-9]\d* profiles/)
    const sel = `{service_name="kiln_busy_keep", pid="${busy.pid}"}`
    const top = await call(`${kiln.url}/api/v1/top?${q({ type: CPU, query: sel, from: 'now-1h', until: 'now' })}`)
    const rows = (top.json as { rows: { name: string; self: number }[] }).rows
    assert.ok(
      rows.find((x) => x.name === 'kiln_agent_hot_spin' && x.self > 0),
      JSON.stringify(rows.slice(0, 5)),
    )
  } finally {
    busy.kill('SIGKILL')
    await kiln.dispose()
  }
})

test('kiln agent without the right to use perf: a message that says what to do, and a non-zero exit', {
  skip: unavailable ?? false,
}, (t) => {
  const paranoid = Number(readFileSync('/proc/sys/kernel/perf_event_paranoid', 'utf8'))
  if (process.getuid?.() !== 0 || paranoid < 1)
    return t.skip(`needs root to drop to nobody, and perf_event_paranoid ≥ 1 (it is ${paranoid})`)
  const unreadable = nobodyCannotRun()
  if (unreadable) return t.skip(unreadable)
  const r = spawnSync(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, bin, 'agent', '--server', 'http://127.0.0.1:9'],
    {
      encoding: 'utf8',
      timeout: 60000,
      env: { ...process.env, HOME: tmpdir() },
    },
  )
  if (r.error) return t.skip(`setpriv is not available: ${r.error.message}`)
  assert.equal(r.status, 1, r.stderr)
  assert.match(r.stderr, /kiln: perf may not sample the whole host: run kiln agent as root .*perf_event_paranoid to -1 \(now \d\)/)
})
