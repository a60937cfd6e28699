/**
 * `npm run bench`: runs every bench/*.bench.ts in its own process, one after another (they
 * measure time, so they must not share the 2 cores). `npm run bench -- NAME` runs the ones
 * whose file name contains NAME. Method: bench/README.md.
 */
import { readdirSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const filter = process.argv[2]
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts') && (!filter || f.includes(filter)))
  .sort()
let failed = 0
for (const f of files) {
  process.stdout.write(`\n== ${f}\n`)
  const r = spawnSync(process.execPath, [join(here, '..', 'bin', 'run-ts.js'), join(here, f)], { stdio: 'inherit' })
  if (r.status !== 0) failed++
}
process.exit(failed ? 1 : 0)
