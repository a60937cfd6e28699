import { closeSync, openSync, readFileSync, readSync } from 'node:fs'
import { KilnError } from '../model/errors.ts'

/**
 * Reads a file (or stdin for `-`/undefined) line by line as latin1, so that every byte is one
 * UTF-16 unit: regexes and byte-order sorting then behave as Perl's do on raw bytes, and output
 * written back as latin1 is byte for byte the input's bytes. Lines split on "\n" as Perl's `<>`
 * does: a last line without "\n" still counts, "\r" stays in the line.
 */
export async function forEachLine(file: string | undefined, onLine: (line: string) => void): Promise<void> {
  const lines = new LineSplitter(onLine)
  await forEachChunk(file, (chunk) => lines.push(chunk.toString('latin1')))
  lines.end()
}

/**
 * Reads a file (or stdin for `-`/undefined) as raw byte chunks, for the tools that parse bytes
 * where they lie; errors become messages that say what to give instead. A file is read
 * synchronously into one reused buffer (`buf`, 1 MiB unless given; no allocation per chunk):
 * `onChunk` must copy what it keeps.
 */
export async function forEachChunk(file: string | undefined, onChunk: (chunk: Buffer) => void, buf?: Buffer): Promise<void> {
  try {
    if (!file || file === '-') {
      for await (const chunk of process.stdin as AsyncIterable<Buffer>) onChunk(chunk)
      return
    }
    const fd = openSync(file, 'r')
    try {
      const b = buf ?? Buffer.allocUnsafe(1 << 20)
      for (let n = readSync(fd, b, 0, b.length, null); n > 0; n = readSync(fd, b, 0, b.length, null)) onChunk(b.subarray(0, n))
    } finally {
      closeSync(fd)
    }
  } catch (e) {
    throw readError(e, file)
  }
}

/** A whole file (or stdin for `-`/undefined) as one Buffer: a file is read straight into it. */
export async function readBytes(file: string | undefined): Promise<Buffer> {
  if (!file || file === '-') {
    const parts: Buffer[] = []
    await forEachChunk(file, (chunk) => parts.push(chunk))
    return Buffer.concat(parts)
  }
  try {
    return readFileSync(file)
  } catch (e) {
    throw readError(e, file)
  }
}

/** A read's error as a message that says what to give instead. */
function readError(e: unknown, file: string | undefined): Error {
  if (isKilnErrorLike(e)) return e as KilnError
  const err = e as NodeJS.ErrnoException
  if (err.code === 'ENOENT') return new KilnError('KILN_NOT_FOUND', `${file}: no such file; give a path or '-' for stdin`)
  if (err.code === 'EISDIR') return new KilnError('KILN_USAGE', `${file}: is a directory; give a file or '-' for stdin`)
  return new KilnError('KILN_BAD_REQUEST', `${file ?? 'stdin'}: cannot read: ${err.message}`)
}

/** Splits text that arrives in chunks into lines on "\n"; `end()` passes a last unterminated line. */
export class LineSplitter {
  private rest = ''
  /** The last complete line passed on ('' when the text ended with a blank line). */
  last = ''
  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string): void {
    const text = this.rest ? this.rest + chunk : chunk
    let start = 0
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', start)) {
      this.last = text.slice(start, i)
      this.onLine(this.last)
      start = i + 1
    }
    this.rest = text.slice(start)
  }

  /** Passes on what is left after the last "\n"; returns whether there was any. */
  end(): boolean {
    const partial = this.rest !== ''
    if (partial) this.onLine(this.rest)
    this.rest = ''
    return partial
  }
}

const isKilnErrorLike = (e: unknown): boolean => e instanceof KilnError

/** Reads a whole file (or stdin) as latin1 lines. */
export async function readLines(file: string | undefined): Promise<string[]> {
  const out: string[] = []
  await forEachLine(file, (l) => out.push(l))
  return out
}

/** Writes latin1 text (bytes as read) to stdout and waits until it is flushed. */
export function writeLatin1(text: string): Promise<void> {
  return writeBytes(Buffer.from(text, 'latin1'))
}

/** Writes bytes to stdout and waits until they are flushed. */
export function writeBytes(bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(bytes, (e) => (e ? reject(e) : resolve()))
  })
}

/**
 * Writes latin1 text handed over in pieces (and numbers, formatted straight into the bytes) to
 * stdout through a 1 MiB buffer: a large output is never held whole, neither as one string nor
 * as one Buffer, and numbers make no strings. A flushed buffer is reused when the stream kept
 * nothing of it (a file, or /dev/null: the write was synchronous); else a new one is taken.
 * Reusing it saves the 26 MB of fresh pages a 95,761-frame SVG took (~16 µs a page on the VM).
 */
export class Latin1Writer {
  private buf: Buffer
  private at = 0

  constructor(
    private readonly out: NodeJS.WritableStream & { writableLength: number } = process.stdout,
    /** The buffer's size, or a buffer to use (one the caller is done with: its pages are mapped already). */
    size: number | Buffer = 1 << 20,
  ) {
    this.buf = typeof size === 'number' ? Buffer.allocUnsafe(size) : size
  }

  readonly write = (...parts: string[]): void => {
    for (const s of parts) this.text(s)
  }

  text(s: string): void {
    const n = s.length
    if (this.at + n > this.buf.length) {
      this.flush()
      if (n > this.buf.length) return void this.out.write(Buffer.from(s, 'latin1'))
    }
    // Short pieces byte by byte (a native write costs more than the copy); each char is one byte.
    if (n > 64) this.at += this.buf.write(s, this.at, 'latin1')
    else for (let i = 0; i < n; i++) this.buf[this.at++] = s.charCodeAt(i)
  }

  /** A number as String(n) prints it; non-negative integers are written digit by digit. */
  int(n: number): void {
    if (!(n >= 0 && n <= Number.MAX_SAFE_INTEGER && Number.isInteger(n))) return this.text(String(n))
    let digits = 1
    for (let p = 10; p <= n; p *= 10) digits++
    if (this.at + digits > this.buf.length) this.flush()
    for (let i = this.at + digits - 1; i >= this.at; i--) {
      const q = Math.floor(n / 10)
      this.buf[i] = 48 + n - q * 10
      n = q
    }
    this.at += digits
  }

  /** `String(Math.round(n * 100) / 100)`, from the integer of hundredths (15 digits at most print the same). */
  hundredths(n: number): void {
    const v = Math.round(n * 100)
    if (!(v >= 0 && v < 1e15)) return this.text(String(v / 100))
    const int = Math.floor(v / 100)
    const f = v - int * 100
    this.int(int)
    if (f === 0) return
    if (this.at + 3 > this.buf.length) this.flush()
    this.buf[this.at++] = 46
    this.buf[this.at++] = 48 + Math.floor(f / 10)
    if (f % 10) this.buf[this.at++] = 48 + (f % 10)
  }

  private flush(): void {
    if (this.at === 0) return
    this.out.write(this.buf.subarray(0, this.at))
    // A stream that still holds the bytes (a pipe written asynchronously) gets them from a new buffer.
    if (this.out.writableLength !== 0) this.buf = Buffer.allocUnsafe(this.buf.length)
    this.at = 0
  }

  end(): Promise<void> {
    const last = this.buf.subarray(0, this.at)
    this.at = 0
    return new Promise((resolve, reject) => this.out.write(last, (e) => (e ? reject(e) : resolve())))
  }
}
