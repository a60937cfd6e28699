import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { ProcessMeta } from '../../../src/trace/sources/index.ts'
import { BlockIoSource, opOf } from '../../../src/trace/sources/block-io.ts'
import { collect, isRoot, type Row, work } from './helpers.ts'

test('rwbs flags → op', () => {
  assert.equal(opOf('WS'), 'W')
  assert.equal(opOf('FWFS'), 'W')
  assert.equal(opOf('RA'), 'R')
  assert.equal(opOf('RM'), 'R')
  assert.equal(opOf('D'), 'D')
  assert.equal(opOf('FF'), 'F')
  assert.equal(opOf('N'), 'N')
})

/** The whole disk under the file system holding `path` (block requests name the disk, not the partition), or why there is none. */
function diskOf(path: string): { major: number; minor: number } | string {
  const dev = statSync(path).dev
  // glibc's dev_t: major = bits 8–19 and 32–43, minor = bits 0–7 and 20–31.
  const major = Number((BigInt(dev) >> 8n) & 0xfffn)
  const minor = Number((BigInt(dev) & 0xffn) | ((BigInt(dev) >> 12n) & 0xfff00n))
  const sys = `/sys/dev/block/${major}:${minor}`
  if (!existsSync(sys)) return `${path} is on device ${major}:${minor}, which is not a block device (tmpfs, overlay?)`
  if (existsSync(join(sys, 'partition'))) {
    const [M, m] = readFileSync(join(sys, '..', 'dev'), 'utf8')
      .trim()
      .split(':')
      .map(Number)
    return { major: M!, minor: m! }
  }
  return { major, minor }
}

const disk = diskOf(work)
const skip = !isRoot ? 'needs root (bpftrace)' : typeof disk === 'string' ? disk : false
if (typeof disk === 'string') console.log(`# skipping block I/O: ${disk}`)

function dd(args: string[]): Promise<number> {
  const c = spawn('dd', args, { stdio: 'ignore' })
  return new Promise((resolve, reject) =>
    c.on('close', (code) => (code === 0 ? resolve(c.pid!) : reject(new Error(`dd ${args.join(' ')}: ${code}`)))),
  )
}

// O_DIRECT: the requests are dd's own (buffered writes would reach the disk later, from writeback threads).
test('block_io_events: a 4 MiB O_DIRECT write and read by dd, with its pid, device, op, bytes and latency', { skip }, async (t) => {
  const { major, minor } = disk as { major: number; minor: number }
  const source = new BlockIoSource({ meta: new ProcessMeta({ node: 'n', asid: 3 }) })
  const got = await collect(source)
  t.after(() => source.stop())
  const file = join(work, 'direct.bin')
  const writer = await dd(['if=/dev/zero', `of=${file}`, 'bs=1M', 'count=4', 'oflag=direct'])
  const reader = await dd([`if=${file}`, 'of=/dev/null', 'bs=1M', 'iflag=direct'])
  // Stopped at once: what bpftrace printed as it exited and what was buffered must still come out.
  await source.stop()
  const rows = got.get('block_io_events') ?? []
  const of = (pid: number, op: string) => rows.filter((r) => r.pid === pid && r.op === op)
  const sum = (rs: Row[]) => rs.reduce((n, r) => n + Number(r.bytes), 0)
  const writes = of(writer, 'W')
  const reads = of(reader, 'R')
  // ≥ 75 %: about 0.15 % of requests get no row (README.md, known gap), and dd's requests are up to 1 MiB of the 4.
  assert.ok(sum(writes) >= 0.75 * (4 << 20), `dd's writes: ${sum(writes)} bytes in ${writes.length} requests of ${rows.length}`)
  assert.ok(sum(reads) >= 0.75 * (4 << 20), `dd's reads: ${sum(reads)} bytes in ${reads.length} requests`)
  const uptimeTicks = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 100
  for (const r of [...writes, ...reads]) {
    assert.equal(r.major, major)
    assert.equal(r.minor, minor)
    assert.equal(r.service, 'dd')
    assert.equal(r.node, 'n')
    assert.ok(Number(r.latency) > 0 && Number(r.latency) < 10e9, `latency ${r.latency} ns`)
    assert.ok(Number(r.sector) >= 0)
    assert.match(String(r.time_), /^\d{19}$/)
    assert.ok(Math.abs(Number(BigInt(r.time_ as string) / 1_000_000n) - Date.now()) < 30_000, 'wall-clock time')
    // upid: asid 3, dd's pid, and a start time (clock ticks since boot) of the last half minute.
    const upid = BigInt(r.upid as string)
    assert.equal(upid >> 96n, 3n)
    assert.equal(Number((upid >> 64n) & 0xffffffffn), r.pid)
    const start = Number(upid & 0xffffffffffffffffn)
    assert.ok(start <= uptimeTicks && start > uptimeTicks - 3000, `start ${start} vs uptime ${uptimeTicks} ticks`)
  }
  const s = source.stats()
  assert.equal(s.rows, rows.length)
  assert.equal(s.unparsed, 0, 'END cleared the maps: no map printed at exit')
  assert.equal(s.lost, 0)
})

test('block_io_events: stop() is prompt and a second stop() is harmless', { skip }, async () => {
  const source = new BlockIoSource({ meta: new ProcessMeta({ node: 'n', asid: 3 }) })
  await collect(source)
  const t0 = Date.now()
  await source.stop()
  await source.stop()
  // The drain waits ≤ 2 s for the ready probe's line, then bpftrace gets ≤ 5 s to exit.
  assert.ok(Date.now() - t0 < 7500, `stop took ${Date.now() - t0} ms`)
})
