/**
 * Real servers for the request-tracing tests, each on a free loopback port in its own temp dir:
 *
 *   const svc = await startRedis()            // or startNginx / startMariadb / startPostgres / startDnsmasq
 *   if ('skip' in svc) return t.skip(svc.skip) // the binary is missing (or the host cannot run it)
 *   … svc.port …                               // 127.0.0.1:svc.port (dnsmasq: UDP and TCP)
 *   await svc.stop()                           // kills the server (SIGTERM, SIGKILL after 3 s), removes its dir
 *
 * Every server runs in the foreground as a child of the test process, never as a daemon, so a
 * crashed test leaves nothing behind for long: each is also killed when the test process exits.
 * MariaDB and PostgreSQL data directories are initialised once per machine into a template under
 * $TMPDIR/kiln-trace-templates and copied per start (initdb ~3 s and mariadb-install-db ~6 s here,
 * a copy ~0.1 s). PostgreSQL refuses root, so it runs as the `postgres` user (setuid from Node).
 *
 * What each answers, for tests that check records:
 * - nginx: `/` "hello\n"; `/json` `{"ok":true}`; `/big` 20,000 bytes of "x"; `/status/404` and any
 *   other path 404. `tls: true` adds an HTTPS listener (`info.tlsPort`, `info.cert`) with a
 *   self-signed certificate for CN=localhost.
 * - MariaDB: user `kiln` password `kiln`, database `kiln` (root over `socket` too).
 * - PostgreSQL: user `postgres`, trust auth, database `postgres`.
 * - dnsmasq: `web.kiln.test` A 10.0.0.7 and AAAA fd00::7, `alias.kiln.test` CNAME web.kiln.test,
 *   `txt.kiln.test` TXT "hello"; everything else NXDOMAIN (no upstream).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, chownSync, readdirSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Service {
  port: number
  /** Directory of the server's files (config, data, logs). */
  dir: string
  /** Extra facts a client needs (socket path, HTTPS port, user, …). */
  info: Record<string, string | number>
  stop(): Promise<void>
}

export type Started = Service | { skip: string }

/** The absolute path of `bin` (searching PATH and the sbin directories), or null. */
export function which(bin: string): string | null {
  if (bin.startsWith('/')) return existsSync(bin) ? bin : null
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin']
  for (const d of dirs) if (d && existsSync(join(d, bin))) return join(d, bin)
  return null
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      const port = typeof a === 'object' && a ? a.port : 0
      s.close(() => resolve(port))
    })
  })
}

const children = new Set<ChildProcess>()
process.once('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
})

function launch(
  cmd: string,
  args: string[],
  opts: { cwd?: string; uid?: number; gid?: number; env?: NodeJS.ProcessEnv } = {},
): { proc: ChildProcess; log: () => string } {
  let log = ''
  const proc = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] })
  const keep = (d: Buffer) => {
    log = (log + d.toString()).slice(-8000)
  }
  proc.stdout!.on('data', keep)
  proc.stderr!.on('data', keep)
  proc.on('error', (e) => keep(Buffer.from(String(e))))
  children.add(proc)
  proc.on('exit', () => children.delete(proc))
  return { proc, log: () => log }
}

async function stopProc(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const done = new Promise<void>((r) => proc.once('exit', () => r()))
  proc.kill('SIGTERM')
  const t = setTimeout(() => proc.kill('SIGKILL'), 3000)
  await done
  clearTimeout(t)
}

/** Resolves once 127.0.0.1:port accepts a TCP connection; rejects with the server's log if it exits or 20 s pass. */
async function waitTcp(port: number, proc: ChildProcess, log: () => string, what: string): Promise<void> {
  const until = Date.now() + 20_000
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(`${what} exited (${proc.exitCode ?? proc.signalCode}): ${log()}`)
    const ok = await new Promise<boolean>((r) => {
      const c = connect(port, '127.0.0.1')
      c.once('connect', () => {
        c.destroy()
        r(true)
      })
      c.once('error', () => r(false))
    })
    if (ok) return
    if (Date.now() > until) throw new Error(`${what} did not listen on ${port} within 20 s: ${log()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

function service(port: number, dir: string, proc: ChildProcess, info: Record<string, string | number> = {}): Service {
  return {
    port,
    dir,
    info,
    stop: async () => {
      await stopProc(proc)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function guarded(dir: string, proc: ChildProcess | null, fn: () => Promise<Service>): Promise<Service> {
  try {
    return await fn()
  } catch (e) {
    if (proc) await stopProc(proc)
    rmSync(dir, { recursive: true, force: true })
    throw e
  }
}

function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `kiln-${name}-`))
}

// ── nginx ────────────────────────────────────────────────────────────────────────────────────

/** nginx in the foreground with one worker; `tls` adds an HTTPS listener with a self-signed certificate. */
export async function startNginx(opts: { tls?: boolean } = {}): Promise<Started> {
  const bin = which('nginx')
  if (!bin) return { skip: 'nginx is not installed (Debian package nginx)' }
  const dir = tempDir('nginx')
  const port = await freePort()
  let tlsBlock = ''
  const info: Record<string, string | number> = {}
  if (opts.tls) {
    const gen = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
      ],
      { encoding: 'utf8' },
    )
    if (gen.status !== 0) {
      rmSync(dir, { recursive: true, force: true })
      return { skip: `openssl cannot make a certificate: ${gen.error?.message ?? gen.stderr}` }
    }
    const tlsPort = await freePort()
    info.tlsPort = tlsPort
    info.cert = join(dir, 'cert.pem')
    tlsBlock = `server { listen 127.0.0.1:${tlsPort} ssl; ssl_certificate ${dir}/cert.pem; ssl_certificate_key ${dir}/key.pem; include ${dir}/locations.conf; }`
  }
  mkdirSync(join(dir, 'www'))
  writeFileSync(join(dir, 'www', 'big'), 'x'.repeat(20_000))
  writeFileSync(
    join(dir, 'locations.conf'),
    `location = / { return 200 "hello\\n"; }
location = /json { default_type application/json; return 200 '{"ok":true}'; }
location = /big { root ${dir}/www; default_type text/plain; }
location = /status/404 { return 404; }
location = /echo { client_body_buffer_size 64k; proxy_pass http://127.0.0.1:${port}/; }
location / { return 404; }
`,
  )
  // One worker, temp paths inside the dir, no access log (tests read the wire, not the log).
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
user root;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  default_type text/plain;
  keepalive_requests 1000;
  server { listen 127.0.0.1:${port}; include ${dir}/locations.conf; }
  ${tlsBlock}
}
`,
  )
  const { proc, log } = launch(bin, ['-p', dir, '-c', join(dir, 'nginx.conf')])
  return guarded(dir, proc, async () => {
    await waitTcp(port, proc, log, 'nginx')
    return service(port, dir, proc, info)
  })
}

// ── Redis ────────────────────────────────────────────────────────────────────────────────────

/** redis-server without persistence. */
export async function startRedis(): Promise<Started> {
  const bin = which('redis-server')
  if (!bin) return { skip: 'redis-server is not installed (Debian package redis-server)' }
  const dir = tempDir('redis')
  const port = await freePort()
  const { proc, log } = launch(bin, [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--daemonize',
    'no',
  ])
  return guarded(dir, proc, async () => {
    await waitTcp(port, proc, log, 'redis-server')
    return service(port, dir, proc)
  })
}

// ── dnsmasq ──────────────────────────────────────────────────────────────────────────────────

/** dnsmasq answering a few fixed names, no upstream, UDP and TCP on one port. */
export async function startDnsmasq(): Promise<Started> {
  const bin = which('dnsmasq')
  if (!bin) return { skip: 'dnsmasq is not installed (Debian package dnsmasq)' }
  const dir = tempDir('dnsmasq')
  const port = await freePort()
  const args = [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--no-poll',
    `--port=${port}`,
    '--listen-address=127.0.0.1',
    '--bind-interfaces',
    '--pid-file=',
    '--user=root',
    '--group=root',
    '--host-record=web.kiln.test,10.0.0.7,fd00::7',
    '--cname=alias.kiln.test,web.kiln.test',
    '--txt-record=txt.kiln.test,hello',
    '--address=/nx.kiln.test/',
  ]
  const { proc, log } = launch(bin, args)
  return guarded(dir, proc, async () => {
    await waitTcp(port, proc, log, 'dnsmasq')
    return service(port, dir, proc)
  })
}

// ── MariaDB ──────────────────────────────────────────────────────────────────────────────────

const templates = join(tmpdir(), 'kiln-trace-templates')

/** MariaDB with user kiln/kiln and database kiln; `info.socket` is the root socket. */
export async function startMariadb(): Promise<Started> {
  const bin = which('mariadbd') ?? which('mysqld')
  const install = which('mariadb-install-db') ?? which('mysql_install_db')
  const client = which('mariadb') ?? which('mysql')
  if (!bin || !install || !client) return { skip: 'MariaDB is not installed (Debian packages mariadb-server, mariadb-client)' }
  const tpl = join(templates, 'mariadb')
  if (!existsSync(join(tpl, 'ready'))) {
    rmSync(tpl, { recursive: true, force: true })
    mkdirSync(tpl, { recursive: true })
    const r = spawnSync(
      install,
      ['--no-defaults', `--datadir=${tpl}/data`, '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db'],
      { encoding: 'utf8' },
    )
    if (r.status !== 0) return { skip: `mariadb-install-db failed: ${r.stderr || r.error?.message}` }
    writeFileSync(join(tpl, 'ready'), '')
  }
  const dir = tempDir('mariadb')
  cpSync(join(tpl, 'data'), join(dir, 'data'), { recursive: true })
  const port = await freePort()
  const socket = join(dir, 'mysqld.sock')
  const { proc, log } = launch(bin, [
    '--no-defaults',
    `--datadir=${dir}/data`,
    `--socket=${socket}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    '--user=root',
    `--pid-file=${dir}/mysqld.pid`,
    '--skip-log-bin',
    '--innodb-buffer-pool-size=16M',
    '--skip-name-resolve',
    `--log-error=${dir}/error.log`,
  ])
  return guarded(dir, proc, async () => {
    await waitTcp(port, proc, log, 'mariadbd')
    const setup = spawnSync(
      client,
      [
        '--no-defaults',
        `--socket=${socket}`,
        '-uroot',
        '-e',
        "CREATE DATABASE IF NOT EXISTS kiln; CREATE USER IF NOT EXISTS 'kiln'@'%' IDENTIFIED BY 'kiln'; GRANT ALL ON kiln.* TO 'kiln'@'%';",
      ],
      { encoding: 'utf8' },
    )
    if (setup.status !== 0) throw new Error(`MariaDB setup failed: ${setup.stderr}`)
    return service(port, dir, proc, { socket, user: 'kiln', password: 'kiln', database: 'kiln' })
  })
}

// ── PostgreSQL ───────────────────────────────────────────────────────────────────────────────

function pgBin(): string | null {
  const base = '/usr/lib/postgresql'
  let versions: string[] = []
  try {
    versions = readdirSync(base).sort((a, b) => Number(b) - Number(a))
  } catch {
    return null
  }
  for (const v of versions) if (existsSync(join(base, v, 'bin', 'postgres'))) return join(base, v, 'bin')
  return null
}

function userIds(name: string): { uid: number; gid: number } | null {
  const u = spawnSync('id', ['-u', name], { encoding: 'utf8' })
  const g = spawnSync('id', ['-g', name], { encoding: 'utf8' })
  if (u.status !== 0 || g.status !== 0) return null
  return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) }
}

function chownTree(path: string, uid: number, gid: number): void {
  spawnSync('chown', ['-R', `${uid}:${gid}`, path])
}

/** PostgreSQL with trust authentication for user postgres; runs as the `postgres` user when started by root. */
export async function startPostgres(): Promise<Started> {
  const bin = pgBin()
  if (!bin) return { skip: 'PostgreSQL is not installed (Debian package postgresql)' }
  const asRoot = process.getuid?.() === 0
  const ids = asRoot ? userIds('postgres') : null
  if (asRoot && !ids) return { skip: 'running as root and there is no postgres user to run PostgreSQL as' }
  const run = ids ? { uid: ids.uid, gid: ids.gid } : {}
  const tpl = join(templates, 'postgres')
  if (!existsSync(join(tpl, 'ready'))) {
    rmSync(tpl, { recursive: true, force: true })
    mkdirSync(join(tpl, 'data'), { recursive: true })
    if (ids) {
      chownSync(templates, ids.uid, ids.gid)
      chownTree(tpl, ids.uid, ids.gid)
    }
    const r = spawnSync(
      join(bin, 'initdb'),
      ['-D', join(tpl, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'],
      { ...run, encoding: 'utf8', cwd: tpl },
    )
    if (r.status !== 0) return { skip: `initdb failed: ${r.stderr || r.error?.message}` }
    writeFileSync(join(tpl, 'ready'), '')
  }
  const dir = tempDir('postgres')
  cpSync(join(tpl, 'data'), join(dir, 'data'), { recursive: true })
  if (ids) chownTree(dir, ids.uid, ids.gid)
  const port = await freePort()
  const { proc, log } = launch(
    join(bin, 'postgres'),
    [
      '-D',
      join(dir, 'data'),
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
      '-c',
      'ssl=off',
      '-c',
      'shared_buffers=16MB',
    ],
    { ...run, cwd: dir },
  )
  return guarded(dir, proc, async () => {
    await waitTcp(port, proc, log, 'postgres')
    // The port opens before recovery ends ("the database system is starting up"): wait for pg_isready.
    const until = Date.now() + 20_000
    while (spawnSync(join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port)]).status !== 0) {
      if (Date.now() > until) throw new Error(`postgres did not become ready within 20 s: ${log()}`)
      await new Promise((r) => setTimeout(r, 50))
    }
    return service(port, dir, proc, { user: 'postgres', database: 'postgres', socketDir: dir })
  })
}
