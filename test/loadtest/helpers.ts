/** Test helpers: a counting HTTP server on 127.0.0.1 and `kiln run` as a real process. */
import http from 'node:http'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const kiln = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'kiln.js')

export interface TestServer {
  url: string
  /** Requests seen, by path (without query). */
  hits: Map<string, number>
  total(): number
  close(): Promise<void>
}

/** A server answering `/` with "hello", `/json` with JSON, `/status/N` with status N, `/slow?ms=N`. */
export async function startServer(): Promise<TestServer> {
  const hits = new Map<string, number>()
  const waiting: http.ServerResponse[] = []
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x')
    hits.set(u.pathname, (hits.get(u.pathname) ?? 0) + 1)
    const m = /^\/status\/(\d+)$/.exec(u.pathname)
    if (m) {
      res.statusCode = Number(m[1])
      res.end('status')
    } else if (u.pathname === '/json') {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ user: { name: 'ada', tags: ['a', 'b'] }, n: 3 }))
    } else if (u.pathname === '/echo') {
      let body = ''
      req.on('data', (c: Buffer) => (body += c.toString()))
      req.on('end', () => res.end(JSON.stringify({ method: req.method, headers: req.headers, body })))
    } else if (u.pathname === '/cookie') {
      res.setHeader('set-cookie', 'sid=42; Path=/')
      res.end('ok')
    } else if (u.pathname === '/redirect') {
      res.statusCode = 302
      res.setHeader('location', '/')
      res.end()
    } else if (u.pathname === '/barrier') {
      // Answers 'together' once n requests wait at once, 'alone' after 3 s: proves parallelism without timing it.
      const n = Number(u.searchParams.get('n') ?? 2)
      waiting.push(res)
      const timer = setTimeout(() => {
        waiting.splice(waiting.indexOf(res), 1)
        res.end('alone')
      }, 3000)
      res.on('finish', () => clearTimeout(timer))
      if (waiting.length >= n) for (const w of waiting.splice(0)) w.end('together')
    } else if (u.pathname === '/slow') {
      setTimeout(() => res.end('slow'), Number(u.searchParams.get('ms') ?? 100))
    } else res.end('hello')
  })
  server.keepAliveTimeout = 5000
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    total: () => [...hits.values()].reduce((a, b) => a + b, 0),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `kiln ARGS` in `cwd` (20 s at most, so a hang fails the test instead of blocking it). */
export function kilnRun(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; onStart?: (pid: number) => void; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [kiln, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    // A bound against a hang, not a speed test: a run takes 20 s and more at load 30 on 2 cores.
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
    if (opts.onStart && p.pid) opts.onStart(p.pid)
    p.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** A fresh folder with the given files; returns its path. */
export function workdir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-loadtest-'))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

/**
 * Runs `body` as the default function of a one-iteration k6 script (k6/http imported, `extra`
 * at the top) and returns what it returns, carried out in a console line as JSON.
 */
export async function runBody(
  body: string,
  env: Record<string, string>,
  extra = '',
): Promise<{ code: number | null; out: any; stderr: string }> {
  const dir = workdir({
    'script.js': `import http from 'k6/http'
${extra}
export const options = { iterations: 1 }
export default function () { console.log('RESULT ' + JSON.stringify((function () { ${body} })())) }`,
  })
  const r = await kilnRun(['run', '-q', '--no-summary', ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]), 'script.js'], {
    cwd: dir,
  })
  // console.log lines: INFO[0000] RESULT {json}  source=console
  const line = r.stderr.split('\n').find((l) => l.includes(' RESULT '))
  const raw = line ? line.slice(line.indexOf(' RESULT ') + 8).replace(/\s+source=console$/, '') : 'null'
  return { code: r.code, out: JSON.parse(raw), stderr: r.stderr }
}

/** A seeded PRNG (mulberry32), so a failing fuzz case names the seed that replays it. */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A self-signed certificate for CN=`cn` made by openssl in `dir` (CN.key, CN.crt), or why it could not be made. */
export function selfSignedCert(dir: string, cn = 'localhost'): { key: Buffer; cert: Buffer } | { skip: string } {
  const gen = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      join(dir, `${cn}.key`),
      '-out',
      join(dir, `${cn}.crt`),
      '-days',
      '1',
      '-subj',
      `/CN=${cn}`,
    ],
    { encoding: 'utf8' },
  )
  if (gen.error || gen.status !== 0) return { skip: `openssl cannot make a test certificate here: ${gen.error?.message ?? gen.stderr}` }
  return { key: readFileSync(join(dir, `${cn}.key`)), cert: readFileSync(join(dir, `${cn}.crt`)) }
}
