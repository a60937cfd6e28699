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
 * Reads a file (or stdin for `-`/undefined) as raw byte chunks of up to 1 MiB, for the tools that
 * parse bytes where they lie; errors become messages that say what to give instead. A file is
 * read synchronously into one reused buffer (no allocation per chunk): `onChunk` must copy what
 * it keeps.
 */
export async function forEachChunk(file: string | undefined, onChunk: (chunk: Buffer) => void): Promise<void> {
  try {
    if (!file || file === '-') {
      for await (const chunk of process.stdin as AsyncIterable<Buffer>) onChunk(chunk)
      return
    }
    const fd = openSync(file, 'r')
    try {
      const buf = Buffer.allocUnsafe(1 << 20)
      for (let n = readSync(fd, buf, 0, buf.length, null); n > 0; n = readSync(fd, buf, 0, buf.length, null)) onChunk(buf.subarray(0, n))
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
 * Writes latin1 text handed over in pieces to stdout through a 1 MiB buffer: a large output is
 * never held whole, neither as one string nor as one Buffer. `end()` flushes and waits.
 */
export class Latin1Writer {
  private buf = Buffer.allocUnsafe(1 << 20)
  private at = 0

  readonly write = (...parts: string[]): void => {
    for (const s of parts) {
      if (this.at + s.length > this.buf.length) this.flush()
      if (s.length > this.buf.length) process.stdout.write(Buffer.from(s, 'latin1'))
      else this.at += this.buf.write(s, this.at, 'latin1')
    }
  }

  private flush(): void {
    if (this.at === 0) return
    process.stdout.write(this.buf.subarray(0, this.at))
    // stdout may still hold the flushed bytes (a pipe written asynchronously): a new buffer, not a reuse.
    this.buf = Buffer.allocUnsafe(this.buf.length)
    this.at = 0
  }

  end(): Promise<void> {
    const last = this.buf.subarray(0, this.at)
    this.at = 0
    return new Promise((resolve, reject) => process.stdout.write(last, (e) => (e ? reject(e) : resolve())))
  }
}
