/**
 * Sliced work over large buffers (src/store/turns.ts's one slice a turn): the write-ahead log's CRC
 * of a record of many MiB runs a piece a turn, each piece in a turn of its own, and the record it
 * seals reads back whole, wherever its chunks cross the pieces' boundaries.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire, syncBuiltinESMExports } from 'node:module'
import { readWal, Wal, type WalRecord } from '../../src/store/wal.ts'

/** `n` bytes of a pattern that differs at every offset within a MiB, and per `seed`. */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >>> 20) * 7 + seed) & 0xff
  return b
}

test('a record of 21 MiB in chunks that cross the CRC pieces: sealed over several turns, read back byte for byte', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-wal-sliced-'))
  try {
    const wal = new Wal(dir, async () => {})
    // 5 MiB + 3 bytes, 12 MiB, 3 bytes, 4 MiB - 1: no chunk starts on a piece's boundary.
    const chunks = [bytes((5 << 20) + 3, 1), bytes(12 << 20, 2), bytes(3, 3), bytes((4 << 20) - 1, 4)]
    const record: WalRecord = {
      token: 'big',
      parts: [
        { table: 'kiln.stacks', format: 'TabSeparated', chunks: chunks.slice(0, 2) },
        { table: 'kiln.samples', format: 'TabSeparated', chunks: chunks.slice(2) },
      ],
    }
    // Each CRC piece of the record as the log computes it: its size, the turn it ran in, and
    // whether it ran inside append() (in the turn of the commit that logs it).
    const zlib = createRequire(import.meta.url)('node:zlib') as typeof import('node:zlib')
    const real = zlib.crc32
    const pieces: { bytes: number; turn: number; inAppend: boolean }[] = []
    let turn = 0
    let inAppend = false
    zlib.crc32 = (data, value) => {
      pieces.push({ bytes: typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength, turn, inAppend })
      return real(data, value)
    }
    syncBuiltinESMExports()
    let counting = true
    const count = () => {
      turn++
      if (counting) setImmediate(count)
    }
    setImmediate(count)
    try {
      inAppend = true
      const logged = wal.append(record)
      inAppend = false
      await logged.durable
    } finally {
      counting = false
      zlib.crc32 = real
      syncBuiltinESMExports()
    }
    // The payload (its head's few bytes, then 21 MiB of chunks) at 8 MiB a turn: three turns, none
    // of them the turn that logged the record.
    const total = pieces.reduce((n, p) => n + p.bytes, 0)
    const rows = chunks.reduce((n, c) => n + c.length, 0)
    assert.ok(total > rows && total < rows + 1024, `${total} bytes CRC'd for ${rows} of rows`)
    assert.ok(!pieces.some((p) => p.inAppend), 'no piece ran in the turn that logged the record')
    const perTurn = new Map<number, number>()
    for (const p of pieces) perTurn.set(p.turn, (perTurn.get(p.turn) ?? 0) + p.bytes)
    assert.deepEqual([...perTurn.values()], [8 << 20, 8 << 20, total - (16 << 20)], `bytes CRC'd per turn: ${JSON.stringify(pieces)}`)
    await wal.close()
    const { loose } = readWal(dir)
    assert.equal(loose.length, 1, 'the record reads back (its CRC matches)')
    const back = loose[0]!.parts
    assert.deepEqual(
      back.map((p) => p.table),
      ['kiln.stacks', 'kiln.samples'],
    )
    assert.ok(Buffer.concat(back[0]!.chunks).equals(Buffer.concat(chunks.slice(0, 2))), 'stacks bytes')
    assert.ok(Buffer.concat(back[1]!.chunks).equals(Buffer.concat(chunks.slice(2))), 'samples bytes')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
