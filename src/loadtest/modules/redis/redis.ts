/**
 * The host half of `k6/experimental/redis` (and `k6/x/redis`, the extension it became): a VU's
 * Redis clients by the VM's id, each an ioredis connection opened on its first command.
 *
 * ioredis rather than our own RESP code: it is the well-kept client (MIT, by Redis) with URL
 * parsing, AUTH/SELECT/CLIENT SETNAME on connect, TLS and reconnects done, and `call()` sends
 * any command, which `sendCommand` needs. It is imported on first use, so VUs of scripts that
 * never touch Redis do not pay for loading it.
 */
import type { Redis, RedisOptions } from 'ioredis'

/** What the script passed to `new redis.Client(…)`: a URL, or k6's options object (binary TLS parts as base64). */
export type ClientSpec =
  | { url: string }
  | {
      socket?: {
        host?: string
        port?: number
        tls?: { ca?: string[]; cert?: string; key?: string }
        dialTimeout?: number
        readTimeout?: number
      }
      /** k6 v0.47's form: 'host:port' strings. */
      addrs?: string[]
      username?: string
      password?: string
      clientName?: string
      database?: number
      db?: number
      masterName?: string
      cluster?: unknown
    }

/**
 * ioredis options for a spec; throws what the script did wrong. Connections are lazy (the
 * constructor runs in every VU's init code) and fail fast: one attempt, no offline retries, so
 * a wrong address rejects the command's promise instead of hanging the iteration.
 */
export function redisOptions(spec: ClientSpec, insecure: boolean): { url?: string; options: RedisOptions } {
  const base: RedisOptions = { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false }
  if ('url' in spec) {
    let u: URL
    try {
      u = new URL(spec.url)
    } catch {
      throw new TypeError(`invalid redis URL '${spec.url}': expected redis[s]://[[user][:password]@]host[:port][/db]`)
    }
    if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
      throw new TypeError(`invalid redis URL scheme '${u.protocol.replace(':', '')}': use redis:// or rediss://`)
    const db = u.pathname.replace(/^\//, '')
    if (db !== '' && !/^\d+$/.test(db)) throw new TypeError(`invalid redis URL database '${db}': a number is expected`)
    return { url: spec.url, options: { ...base, ...(u.protocol === 'rediss:' ? { tls: { rejectUnauthorized: !insecure } } : {}) } }
  }
  if (spec.masterName !== undefined || spec.cluster !== undefined)
    throw new TypeError(
      'redis: Sentinel (masterName) and cluster options are not supported by Kiln yet; connect to one node with socket.host and socket.port',
    )
  let host = spec.socket?.host
  let port = spec.socket?.port
  if (spec.addrs !== undefined) {
    if (!Array.isArray(spec.addrs) || spec.addrs.length !== 1)
      throw new TypeError('redis: addrs must hold one "host:port" (clusters are not supported by Kiln yet)')
    const m = /^(.*):(\d+)$/.exec(String(spec.addrs[0]))
    host = m ? m[1] : String(spec.addrs[0])
    port = m ? Number(m[2]) : 6379
  }
  if (typeof host !== 'string' || host === '') throw new TypeError('redis: the options need socket.host (or use a redis:// URL)')
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536))
    throw new TypeError(`redis: invalid socket.port ${String(port)}`)
  const tls = spec.socket?.tls
  const b64 = (s: string) => Buffer.from(s, 'base64')
  return {
    options: {
      ...base,
      host,
      port: port ?? 6379,
      username: spec.username,
      password: spec.password,
      db: spec.database ?? spec.db ?? 0,
      connectionName: spec.clientName,
      // k6 documents dialTimeout in seconds (5 by default) and readTimeout in seconds too.
      connectTimeout: (spec.socket?.dialTimeout ?? 5) * 1000,
      ...(spec.socket?.readTimeout !== undefined && spec.socket.readTimeout > 0 ? { commandTimeout: spec.socket.readTimeout * 1000 } : {}),
      ...(tls
        ? { tls: { ca: tls.ca?.map(b64), cert: tls.cert && b64(tls.cert), key: tls.key && b64(tls.key), rejectUnauthorized: !insecure } }
        : {}),
    },
  }
}

type RedisCtor = new (...a: unknown[]) => Redis
let ctor: Promise<RedisCtor> | null = null

/** A VU's Redis clients. */
export class RedisClients {
  private readonly specs = new Map<number, { url?: string; options: RedisOptions }>()
  private readonly conns = new Map<number, Redis>()
  /** A connection's last error: ioredis rejects the commands of a failed connection with 'Connection is closed.' only. */
  private readonly lastError = new Map<number, Error>()

  constructor(private readonly insecure: boolean) {}

  /** `new redis.Client(spec)`: checks the spec now, connects on the first command. */
  define(id: number, spec: ClientSpec): void {
    this.specs.set(id, redisOptions(spec, this.insecure))
  }

  /** Sends one command; its reply as JSON. A nil reply rejects, as go-redis's `redis: nil` does in k6. */
  async command(id: number, args: string[]): Promise<string> {
    const r = await this.conn(id)
    const [name, ...rest] = args
    let reply: unknown
    try {
      if (r.status === 'wait' || r.status === 'end') await r.connect()
      reply = await r.call(name!, ...rest)
    } catch (e) {
      const cause = this.lastError.get(id)
      this.lastError.delete(id)
      throw cause && e instanceof Error && /Connection is closed/.test(e.message) ? cause : e
    }
    if (reply === null) throw new Error('redis: nil')
    return JSON.stringify(reply)
  }

  private async conn(id: number): Promise<Redis> {
    const have = this.conns.get(id)
    if (have) return have
    const spec = this.specs.get(id)
    if (!spec) throw new Error('redis: unknown client')
    ctor ??= import('ioredis').then((m) => m.Redis as unknown as RedisCtor)
    const Ctor = await ctor
    // A second command may have opened it while the module loaded.
    const again = this.conns.get(id)
    if (again) return again
    const r = spec.url ? new Ctor(spec.url, spec.options) : new Ctor(spec.options)
    // Kept for the command that fails because of it; without a listener ioredis would print it.
    r.on('error', (e: Error) => this.lastError.set(id, e))
    this.conns.set(id, r)
    return r
  }

  closeAll(): void {
    for (const r of this.conns.values()) r.disconnect()
    this.conns.clear()
  }
}
