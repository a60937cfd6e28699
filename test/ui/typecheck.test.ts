import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))

// The repo's typecheck covers ui/src/lib through the tests that import it; the browser code
// (DOM, canvas) is checked here against the DOM library, with the same strict settings.
test('the web UI sources typecheck (ui/tsconfig.json)', () => {
  const r = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'ui/tsconfig.json', '--noEmit'], {
    cwd: root,
    encoding: 'utf8',
  })
  assert.equal(r.status, 0, r.stdout + r.stderr)
})
