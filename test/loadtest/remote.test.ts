/** Remote module imports in `kiln run` and `kiln archive`, served by a loopback HTTP server. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { kilnRun, workdir } from './helpers.ts'
import { specifiers } from '../../src/loadtest/run/remote.ts'

let server: http.Server
let base = ''
const hits = new Map<string, number>()
const MODULES: Record<string, string> = {
  '/lib/greet.js': `import { shout } from './util.js'\nexport default function greet(n) { return shout('hello ' + n) }`,
  '/lib/util.js': `export const shout = (s) => s.toUpperCase()`,
}

before(async () => {
  server = http.createServer((req, res) => {
    hits.set(req.url ?? '', (hits.get(req.url ?? '') ?? 0) + 1)
    const m = MODULES[req.url ?? '']
    res.statusCode = m ? 200 : 404
    res.setHeader('content-type', 'application/javascript')
    res.end(m ?? 'not found')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
})
after(() => new Promise<void>((r) => server.close(() => r())))

const script = (url: string) => `// import old from 'http://127.0.0.1:9/gone.js' (a commented-out import is not fetched)
/* import older from 'http://127.0.0.1:9/gone2.js' */
const note = "import x from 'http://127.0.0.1:9/in-a-string.js'"
import greet from '${url}'
export const options = { vus: 3, iterations: 3 }
export default function () { console.log('GOT ' + greet(__VU)) }`

test('a remote module (and the relative module it imports) is fetched once for all VUs; an archive of it runs offline', async () => {
  hits.clear()
  const dir = workdir({ 'script.js': script(`${base}/lib/greet.js`) })
  const r = await kilnRun(['run', '-q', '--no-summary', 'script.js'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stderr.split('\n').filter((l) => /GOT HELLO [123]/.test(l)).length, 3, r.stderr)
  assert.deepEqual(Object.fromEntries(hits), { '/lib/greet.js': 1, '/lib/util.js': 1 })

  const a = await kilnRun(['archive', '-O', 'remote.tar', 'script.js'], { cwd: dir })
  assert.equal(a.code, 0, a.stderr)
  assert.match(a.stdout, /lib\/util\.js/)
  hits.clear()
  rmSync(join(dir, 'script.js'))
  const offline = await kilnRun(['run', '-q', '--no-summary', 'remote.tar'], { cwd: dir })
  assert.equal(offline.code, 0, offline.stderr)
  assert.equal(offline.stderr.split('\n').filter((l) => l.includes('GOT HELLO')).length, 3)
  assert.equal(hits.size, 0, 'the archive ran without fetching')
})

test('an unreachable or missing remote module exits 107 naming the URL, before any VU runs', async () => {
  // A port that was just free: nothing listens there.
  const probe = http.createServer()
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
  const port = (probe.address() as { port: number }).port
  await new Promise<void>((r) => probe.close(() => r()))
  const dir = workdir({ 'down.js': script(`http://127.0.0.1:${port}/mod.js`), 'missing.js': script(`${base}/nope.js`) })
  const down = await kilnRun(['run', '-q', 'down.js'], { cwd: dir })
  assert.equal(down.code, 107)
  assert.match(down.stderr, new RegExp(`cannot load the remote module 'http://127.0.0.1:${port}/mod.js': ECONNREFUSED`))
  const missing = await kilnRun(['run', '-q', 'missing.js'], { cwd: dir })
  assert.equal(missing.code, 107)
  assert.match(missing.stderr, new RegExp(`remote module '${base}/nope.js': the server answered 404`))
})

test('import specifiers are found in every static form, and not in identifiers that merely end in import', () => {
  const src = `import a from './a.js'
import * as b from "./b.js"
import { c, d as e } from './c.js'
import './side.js'
export { f } from './f.js'
export * from './g.js'
const h = require('./h.js')
const reimport = x; myimport('./no.js')
import k6 from 'k6'`
  assert.deepEqual(specifiers(src), ['./a.js', './b.js', './c.js', './side.js', './f.js', './g.js', './h.js', 'k6'])
  assert.deepEqual(
    specifiers("// import a from './x.js'\n/* import b from './y.js' */\nconst s = '// not a comment'; import c from './z.js'"),
    ['./z.js'],
  )
})

test('fuzz: the specifier scanner takes any source and returns only quoted strings from it', () => {
  let a = 3
  const next = () => (a = (Math.imul(a, 1103515245) + 12345) >>> 0) / 4294967296
  const parts = [
    'import',
    'export',
    'from',
    'require(',
    ')',
    ' ',
    '\n',
    "'",
    '"',
    './x.js',
    '{',
    '}',
    '*',
    'as',
    ',',
    'k6/http',
    '`',
    '//',
    '$',
  ]
  for (let i = 0; i < 3000; i++) {
    const src = Array.from({ length: Math.floor(next() * 30) }, () => parts[Math.floor(next() * parts.length)]).join('')
    for (const s of specifiers(src)) assert.ok(s.length > 0 && src.includes(s) && !/['"\n]/.test(s), JSON.stringify(src))
  }
})
