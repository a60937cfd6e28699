/**
 * engine/vu-modules.ts: the host sides of k6/ws and k6/net/grpc load only in runs whose scripts
 * import them. Named by the script, they load before its init; imported only by another of its
 * files, the first init finds them missing, loads them and starts over, before any of the
 * script's code has run: the init code runs as many times either way, and the modules work.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { kilnRun, workdir } from './helpers.ts'

const USE = `import { Client } from 'k6/net/grpc'
import ws from 'k6/ws'
export const kinds = [typeof new Client().connect, typeof ws.connect]
`
const main = (from: string) => `import { kinds } from '${from}'
console.log('init ' + kinds.join(' '))
export default function () {}
`

for (const threads of ['0', '2']) {
  test(`k6/ws and k6/net/grpc imported by the script or only by a file it imports (KILN_RUN_THREADS=${threads})`, async () => {
    const runs = []
    for (const [name, files] of [
      ['named', { 'script.js': main('./use.js').replace("import { kinds } from './use.js'", USE.replace('export const', 'const')) }],
      ['helper', { 'script.js': main('./use.js'), 'use.js': USE }],
    ] as const) {
      const dir = workdir(files)
      const r = await kilnRun(['run', '-q', '--no-summary', '-u', '2', '-i', '2', 'script.js'], {
        cwd: dir,
        env: { KILN_RUN_THREADS: threads },
      })
      assert.equal(r.code, 0, `${name}: ${r.stderr}`)
      const inits = r.stderr.split('\n').filter((l) => l.includes('init '))
      for (const l of inits) assert.match(l, /init function function/, name)
      runs.push(inits.length)
    }
    assert.ok(runs[0]! >= 3, `the init VU and two VUs ran the init code: ${runs[0]}`)
    assert.equal(runs[1], runs[0], 'as many inits when only a helper imports the modules')
  })
}
