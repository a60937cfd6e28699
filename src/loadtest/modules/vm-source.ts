/**
 * The JS a VU evaluates (modules/<module>/*.js, engine/loop.js) without comments and layout.
 * QuickJS keeps every function's source text in the VU's heap (for Function.prototype.toString),
 * comments and indentation included, and compiling a larger text leaves more of the heap touched:
 * with the preludes whitespace-minified (esbuild's minifyWhitespace: names kept, so stack frames
 * still name the module's functions, on line 1), each VU's WASM memory was 336 against 352 KB with
 * k6/http imported (Rss of its mapping, 50 VUs in one thread). Identifiers were not renamed: that
 * saved no more memory and would change the names in error messages.
 *
 * esbuild's synchronous API starts a process per call (~60 ms a file here), so a minified text is
 * cached on disk by the hash of its source: ~/.cache/kiln/vm (/var/cache/kiln/vm as root,
 * KILN_VM_CACHE overrides). When esbuild or the cache fails, the source is evaluated as it is.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { transformSync } from 'esbuild'

function cacheDir(): string {
  if (process.env.KILN_VM_CACHE) return process.env.KILN_VM_CACHE
  return process.getuid?.() === 0 ? '/var/cache/kiln/vm' : join(homedir(), '.cache', 'kiln', 'vm')
}

/** `src` whitespace-minified (from the cache when there), or `src` itself when that fails. */
export function minifiedVmSource(src: string): string {
  if (process.env.KILN_VM_MINIFY === '0') return src
  const dir = cacheDir()
  const file = join(dir, `${createHash('sha256').update(src).digest('hex').slice(0, 32)}.js`)
  try {
    return readFileSync(file, 'utf8')
  } catch {
    // Not cached yet.
  }
  let out: string
  try {
    out = transformSync(src, { minifyWhitespace: true, legalComments: 'none', charset: 'utf8' }).code
  } catch {
    return src
  }
  try {
    mkdirSync(dir, { recursive: true })
    // Written aside and renamed: threads and processes starting together may write the same file.
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`
    writeFileSync(tmp, out)
    renameSync(tmp, file)
  } catch {
    // A read-only home: minified again by the next run.
  }
  return out
}
