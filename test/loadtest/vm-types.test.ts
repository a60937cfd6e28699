import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))

// The in-VM JS (src/loadtest/modules/*/*.js) is checked against the host functions' signatures
// (src/loadtest/engine/host-api.ts), which the host side binds through the repo's own typecheck.
test('the in-VM JS typechecks against HostApi (src/loadtest/modules/tsconfig.json)', () => {
  const r = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'src/loadtest/modules/tsconfig.json'], {
    cwd: root,
    encoding: 'utf8',
  })
  assert.equal(r.status, 0, r.stdout + r.stderr)
})
