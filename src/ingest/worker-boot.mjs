// Entry of an ingest worker thread. In the compiled build (dist/, scripts/build.js) worker.js sits
// beside this file; run from the sources, TypeScript goes through tsx, as bin/kiln.js does without a build.
import { existsSync } from 'node:fs'

const compiled = new URL('./worker.js', import.meta.url)
if (existsSync(compiled)) await import(compiled.href)
else {
  const { register } = await import('tsx/esm/api')
  register()
  await import('./worker.ts')
}
