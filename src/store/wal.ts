/**
 * Kiln's write-ahead log for the embedded engine: a group commit's rows are appended here and
 * made durable by one synchronous write (O_DSYNC: the data and the file's size), while the engine
 * inserts them without fsyncing its parts. The engine fsynced every file of every part (about 30
 * fsyncs a commit, at ~6.5 ms each on a busy disk); the log costs one. After a crash the records the engine may not hold durably are inserted
 * again, each table's rows under the commit's deduplication token, so the engine keeps what it
 * already has and nothing lands twice. A checkpoint (syncfs of the data directory once the
 * engine has every record of a segment) lets the segment go.
 *
 * A record: magic, payload length, CRC-32 of the payload, then the payload: a JSON head and the
 * parts' bytes. A commit's head is `{token, parts: [[table, format, bytes]…]}`; a group's,
 * `{group: token, members: [token…]}`, names the commits the engine got in one insert (see
 * wal-apply.ts). A torn or corrupt record ends its segment: it was never acknowledged.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { closeSync, constants, fsync, mkdirSync, openSync, readdirSync, readFileSync, writev } from 'node:fs'
import { unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { crc32 } from 'node:zlib'
import { nextTurn } from './turns.ts'

export type RowFormat = 'TabSeparated' | 'JSONEachRow'

/** One table's rows in one commit. */
export interface WalPart {
  table: string
  format: RowFormat
  chunks: Buffer[]
}

/** One commit: its parts in insert order, and the token that names it to the engine's deduplication. */
export interface WalRecord {
  token: string
  parts: WalPart[]
}

const MAGIC = 0x4b574c31 // 'KWL1'
const HEAD = 12
const SEGMENT = /^(\d{10})\.wal$/

// A checkpoint every this many records or bytes (or seconds, CHECKPOINT_MS): the records after
// the last one are what a restart inserts again, and the engine's deduplication window must hold
// all of their tokens. Not more often: each spawns `sync`, and spawning from this process (the
// engine in it) took 222 ms of the event loop in 8 s of ingest with a checkpoint every 256 records.
const CHECKPOINT_RECORDS = 1000
const CHECKPOINT_BYTES = 64 << 20
/** Blocks each table remembers for deduplication: well above the records between two checkpoints. */
export const DEDUP_WINDOW = 10 * CHECKPOINT_RECORDS

/**
 * Makes everything written to a file system durable (`sync -f DIR`: syncfs; plain sync where `-f`
 * is unknown), through one shell started while this process is small. Spawning `sync` from the
 * server itself forks a process of gigabytes under a large upload: 200 ms of the event loop's CPU
 * per checkpoint (page tables copied), where the shell's fork is cheap.
 *
 * The shell is in a process group of its own: Ctrl-C in a terminal (or a signal to the server's
 * group) stops the server, which then flushes and checkpoints; the shell it still needs for that
 * must not have been killed with it (it was, and the server's stop failed on "the sync helper
 * exited"). Should the shell die anyway, syncs run `sync` themselves: slower, never refused.
 */
export class FileSystemSync {
  private readonly sh: ChildProcess
  private readonly waiting: { dir: string; resolve: () => void; reject: (e: Error) => void }[] = []
  private dead = false

  constructor() {
    this.sh = spawn('sh', ['-c', 'while IFS= read -r d; do sync -f "$d" 2>/dev/null || sync; echo; done'], {
      stdio: ['pipe', 'pipe', 'ignore'],
      detached: true,
    })
    this.sh.stdout!.on('data', (d: Buffer) => {
      for (const b of d) if (b === 10) this.waiting.shift()?.resolve()
      if (!this.waiting.length) this.pipe().unref?.()
    })
    const fail = () => {
      this.dead = true
      for (const w of this.waiting.splice(0)) syncDirectly(w.dir).then(w.resolve, w.reject)
    }
    this.sh.on('error', fail)
    this.sh.on('exit', fail)
    this.sh.stdin!.on('error', fail)
    // It must not keep the server running (it ends when its input closes with this process),
    // except while a sync is awaited.
    this.sh.unref()
    for (const s of [this.sh.stdin, this.sh.stdout] as unknown as { unref?: () => void }[]) s.unref?.()
  }

  private pipe(): { ref?: () => void; unref?: () => void } {
    return this.sh.stdout as unknown as { ref?: () => void; unref?: () => void }
  }

  /** The helper's process id (tests look at its process group). */
  get pid(): number | undefined {
    return this.sh.pid
  }

  sync(dir: string): Promise<void> {
    if (dir.includes('\n')) return Promise.reject(new Error(`cannot sync a directory whose name holds a newline: ${dir}`))
    if (this.dead) return syncDirectly(dir)
    return new Promise((resolve, reject) => {
      this.waiting.push({ dir, resolve, reject })
      this.pipe().ref?.()
      this.sh.stdin!.write(`${dir}\n`)
    })
  }

  close(): void {
    this.sh.stdin!.end()
  }
}

const run = promisify(execFile)

/** `sync -f DIR`, or a plain `sync` where `-f` is unknown: from this process, when the helper is gone. */
async function syncDirectly(dir: string): Promise<void> {
  try {
    await run('sync', ['-f', dir])
  } catch {
    await run('sync', [])
  }
}

/** A record's buffers: its header (CRC still 0: see `seal`), then the payload. */
function encode(head: object, chunks: Buffer[]): Buffer[] {
  const json = Buffer.from(JSON.stringify(head))
  const len = Buffer.alloc(4)
  len.writeUInt32LE(json.length)
  const payload = [len, json, ...chunks]
  let size = 0
  for (const b of payload) size += b.length
  const header = Buffer.alloc(HEAD)
  header.writeUInt32LE(MAGIC, 0)
  header.writeUInt32LE(size, 4)
  return [header, ...payload]
}

// CRC'd this much a turn of the event loop (2-5 ms of it; 16 MiB took up to 11 ms under load): a
// commit of several 15 MB uploads holds hundreds of MB of rows.
const CRC_STEP = 8 << 20

/**
 * Writes the CRC of an encoded record's payload into its header, a piece at a time. A record of
 * more than a piece waits for a turn of its own (turns.ts) before each piece, the first too: run at
 * once, its first piece shared the turn of the commit that logged it, with another job's slice
 * (an insert's gathering: 22 ms of CPU in one turn under 8 hostile uploads).
 */
async function seal(record: Buffer[]): Promise<void> {
  let size = 0
  for (let i = 1; i < record.length; i++) size += record[i]!.length
  const sliced = size > CRC_STEP
  let crc = 0
  let done = 0
  for (const b of record.slice(1)) {
    for (let at = 0; at < b.length; ) {
      if (sliced && done === 0) await nextTurn()
      const n = Math.min(b.length - at, CRC_STEP - done)
      crc = crc32(b.subarray(at, at + n), crc)
      at += n
      done = (done + n) % CRC_STEP
    }
  }
  record[0]!.writeUInt32LE(crc, 8)
}

/** The records of one segment, up to the first torn or corrupt one. */
function* decode(
  buf: Buffer,
): Generator<{ token?: string; group?: string; members?: string[]; parts?: [string, RowFormat, number][]; body: Buffer }> {
  let at = 0
  while (at + HEAD <= buf.length && buf.readUInt32LE(at) === MAGIC) {
    const size = buf.readUInt32LE(at + 4)
    const payload = buf.subarray(at + HEAD, at + HEAD + size)
    if (payload.length < size || crc32(payload) !== buf.readUInt32LE(at + 8)) return
    const jsonLen = payload.readUInt32LE(0)
    yield { ...JSON.parse(payload.subarray(4, 4 + jsonLen).toString()), body: payload.subarray(4 + jsonLen) }
    at += HEAD + size
  }
}

/**
 * What `dir` holds that the engine may not hold durably, in log order: groups the engine may have
 * (each with those of its commits still in the log) and commits no group names (never inserted).
 */
export function readWal(dir: string): { groups: { token: string; records: WalRecord[] }[]; loose: WalRecord[] } {
  const byToken = new Map<string, WalRecord>()
  const groups: { token: string; records: WalRecord[] }[] = []
  for (const name of segments(dir)) {
    for (const r of decode(readFileSync(join(dir, name)))) {
      if (r.group) {
        const records = r.members!.flatMap((t) => byToken.get(t) ?? [])
        for (const t of r.members!) byToken.delete(t)
        if (records.length) groups.push({ token: r.group, records })
      } else if (r.token && r.parts) {
        let at = 0
        const parts = r.parts.map(([table, format, n]) => ({ table, format, chunks: [r.body.subarray(at, (at += n))] }))
        byToken.set(r.token, { token: r.token, parts })
      }
    }
  }
  return { groups, loose: [...byToken.values()] }
}

function segments(dir: string): string[] {
  mkdirSync(dir, { recursive: true })
  return readdirSync(dir)
    .filter((n) => SEGMENT.test(n))
    .sort()
}

const CHECKPOINT_MS = 30_000

const writevP = promisify(writev)
const fsyncP = promisify(fsync)
// Segments are written with O_DSYNC: a writev returns once its bytes (and the file's size) are on
// disk, as a writev then an fdatasync would, in one job of libuv's pool instead of two — each job
// wakes a pool thread and then the event loop, a few tens of us of CPU on this 2-core machine.
const SEGMENT_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_DSYNC

interface Segment {
  n: number
  fd: number
  opened: number
  records: number
  bytes: number
  /** Records appended whose engine inserts have not returned yet. */
  unapplied: number
  /** Its directory entry is not durable yet: the first sync of the segment syncs the directory too. */
  newEntry: boolean
}

export type WalSegment = Segment

/**
 * The log of one data directory. Appends that arrive while a write runs are written (and made
 * durable) together by the next one (group commit at the log).
 */
export class Wal {
  private queue: { bufs: Buffer[]; seg: Segment; resolve: () => void; reject: (e: unknown) => void }[] = []
  private flushing = false
  private flushed: Promise<void> = Promise.resolve()
  private checkpointing = false
  private checkpointed: Promise<void> = Promise.resolve()
  private readonly old: Segment[] = []
  private current: Segment

  /** Opens a new segment after those in `dir`, which recovery reads (readWal) and `checkpoint` removes. */
  constructor(
    private readonly dir: string,
    private readonly syncData: () => Promise<void>,
    /** Called once the log is closed (stops what syncData uses). */
    private readonly closed: () => void = () => {},
  ) {
    const names = segments(dir)
    const last = names.at(-1)
    // Segments left by the last process: the next checkpoint removes them.
    for (const name of names) this.old.push({ ...this.blank(Number(SEGMENT.exec(name)![1])), fd: -1 })
    this.current = this.openSegment(last ? Number(SEGMENT.exec(last)![1]) + 1 : 1)
  }

  private blank(n: number): Segment {
    return { n, fd: -1, opened: Date.now(), records: 0, bytes: 0, unapplied: 0, newEntry: true }
  }

  private path(n: number): string {
    return join(this.dir, `${String(n).padStart(10, '0')}.wal`)
  }

  private openSegment(n: number): Segment {
    return { ...this.blank(n), fd: openSync(this.path(n), SEGMENT_FLAGS, 0o644) }
  }

  /** Appends a commit: `durable` resolves once it is; pass `seg` to `applied` once the engine has the rows. */
  append(record: WalRecord): { seg: Segment; durable: Promise<void> } {
    const parts = record.parts.map((p) => [p.table, p.format, p.chunks.reduce((n, c) => n + c.length, 0)])
    return this.write(
      encode(
        { token: record.token, parts },
        record.parts.flatMap((p) => p.chunks),
      ),
    )
  }

  /** Names the commits the engine gets in one insert; resolves once that is durable. */
  async group(token: string, members: string[]): Promise<void> {
    await this.write(encode({ group: token, members }, []), false).durable
  }

  /** The engine's inserts of a record appended to `seg` returned. */
  applied(seg: Segment): void {
    seg.unapplied--
    if (seg !== this.current && !seg.unapplied) void this.checkpoint()
  }

  private write(bufs: Buffer[], counts = true): { seg: Segment; durable: Promise<void> } {
    const cur = this.current
    if (cur.records >= CHECKPOINT_RECORDS || cur.bytes >= CHECKPOINT_BYTES || (cur.records && Date.now() - cur.opened > CHECKPOINT_MS)) {
      this.old.push(cur)
      this.current = this.openSegment(cur.n + 1)
      if (!cur.unapplied) void this.checkpoint()
    }
    const seg = this.current
    if (counts) seg.unapplied++
    seg.records++
    for (const b of bufs) seg.bytes += b.length
    const durable = new Promise<void>((resolve, reject) => {
      this.queue.push({ bufs, seg, resolve, reject })
      if (!this.flushing) {
        this.flushing = true
        this.flushed = this.flush()
      }
    })
    // Observed by the caller; a failure it stopped waiting for must not end the process.
    durable.catch(() => {})
    return { seg, durable }
  }

  private async flush(): Promise<void> {
    // Cleared in the same turn as the last look at the queue: an append after it starts a new flush.
    try {
      while (this.queue.length) {
        const batch = this.queue
        this.queue = []
        for (const q of batch) await seal(q.bufs)
        // A batch may span a new segment: each gets its own write.
        const bySeg = new Map<Segment, Buffer[]>()
        for (const q of batch) {
          const bufs = bySeg.get(q.seg)
          if (bufs) for (const b of q.bufs) bufs.push(b)
          else bySeg.set(q.seg, q.bufs.slice())
        }
        try {
          for (const [seg, bufs] of bySeg) await this.sync(seg, bufs)
          for (const q of batch) q.resolve()
        } catch (e) {
          for (const q of batch) q.reject(e)
        }
      }
    } finally {
      this.flushing = false
    }
  }

  private async sync(seg: Segment, bufs: Buffer[]): Promise<void> {
    // writev takes at most IOV_MAX (1024) buffers at a time; each returns once durable (O_DSYNC).
    for (let i = 0; i < bufs.length; i += 1024) await writevP(seg.fd, bufs.slice(i, i + 1024))
    if (!seg.newEntry) return
    const d = openSync(this.dir, 'r')
    try {
      await fsyncP(d)
    } finally {
      closeSync(d)
    }
    seg.newEntry = false
  }

  /** Removes the old segments whose records the engine has, once a sync of its files made them durable. */
  checkpoint(): Promise<void> {
    if (!this.checkpointing) {
      this.checkpointing = true
      this.checkpointed = this.checkpoints()
    }
    return this.checkpointed
  }

  private async checkpoints(): Promise<void> {
    // Cleared in the same turn as the last look at the segments, as `flushing` is.
    try {
      for (;;) {
        let n = 0
        while (n < this.old.length && !this.old[n]!.unapplied) n++
        if (!n) return
        const done = this.old.slice(0, n)
        await this.syncData()
        for (const seg of done) {
          if (seg.fd >= 0) closeSync(seg.fd)
          await unlink(this.path(seg.n)).catch(() => {})
        }
        this.old.splice(0, n)
      }
    } finally {
      this.checkpointing = false
    }
  }

  /** On shutdown, once every commit returned: the engine's files made durable, the log emptied. */
  async close(): Promise<void> {
    await this.flushed
    await this.checkpointed
    const cur = this.current
    this.old.push(cur)
    try {
      if (!cur.unapplied) await this.checkpoint()
      else closeSync(cur.fd)
    } finally {
      this.closed()
    }
  }
}
