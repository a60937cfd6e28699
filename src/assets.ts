/**
 * Files the code reads at run time that are not TypeScript (the JS each k6 module evaluates inside
 * a VU, the eBPF C sources) stay in src/ in every layout: the compiled build (dist/, see
 * scripts/build.js) mirrors src/ file for file, but src/loadtest/modules/http/http.js and the
 * http.js compiled from http.ts would collide there.
 */
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

// This file is src/assets.ts or dist/assets.js: one level below the package root either way.
const root = fileURLToPath(new URL('..', import.meta.url))

/** The source folder of the module at `moduleUrl` (pass `import.meta.url`), from src/ or dist/. */
export function sourceDir(moduleUrl: string): string {
  const dir = dirname(fileURLToPath(moduleUrl))
  const rel = relative(join(root, 'dist'), dir)
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep)) ? join(root, 'src', rel) : dir
}
