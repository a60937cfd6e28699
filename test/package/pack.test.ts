/**
 * The packages as a user gets them: `npm pack` (which builds through `prepare`), installed from the
 * tarball into an empty folder, then `kiln --help`, `kiln server` serving the built UI and
 * `kiln run` from that folder; @kiln/node imported by a plain `app.mjs` and required by `app.cjs`.
 * Dependencies come from npm's cache (`--offline`); when the cache lacks them (a first run on a
 * machine), npm may fetch what is missing (`--prefer-offline`), else the test skips saying why.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'

const root = new URL('../..', import.meta.url).pathname
const npm = (args: string[], cwd: string): SpawnSyncReturns<string> =>
  spawnSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8', timeout: 600_000 })

function pack(dir: string, into: string): string {
  const r = npm(['pack', '--pack-destination', into], dir)
  assert.equal(r.status, 0, `npm pack in ${dir} failed:\n${r.stdout}${r.stderr}`)
  return join(into, r.stdout.trim().split('\n').pop()!)
}

/** Installs tarballs into `app`: from the cache alone if it can, else letting npm fetch misses. */
function install(app: string, tarballs: string[]): string | null {
  let r = npm(['install', '--offline', ...tarballs], app)
  if (r.status !== 0 && /ENOTCACHED/.test(r.stderr)) r = npm(['install', '--prefer-offline', ...tarballs], app)
  if (r.status === 0) return null
  if (/ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ENOTCACHED/.test(r.stderr))
    return `npm could not get the dependencies (no cache, no registry): ${r.stderr.split('\n')[0]}`
  assert.fail(`npm install of the tarballs failed:\n${r.stdout}${r.stderr}`)
}

test('npm pack → install in an empty folder → kiln --help, kiln server with the UI, kiln run; @kiln/node from ESM and CommonJS', {
  timeout: 900_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-pack-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const kilnTgz = pack(root, dir)
  const nodeTgz = pack(join(root, 'packages', 'node'), dir)
  const app = join(dir, 'app')
  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }))
  const skip = install(app, [kilnTgz, nodeTgz])
  if (skip) return t.skip(skip)

  // Nothing of the repository's tooling came along: no tsx, no TypeScript compiler.
  const installed = readdirSync(join(app, 'node_modules'))
  for (const dev of ['tsx', 'typescript', 'vite']) assert.ok(!installed.includes(dev), `${dev} was installed as a dependency of kiln`)

  const kiln = join(app, 'node_modules', '.bin', 'kiln')
  const help = spawnSync(kiln, ['--help'], { cwd: app, encoding: 'utf8' })
  assert.equal(help.status, 0, help.stderr)
  assert.match(help.stdout, /^Usage: kiln COMMAND/)

  const server = spawn(kiln, ['server', '--port', '0', '--host', '127.0.0.1', '--data-dir', join(app, 'data'), '--no-self-profile'], {
    cwd: app,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.after(() => server.kill('SIGKILL'))
  let log = ''
  server.stdout.on('data', (d) => (log += d))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kiln server did not start in 60 s:\n${log}`)), 60_000)
    server.stderr.on('data', (d) => {
      log += d
      const m = /listening on (http:\/\/\S+)/.exec(log)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!.replace('localhost', '127.0.0.1'))
      }
    })
    server.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`kiln server exited with ${code}:\n${log}`))
    })
  })
  assert.equal((await (await fetch(`${url}/ready`)).text()).trim(), 'ready')
  const page = await fetch(`${url}/`)
  assert.equal(page.status, 200)
  const html = await page.text()
  assert.match(html, /<title>Kiln<\/title>/)
  const script = /src="\.?(\/assets\/[^"]+\.js)"/.exec(html)
  assert.ok(script, 'the UI page names its script')
  assert.equal((await fetch(`${url}${script[1]}`)).status, 200, 'the built UI script is served')

  // kiln run: VUs in worker threads, the k6 modules' in-VM JavaScript read from the package.
  writeFileSync(
    join(app, 'load.js'),
    `import http from 'k6/http'
import { check } from 'k6'
export const options = { vus: 2, iterations: 6, thresholds: { checks: ['rate==1'] } }
export default function () { check(http.get(__ENV.BASE + '/ready'), { ready: (r) => r.status === 200 }) }
`,
  )
  const run = spawnSync(kiln, ['run', '-e', `BASE=${url}`, 'load.js'], { cwd: app, encoding: 'utf8', timeout: 120_000 })
  assert.equal(run.status, 0, `${run.stdout}${run.stderr}`)
  assert.match(run.stdout + run.stderr, /checks_succeeded\.+: 100\.00% 6 out of 6/)

  // @kiln/node: the same API from an ES module and from CommonJS, serving a CPU profile.
  const use = (load: string) => `${load}
const s = await startPullServer({ port: 0, host: '127.0.0.1' })
const r = await fetch('http://127.0.0.1:' + s.port + '/debug/pprof/profile?seconds=1')
process.stdout.write(Buffer.from(await r.arrayBuffer()).toString('base64'))
await s.close()
`
  writeFileSync(join(app, 'app.mjs'), use(`import { startPullServer } from '@kiln/node'`))
  writeFileSync(join(app, 'app.cjs'), `(async () => {\n${use(`const { startPullServer } = require('@kiln/node')`)}\n})()`)
  for (const file of ['app.mjs', 'app.cjs']) {
    const r = spawnSync(process.execPath, [file], { cwd: app, encoding: 'utf8', timeout: 60_000 })
    assert.equal(r.status, 0, `${file}: ${r.stderr}`)
    const pprof = gunzipSync(Buffer.from(r.stdout, 'base64'))
    assert.ok(pprof.length > 20 && pprof.includes('nanoseconds'), `${file}: a CPU pprof`)
  }
  const types = readdirSync(join(app, 'node_modules', '@kiln', 'node', 'dist')).filter((f) => f.endsWith('.d.ts'))
  assert.ok(types.includes('index.d.ts'), '@kiln/node ships its declarations')
})
