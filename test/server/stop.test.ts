/**
 * Stopping the server the way a user does: Ctrl-C in a terminal signals the whole foreground
 * process group — the server and whatever it started. The server must still flush, checkpoint
 * and exit 0, and what it acknowledged must be there after a restart.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startKiln, call, q } from './helpers.ts'
import { FileSystemSync } from '../../src/store/wal.ts'

/** Field 5 of /proc/PID/stat: the process group. */
function pgid(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2])
}

/** The processes `pid` started (every thread's children). */
function children(pid: number): number[] {
  const out: number[] = []
  for (const line of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)) if (line) out.push(Number(line))
  return out
}

test('SIGINT to the server and the processes it started (Ctrl-C in a terminal): it exits 0 and keeps what it acknowledged', async (t) => {
  if (process.platform !== 'linux') return t.skip('reads /proc to find the server’s children: Linux only')
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-stop-'))
  try {
    const kiln = await startKiln([], { dataDir })
    try {
      const r = await call(`${kiln.url}/ingest?${q({ name: 'stopped.cpu', format: 'folded' })}`, { method: 'POST', body: 'main;work 10\n' })
      assert.equal(r.status, 200, r.text)
      const pid = kiln.proc.pid!
      const helpers = children(pid)
      assert.ok(helpers.length > 0, 'the server has started its sync helper')
      // The helper keeps out of the terminal's group, so Ctrl-C would not reach it ...
      for (const h of helpers) assert.notEqual(pgid(h), pgid(pid), `helper ${h} is in the server's process group`)
      // ... and when it is signalled anyway (here: as if it were), the server still stops cleanly.
      // A server that does not stop in 60 s has hung (the old helper's death left its stop waiting).
      const exited = new Promise<number | null | 'hung'>((resolve) => {
        const timer = setTimeout(() => resolve('hung'), 60_000)
        kiln.proc.once('exit', (code) => {
          clearTimeout(timer)
          resolve(code)
        })
      })
      for (const p of [pid, ...helpers]) process.kill(p, 'SIGINT')
      const code = await exited
      assert.equal(code, 0, `exit ${code}:\n${kiln.stderr()}`)
      assert.doesNotMatch(kiln.stderr(), /Error|sync helper/, kiln.stderr())
    } finally {
      await kiln.stop({ kill9: true })
    }

    const again = await startKiln([], { dataDir })
    try {
      const names = await call(`${again.url}/pyroscope/label-values?label=service_name`)
      assert.ok((names.json as string[]).includes('stopped'), `after the restart: ${names.text}`)
    } finally {
      await again.stop()
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
})

test('FileSystemSync: a sync helper that died (killed, not closed) leaves syncs running sync themselves', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-sync-'))
  const fs = new FileSystemSync()
  try {
    await fs.sync(dir)
    const gone = new Promise((r) => setTimeout(r, 200))
    process.kill(fs.pid!, 'SIGKILL')
    // One sync may be in flight when it dies: it still resolves.
    await Promise.all([fs.sync(dir), gone.then(() => fs.sync(dir))])
    await assert.rejects(fs.sync('a\nb'), /newline/)
  } finally {
    fs.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
