import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { closeSync, openSync, readSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { ProcessMeta } from '../../../src/trace/sources/index.ts'
import { FsSlowerSource } from '../../../src/trace/sources/fs-slower.ts'
import { collect, isRoot, type Row, work } from './helpers.ts'

const skip = isRoot ? false : 'needs root (bpftrace)'
const MiB = 1 << 20

function dd(args: string[]): Promise<number> {
  const c = spawn('dd', args, { stdio: 'ignore' })
  return new Promise((resolve, reject) =>
    c.on('close', (code) => (code === 0 ? resolve(c.pid!) : reject(new Error(`dd ${args.join(' ')}: ${code}`)))),
  )
}

// Slow for an honest reason: one write() of 32 MiB copies 32 MiB into the page cache (measured
// 46 ms for 16 MiB here) and fsync then writes 64 MiB to the disk (29 ms for 32 MiB), both far
// over 2 ms; dd from /dev/zero to /dev/null moves as much through character devices, which
// must not count.
test('fs_slow_events: dd’s 32 MiB writes and its fsync pass a 2 ms threshold; character devices and fast calls do not', {
  skip,
}, async (t) => {
  const source = new FsSlowerSource({ meta: new ProcessMeta({ node: 'n', asid: 5 }), thresholdMs: 2 })
  const got = await collect(source)
  t.after(() => source.stop())
  const file = join(work, `kiln-fsslower-${process.pid}.bin`)
  const writer = await dd(['if=/dev/zero', `of=${file}`, 'bs=32M', 'count=2', 'conv=fsync'])
  const devices = await dd(['if=/dev/zero', 'of=/dev/null', 'bs=32M', 'count=2'])
  await source.stop()
  const rows = got.get('fs_slow_events') ?? []
  const mine = rows.filter((r) => r.pid === writer)
  const writes = mine.filter((r) => r.op === 'W')
  assert.deepEqual(
    writes.map((r) => [r.file, r.bytes, r.offset]),
    [
      [`kiln-fsslower-${process.pid}.bin`, 32 * MiB, 0],
      [`kiln-fsslower-${process.pid}.bin`, 32 * MiB, 32 * MiB],
    ],
    JSON.stringify(mine),
  )
  const syncs = mine.filter((r) => r.op === 'F')
  assert.equal(syncs.length, 1, JSON.stringify(mine))
  assert.equal(syncs[0]!.offset, -1)
  for (const r of mine) {
    assert.ok(Number(r.latency) >= 2e6, `latency ${r.latency}`)
    assert.equal(r.service, 'dd')
    assert.match(String(r.time_), /^\d{19}$/)
  }
  assert.ok(!rows.some((r) => r.pid === devices), '/dev/zero and /dev/null are not regular files')
  assert.ok(!rows.some((r) => Number(r.latency) < 2e6), 'nothing under the threshold')
  const s = source.stats()
  assert.equal(s.unparsed, 0)
  assert.equal(s.rows, rows.length)
})

// With no threshold every regular-file call shows: the test's own open, pread and write, with the
// name (UTF-8), size and offset of each. Only this process: the whole host's calls at threshold 0
// are more than bpftrace's perf buffer holds on a busy machine.
test('fs_slow_events: open, pread and write of a regular file with name, bytes and offsets (threshold 0, one pid)', { skip }, async (t) => {
  const source = new FsSlowerSource({ meta: new ProcessMeta({ node: 'n', asid: 5 }), thresholdMs: 0, pid: process.pid })
  const got = await collect(source)
  t.after(() => source.stop())
  const name = `kiln-ä-${process.pid}.txt`
  const path = join(work, name)
  const fd = openSync(path, 'w+')
  writeSync(fd, 'hello, world')
  readSync(fd, Buffer.alloc(5), 0, 5, 7)
  closeSync(fd)
  await source.stop()
  const mine = (got.get('fs_slow_events') ?? []).filter((r: Row) => r.pid === process.pid && r.file === name)
  assert.deepEqual(
    mine.map((r) => [r.op, r.bytes, r.offset]),
    [
      ['O', 0, -1],
      ['W', 12, 0],
      ['R', 5, 7],
    ],
    JSON.stringify(mine),
  )
  assert.ok(String(mine[0]!.cmdline).includes('--test'), 'the test process itself, with its command line')
  assert.ok(
    (got.get('fs_slow_events') ?? []).every((r) => r.pid === process.pid),
    'no other process',
  )
  assert.equal(source.stats().lost, 0)
})
