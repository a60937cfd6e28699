/**
 * The write-ahead log (src/store/wal.ts): a server killed between logging a commit and the
 * engine's insert, or after the insert and before the ack, comes back with every acknowledged
 * profile, and the logged one, exactly once.
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
  assert.deepEqual(acked, [1, 2, 3, 4, 5], 'the requests before the crashed commit were acknowledged')
  assert.equal(failed, CRASH_AT, 'the crashed commit was not acknowledged')
  assert.ok(readdirSync(join(kiln.dataDir, 'kiln-wal')).length > 0, 'the log holds the commits')
  const again = await startKiln([], { dataDir: kiln.dataDir })
  try {
    const r = await call(`${again.url}/api/v1/top?${q({ type: CPU, query: '{service_name="walcrash"}', from: 'now-1h' })}`)
    assert.equal(r.status, 200, r.text)
    const self = Object.fromEntries((r.json.rows as { name: string; self: number }[]).map((x) => [x.name, x.self]))
    // Each request's leaf carries its own number: a value twice that means it landed twice.
    const expected = Object.fromEntries([...acked, CRASH_AT].map((i) => [`req${i}`, i]))
    for (const [name, v] of Object.entries(expected)) assert.equal(self[name], v, `${name} once: ${JSON.stringify(self)}`)
    assert.equal(
      r.json.total,
      [...acked, CRASH_AT].reduce((a, b) => a + b, 0),
    )
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
