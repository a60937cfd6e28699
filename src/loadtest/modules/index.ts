/**
 * The JS each k6 module runs inside a VU (`modules/<module>/*.js`), read once per thread and
 * whitespace-minified (vm-source.ts: less of each VU's memory). Host
 * functions the VM calls are typed in ../engine/host-api.ts, so both halves are checked.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { sourceDir } from '../../assets.ts'
import { minifiedVmSource } from './vm-source.ts'

const here = sourceDir(import.meta.url)
const read = (f: string): string => minifiedVmSource(readFileSync(join(here, f), 'utf8'))

/**
 * Evaluated in a VU before the script, in this order (k6.js defines what the others use). One
 * with a `module` runs only when the script's source names that module (`'k6/http'`); otherwise
 * it is one of the lazyModules below, evaluated on first use. http.js costs ~84 KB of a VU's WASM
 * memory (compiling it, keeping its functions), which a VU whose script never imports k6/http
 * need not pay; evaluated here, among the others, it costs ~56 KB less than through the
 * loading getter at import (352 against 408 KB per VU: the heap's order, the script compiled).
 */
export const preludes: { name: string; src: string; module?: string }[] = [
  { name: 'k6.js', src: read('k6/k6.js') },
  // Right after k6.js, whose compiling left the heap free memory that this one reuses: 16 KB less
  // of each VU's WASM memory than after loop.js (heap pages in /proc/self/smaps).
  { name: 'http.js', src: read('http/http.js'), module: 'k6/http' },
  { name: 'loop.js', src: read('../engine/loop.js') },
  { name: 'crypto.js', src: read('crypto/crypto.js') },
  { name: 'webcrypto.js', src: read('webcrypto/webcrypto.js') },
]

/** Whether a script's source names `module` in quotes (an import of it, most likely). */
export function names(source: string, module: string): boolean {
  return source.includes(`'${module}'`) || source.includes(`"${module}"`)
}

/**
 * Modules evaluated in a VU only when first used (`__k6mods[name]` is a getter until then):
 * evaluating html.js cost ~5 ms per VU (the other preludes ~18 ms, measured together), which
 * 1,000 VUs that never parse HTML would pay.
 */
// ws.js (k6/ws and k6/websockets, whichever is imported first) cost ~2.7 ms per VU.
const wsSource = read('ws/ws.js')
// fs.js holds k6/experimental/fs and k6/experimental/csv.
const fsSource = read('fs/fs.js')
// redis.js holds k6/experimental/redis and k6/x/redis (the extension it moved to in k6 v1).
const redisSource = read('redis/redis.js')
export const lazyModules: Record<string, string> = {
  // Also a prelude, when the script names it (see preludes).
  'k6/http': preludes.find((p) => p.module === 'k6/http')!.src,
  'k6/html': read('html/html.js'),
  'k6/ws': wsSource,
  'k6/websockets': wsSource,
  'k6/experimental/fs': fsSource,
  'k6/experimental/csv': fsSource,
  'k6/net/grpc': read('grpc/grpc.js'),
  // Kiln's own, named as k6 names extensions: report writers for handleSummary.
  'k6/x/kiln': read('kiln/kiln.js'),
  'k6/experimental/redis': redisSource,
  'k6/x/redis': redisSource,
  'k6/experimental/streams': read('streams/streams.js'),
  'k6/browser': read('browser/browser.js'),
}
export const lazyGetters = Object.keys(lazyModules)
  .map(
    (m) =>
      `${JSON.stringify(m)} in __k6mods || Object.defineProperty(__k6mods, ${JSON.stringify(m)}, { configurable: true, enumerable: true, get() { __kh.lazyModule(${JSON.stringify(m)}); return __k6mods[${JSON.stringify(m)}] } })`,
  )
  .join('; ')
