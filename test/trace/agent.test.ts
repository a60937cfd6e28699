import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bin, captureUnavailable, startAgent, waitFor } from './capture/helpers.ts'
import { nobodyCannotRun } from '../nobody.ts'

const unavailable = captureUnavailable()
const root = process.getuid?.() === 0

test('kiln agent --trace-only without root exits 1 and says what to do', { skip: nobodyCannotRun() ?? false }, () => {
  const r = spawnSync(process.execPath, [bin, 'agent', '--trace-only', '--server', 'http://127.0.0.1:1'], {
    uid: 65534,
    gid: 65534,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, HOME: tmpdir() },
  })
  assert.equal(r.status, 1, r.stderr)
  assert.match(r.stderr, /needs root \(or CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN\): run it as sudo kiln agent --trace/)
})

test('kiln agent --trace without the tools to build its BPF program exits 1 and names the packages', {
  skip: root ? false : 'needs root',
}, () => {
  const cache = mkdtempSync(join(tmpdir(), 'kiln-capture-cache-'))
  try {
    // An empty cache and a PATH with no clang, bpftool or cc: the build cannot start.
    const r = spawnSync(process.execPath, [bin, 'agent', '--trace', '--server', 'http://127.0.0.1:1'], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, PATH: '/nonexistent', KILN_CAPTURE_CACHE: cache },
    })
    assert.equal(r.status, 1, r.stderr)
    assert.match(
      r.stderr,
      /builds its eBPF program on the host and needs clang, bpftool, cc: apt-get install clang llvm libbpf-dev bpftool/,
    )
  } finally {
    rmSync(cache, { recursive: true, force: true })
  }
})

test('kiln agent --trace-only: bad --capture-bytes and --trace-sources are refused', () => {
  const r = spawnSync(process.execPath, [bin, 'agent', '--trace-only', '--capture-bytes', '1000000'], { encoding: 'utf8', timeout: 30_000 })
  assert.equal(r.status, 2)
  assert.match(r.stderr, /--capture-bytes 1000000: expected a whole number of bytes from 64 to 16384/)
  const u = spawnSync(process.execPath, [bin, 'agent', '--trace-only', '--trace-sources', 'socket,packets'], {
    encoding: 'utf8',
    timeout: 30_000,
  })
  assert.equal(u.status, 2)
  assert.match(
    u.stderr,
    /--trace-sources socket,packets: "packets" is not a source; use all or some of socket,process_stats,network_stats,block_io_events,fs_slow_events/,
  )
})

test('kiln agent --trace-only with the Kiln server down: retries with back-off, bounded queue, drops counted, clean exit', {
  skip: unavailable ?? false,
  timeout: 120_000,
}, async () => {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port
      s.close(() => resolve(p))
    })
  })
  const agent = await startAgent(['--server', `http://127.0.0.1:${port}`, '--trace-only', '--upload-interval', '1s', '--max-queue', '0.05'])
  // Traffic for the capture while the server is away (process_stats rows come on their own).
  const curl = spawn('sh', ['-c', `for i in $(seq 40); do curl -s -o /dev/null http://127.0.0.1:${port}/ ; sleep 0.1; done`], {
    stdio: 'ignore',
  })
  try {
    await waitFor(
      () => /retrying in 2s/.test(agent.log()) && /dropped \d+ trace batches \(\d+ rows\): queue over 51 KB/.test(agent.log()),
      60_000,
      'back-off and a drop',
    )
  } finally {
    curl.kill()
  }
  const r = await agent.stop('SIGTERM')
  assert.equal(r.status, 0, r.log)
  assert.match(r.log, /cannot reach Kiln at .*ECONNREFUSED.*trace batches queued, retrying in 1s/)
  const stopped = /trace stopped: 0 rows sent in 0 batches, (\d+) rows dropped \((\d+) batches\)/.exec(r.log)
  assert.ok(stopped && Number(stopped[1]) > 0 && Number(stopped[2]) > 0, r.log)
})
