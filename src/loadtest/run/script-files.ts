/**
 * The files a script reads — its modules and `open()` — from disk, or from an archive's memory.
 * Shared by the main thread and the VU worker threads, so both resolve and transform alike.
 */
import { readFileSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { transformSync } from 'esbuild'
import { ScriptError } from '../errors.ts'

export class ScriptFiles {
  /** Every file read so far, by absolute path: what an archive must hold. */
  readonly read = new Set<string>()

  constructor(
    /** The script's absolute path: relative paths resolve against its folder. */
    private readonly scriptPath: string,
    /** Files by absolute path (an archive); absent → read from disk. */
    readonly files?: Map<string, Buffer>,
    remote?: Iterable<[string, string]>,
  ) {
    for (const [u, src] of remote ?? []) this.remote.set(u, src)
  }

  bytes(path: string): Buffer {
    const abs = isAbsolute(path) ? path : resolve(dirname(this.scriptPath), path)
    this.read.add(abs)
    const f = this.files?.get(abs)
    if (f) return f
    if (this.files) throw new Error(`file '${path}' is not in the archive`)
    try {
      return readFileSync(abs)
    } catch {
      throw new Error(`open ${abs}: no such file or directory`)
    }
  }

  /** Remote modules by URL, fetched once before the first VU (see remote.ts). */
  readonly remote = new Map<string, string>()
  /** Remote modules that could not be fetched, by URL → why: an error once really imported. */
  readonly remoteFailed = new Map<string, string>()

  /** A module's source; TypeScript has its types stripped by esbuild (as k6 does), lines kept. */
  module(path: string): string {
    if (/^https?:\/\//i.test(path)) {
      const remote = this.remote.get(path)
      const failed = this.remoteFailed.get(path)
      if (failed) throw new ScriptError(failed)
      if (remote === undefined)
        throw new ScriptError(`the remote module '${path}' was not fetched before the run (only static imports are): import it statically`)
      this.read.add(path)
      return remote
    }
    const src = this.bytes(path).toString('utf8')
    if (!/\.m?ts$/.test(path)) return src
    try {
      return transformSync(src, { loader: 'ts', format: 'esm', sourcefile: path, target: 'es2020' }).code
    } catch (e) {
      const err = (e as { errors?: { text: string; location?: { line: number; column: number } | null }[] }).errors?.[0]
      throw new ScriptError(err ? `${path}:${err.location?.line ?? 0}:${err.location?.column ?? 0}: ${err.text}` : (e as Error).message)
    }
  }
}
