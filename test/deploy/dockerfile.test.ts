/**
 * deploy/Dockerfile and deploy/Dockerfile.agent, read with dockerfile-ast (there is no Docker
 * daemon to build them here): the facts each image promises, checked against the repository —
 * and the server image's HEALTHCHECK command run for real against a real `kiln server`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, posix } from 'node:path'
import { buildRuns, dockerfile, finalStage } from './dockerfile.ts'
import { startKiln } from '../server/helpers.ts'
import { spec as serverSpec } from '../../src/cli/server.ts'

const root = join(import.meta.dirname, '..', '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; files: string[]; bin: Record<string, string> }

test('server image: built UI inside, data on a volume, an unprivileged user, a health check on /ready', () => {
  const d = dockerfile('Dockerfile')
  const s = finalStage(d)
  assert.match(s.from, /^node$/)
  // The build stage compiles with the UI and packs what users install; the package ships the UI.
  assert.ok(
    buildRuns(d).some((r) => /scripts\/build\.js --ui/.test(r) && /npm pack/.test(r)),
    'the build stage builds the UI and packs',
  )
  for (const f of ['dist', 'ui/dist', 'bin/kiln.js']) assert.ok(pkg.files.includes(f), `package.json files has ${f}`)
  assert.ok(
    s.runs.some((r) => /npm install --omit=dev .*kiln\.tgz/.test(r)),
    'the run stage installs the packed package, production dependencies only',
  )
  // It runs the installed package's kiln: node <WORKDIR>/node_modules/<name>/<bin>.
  const installed = posix.join('/opt/kiln/node_modules', pkg.name, pkg.bin['kiln']!)
  assert.deepEqual(s.entrypoint, ['node', installed])
  assert.deepEqual(s.cmd, ['server'])
  // A fixed, non-root uid that the image creates.
  const [uid, gid] = s.user.split(':')
  assert.match(uid!, /^[1-9]\d*$/, 'USER is a numeric non-root uid (Kubernetes runAsNonRoot checks it)')
  assert.ok(
    s.runs.some((r) => new RegExp(`useradd .*--uid ${uid}\\b`).test(r)),
    `the image creates uid ${uid}`,
  )
  assert.ok(gid === undefined || /^[1-9]\d*$/.test(gid))
  // The data directory is on the declared volume; the server's settings come from KILN_* variables.
  assert.ok(s.env['KILN_DATA_DIR']!.startsWith(s.volumes[0]! + '/'), 'KILN_DATA_DIR lies in the VOLUME')
  assert.match(serverSpec.description!, /KILN_DATA_DIR/)
  assert.deepEqual(s.exposed, [s.env['KILN_PORT']])
  // The health check asks /ready on the port the server listens on.
  assert.equal(s.healthcheck[0], 'node')
  assert.ok(s.healthcheck.join(' ').includes(`http://127.0.0.1:${s.env['KILN_PORT']}/ready`))
  assert.ok(s.healthcheckFlags['start-period'], 'a start period: the store opens before /ready answers')
  // The build context leaves out what is rebuilt.
  const ignore = readFileSync(join(root, 'deploy', 'Dockerfile.dockerignore'), 'utf8').split('\n')
  for (const p of ['node_modules', 'dist', 'data']) assert.ok(ignore.includes(p), `.dockerignore leaves out ${p}`)
})

test("the server image's HEALTHCHECK command passes against a running kiln server and fails once it stops", {
  timeout: 120_000,
}, async () => {
  const s = finalStage(dockerfile('Dockerfile'))
  const server = await startKiln()
  const port = new URL(server.url).port
  // The image's command, aimed at this server's port; node is this Node.
  const check = () =>
    spawnSync(
      process.execPath,
      s.healthcheck.slice(1).map((a) => a.replace(`:${s.env['KILN_PORT']}/`, `:${port}/`)),
      { timeout: 30_000 },
    ).status
  try {
    assert.equal(check(), 0)
  } finally {
    await server.dispose()
  }
  assert.equal(check(), 1)
})

test('agent image: perf and the eBPF build tools, the installed kiln, root for perf and BPF', () => {
  const d = dockerfile('Dockerfile.agent')
  const s = finalStage(d)
  const apt = s.runs.find((r) => /apt-get install/.test(r)) ?? ''
  for (const p of ['linux-perf', 'clang', 'llvm', 'libbpf-dev', 'bpftool', 'libelf-dev', 'gcc'])
    assert.match(apt, new RegExp(`(^|\\s)${p}(\\s|$)`), `installs ${p}`)
  assert.deepEqual(s.entrypoint, ['node', posix.join('/opt/kiln/node_modules', pkg.name, pkg.bin['kiln']!)])
  assert.ok(s.user === '' || s.user === 'root' || s.user === '0')
  assert.ok(buildRuns(d).some((r) => /npm pack/.test(r)))
})
