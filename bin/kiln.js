#!/usr/bin/env node
// Runs the compiled CLI (dist/, written by scripts/build.js: `npm install` builds it through
// `prepare`, `npm test` rebuilds it first). Without a build, say how to make one.
import { existsSync } from 'node:fs'

const main = new URL('../dist/cli/main.js', import.meta.url)
if (!existsSync(main)) {
  console.error(
    'kiln: the compiled build is missing (dist/cli/main.js).\n' +
      '  From a clone of the repository, run `npm install` (it builds through `prepare`) or `npm run build`.',
  )
  process.exit(1)
}
await import(main.href)
