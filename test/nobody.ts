/**
 * Tests that drop privileges run Kiln as `nobody` (uid 65534). A checkout under a private home
 * (/root, mode 700) is unreadable to that user, and the test would fail for a reason that is not
 * Kiln's: such tests skip, saying why.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
let reason: string | undefined | null = null

/** Why code in this checkout cannot run as nobody here, or undefined when it can. */
export function nobodyCannotRun(): string | undefined {
  if (reason !== null) return reason
  if (process.getuid?.() !== 0) return (reason = 'needs root to switch to nobody (uid 65534)')
  const files = ['bin/kiln.js', 'dist/cli/main.js', 'src/cli/main.ts', 'node_modules/tsx/package.json'].map((f) => join(root, f))
  const r = spawnSync(
    process.execPath,
    ['-e', `for (const f of ${JSON.stringify(files)}) require('fs').accessSync(f, require('fs').constants.R_OK)`],
    { uid: 65534, gid: 65534, encoding: 'utf8', cwd: '/' },
  )
  reason =
    r.status === 0
      ? undefined
      : `the checkout (${root}) is not readable by nobody (uid 65534): ${/EACCES[^\n]*/.exec(r.stderr)?.[0] ?? r.stderr.trim().split('\n')[0]}`
  return reason
}
