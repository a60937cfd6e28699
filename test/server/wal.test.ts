/**
 * The write-ahead log (src/store/wal.ts): a server killed once a commit is logged and before it
 * is acknowledged, or once the engine took it and before the log heard so, comes back with every
 * acknowledged profile exactly once, and a logged one too.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { startKiln, call, q, CPU } from './helpers.ts'

// Crashes at this commit: the server writes nothing else meanwhile (no self-profile), so
// commits are the requests, one at a time.
const CRASH_AT = 6

async function crashAndRestart(point: 'after-wal' | 'after-insert') {
  const kiln = await startKiln([], { env: { KILN_TEST_CRASH: `${point}:${CRASH_AT}` } })
  const acked: number[] = []
  let failed = 0
  for (let i = 1; i <= 10 && !failed; i++) {
    const r = await call(`${kiln.url}/ingest?${q({ name: 'walcrash.cpu', sampleRate: '1000000000' })}`, {
      method: 'POST',
      body: `main;req${i} ${i}\n`,
    }).catch(() => undefined)
    if (r?.status === 200) acked.push(i)
    else failed = i
  }
  await kiln.stop()
  assert.equal(kiln.proc.signalCode, 'SIGKILL', `the crash hook killed the server:\n${kiln.stderr()}`)
  // Logged, not acknowledged: commit 6's request failed. Inserted by the engine: commit 6 was
  // acknowledged (the engine gets a commit after its ack), and maybe one more before the crash.
  const upTo = point === 'after-wal' ? CRASH_AT - 1 : CRASH_AT
  assert.deepEqual(acked.slice(0, upTo), [1, 2, 3, 4, 5, 6].slice(0, upTo), 'the requests up to the crashed commit were acknowledged')
  if (point === 'after-wal') assert.equal(failed, CRASH_AT, 'the crashed commit was not acknowledged')
  assert.ok(readdirSync(join(kiln.dataDir, 'kiln-wal')).length > 0, 'the log holds the commits')
  const again = await startKiln([], { dataDir: kiln.dataDir })
  try {
    const r = await call(`${again.url}/api/v1/top?${q({ type: CPU, query: '{service_name="walcrash"}', from: 'now-1h' })}`)
    assert.equal(r.status, 200, r.text)
    const self = Object.fromEntries((r.json.rows as { name: string; self: number }[]).map((x) => [x.name, x.self]))
    // Each request's leaf carries its own number: a value twice that means it landed twice.
    for (const i of acked) assert.equal(self[`req${i}`], i, `req${i} once: ${JSON.stringify(self)}`)
    // The failed request: the crash came after it was logged (after-wal), or maybe before.
    if (point === 'after-wal') assert.equal(self[`req${failed}`], failed, `the logged req${failed} is back: ${JSON.stringify(self)}`)
    else assert.ok([undefined, failed].includes(self[`req${failed}`]), `req${failed} at most once: ${JSON.stringify(self)}`)
  } finally {
    await again.dispose()
    rmSync(kiln.dataDir, { recursive: true, force: true })
  }
}

test('killed after the log is written and before the engine has the commit: the log brings it back', async () => {
  await crashAndRestart('after-wal')
})

test('killed after the engine has the commit and before the ack: the replay does not add it twice', async () => {
  await crashAndRestart('after-insert')
})

test('a clean stop empties the log; a restart replays nothing', async () => {
  const kiln = await startKiln()
  try {
    for (let i = 1; i <= 3; i++) {
      const r = await call(`${kiln.url}/ingest?${q({ name: 'walclean.cpu', sampleRate: '1000000000' })}`, {
        method: 'POST',
        body: `main;work ${i}\n`,
      })
      assert.equal(r.status, 200)
    }
    await kiln.stop()
    assert.deepEqual(readdirSync(join(kiln.dataDir, 'kiln-wal')), [], 'a checkpoint on shutdown removed the segments')
    const again = await startKiln([], { dataDir: kiln.dataDir })
    try {
      const r = await call(`${again.url}/api/v1/top?${q({ type: CPU, query: '{service_name="walclean"}', from: 'now-1h' })}`)
      assert.equal(r.json.total, 6)
    } finally {
      await again.stop()
    }
  } finally {
    await kiln.dispose()
  }
})
