/**
 * The host half of `k6/experimental/redis` (and `k6/x/redis`, the extension it became): a VU's
 * Redis clients by the VM's id, each an ioredis connection opened on its first command.
 *
 * ioredis rather than our own RESP code: it is the well-kept client (MIT, by Redis) with URL
 * parsing, AUTH/SELECT/CLIENT SETNAME on connect, TLS and reconnects done, and `call()` sends
 * any command, which `sendCommand` needs. It is imported on first use, so VUs of scripts that
 * never touch Redis do not pay for loading it.
 */
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis'

/** k6's socket options (binary TLS parts as base64). */
interface SocketSpec {
  host?: string
  port?: number
  tls?: { ca?: string[]; cert?: string; key?: string }
  dialTimeout?: number
  readTimeout?: number
}

/** A cluster node as k6 takes one: a redis:// URL, or the single-node part of the options. */
type NodeSpec = string | { socket?: SocketSpec; username?: string; password?: string; clientName?: string }

/** What the script passed to `new redis.Client(…)`: a URL, or k6's options object. */
export type ClientSpec =
  | { url: string }
  | {
      socket?: SocketSpec
      /** k6 v0.47's form: 'host:port' strings — one server, the Sentinels with masterName, else a cluster's nodes. */
      addrs?: string[]
      username?: string
      password?: string
      clientName?: string
      database?: number
      db?: number
      /** Sentinel: the master's name; `socket` (or `addrs`) is where the Sentinels listen. */
      masterName?: string
      sentinelUsername?: string
      sentinelPassword?: string
      cluster?: { nodes?: NodeSpec[]; maxRedirects?: number; readOnly?: boolean; routeByLatency?: boolean; routeRandomly?: boolean }
    }

/** How to connect: one server (ioredis' Redis, also through Sentinels) or a cluster (ioredis' Cluster). */
export type Connection =
  | { url?: string; options: RedisOptions; cluster?: undefined }
  | { cluster: { nodes: { host: string; port: number }[]; options: ClusterOptions } }

/**
 * ioredis options for a spec; throws what the script did wrong. Connections are lazy (the
 * constructor runs in every VU's init code) and fail fast: one attempt, no offline retries, so
 * a wrong address rejects the command's promise instead of hanging the iteration.
 */
export function redisOptions(spec: ClientSpec, insecure: boolean): Connection {
  const base: RedisOptions = { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false }
  if ('url' in spec) {
    const u = redisUrl(spec.url)
    return { url: spec.url, options: { ...base, ...(u.protocol === 'rediss:' ? { tls: { rejectUnauthorized: !insecure } } : {}) } }
  }
  const single = singleNode(spec, insecure)
  if (spec.addrs !== undefined && (!Array.isArray(spec.addrs) || !spec.addrs.length))
    throw new TypeError('redis: addrs must list "host:port" strings')
  const addrs = spec.addrs?.map((a) => hostPort(String(a), 'addrs'))
  if (spec.masterName !== undefined) {
    if (typeof spec.masterName !== 'string' || spec.masterName === '') throw new TypeError('redis: masterName must be a non-empty string')
    if (!addrs && !single.host) throw new TypeError('redis: masterName needs socket.host (where a Sentinel listens) or addrs')
    const sentinels = addrs ?? [hostPort(`${single.host}:${single.port}`, 'socket')]
    return {
      options: {
        ...base,
        ...single,
        host: undefined,
        port: undefined,
        sentinels,
        name: spec.masterName,
        sentinelUsername: spec.sentinelUsername,
        sentinelPassword: spec.sentinelPassword,
        db: spec.database ?? spec.db ?? 0,
        // One round over the Sentinels, as for one server: a wrong address fails the command.
        sentinelRetryStrategy: () => null,
      },
    }
  }
  if (spec.cluster !== undefined || (addrs && addrs.length > 1)) return { cluster: clusterOf(spec, addrs, single, insecure) }
  if (addrs?.length === 1) Object.assign(single, addrs[0])
  if (typeof single.host !== 'string' || single.host === '')
    throw new TypeError('redis: the options need socket.host (or use a redis:// URL)')
  return { options: { ...base, ...single, db: spec.database ?? spec.db ?? 0 } }
}

/** 'host:port' (port 6379 when left out). */
function hostPort(s: string, what: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(s)
  const host = (m ? m[1]! : s).replace(/^\[(.*)\]$/, '$1')
  const port = m ? Number(m[2]) : 6379
  if (host === '' || !(port > 0 && port < 65536)) throw new TypeError(`redis: ${what}: '${s}' is not host:port`)
  return { host, port }
}

/** A redis:// or rediss:// URL, checked as k6 checks one (scheme, numeric database). */
function redisUrl(text: string): URL {
  let u: URL
  try {
    u = new URL(text)
  } catch {
    throw new TypeError(`invalid redis URL '${text}': expected redis[s]://[[user][:password]@]host[:port][/db]`)
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new TypeError(`invalid redis URL scheme '${u.protocol.replace(':', '')}': use redis:// or rediss://`)
  const db = u.pathname.replace(/^\//, '')
  if (db !== '' && !/^\d+$/.test(db)) throw new TypeError(`invalid redis URL database '${db}': a number is expected`)
  return u
}

/** The connection options of one server: address, credentials, name, timeouts, TLS. */
function singleNode(spec: Exclude<NodeSpec, string>, insecure: boolean): RedisOptions {
  const host = spec.socket?.host
  const port = spec.socket?.port
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536))
    throw new TypeError(`redis: invalid socket.port ${String(port)}`)
  const tls = spec.socket?.tls
  const b64 = (s: string) => Buffer.from(s, 'base64')
  return {
    host,
    port: port ?? 6379,
    username: spec.username,
    password: spec.password,
    connectionName: spec.clientName,
    // k6 documents dialTimeout in seconds (5 by default) and readTimeout in seconds too.
    connectTimeout: (spec.socket?.dialTimeout ?? 5) * 1000,
    ...(spec.socket?.readTimeout !== undefined && spec.socket.readTimeout > 0 ? { commandTimeout: spec.socket.readTimeout * 1000 } : {}),
    ...(tls
      ? { tls: { ca: tls.ca?.map(b64), cert: tls.cert && b64(tls.cert), key: tls.key && b64(tls.key), rejectUnauthorized: !insecure } }
      : {}),
  }
}

/**
 * A Redis Cluster: the nodes to learn the slots from (cluster.nodes, or v0.47's addrs), each a
 * URL or an options object; k6's maxRedirects (go-redis' default 3), and readOnly reads from
 * replicas — spread over every node with routeRandomly or routeByLatency (ioredis has no latency
 * routing: reads go to any node, which is what routeByLatency comes to on one host).
 */
function clusterOf(
  spec: Exclude<ClientSpec, { url: string }>,
  addrs: { host: string; port: number }[] | undefined,
  single: RedisOptions,
  insecure: boolean,
): { nodes: { host: string; port: number }[]; options: ClusterOptions } {
  const c = spec.cluster ?? {}
  if (typeof c !== 'object' || c === null) throw new TypeError('redis: cluster must be an object with nodes')
  let nodeOptions: RedisOptions = { ...single, host: undefined, port: undefined }
  let nodes = addrs ?? []
  if (c.nodes !== undefined) {
    if (!Array.isArray(c.nodes) || c.nodes.length === 0) throw new TypeError('redis: cluster.nodes must list at least one node')
    nodes = c.nodes.map((n, i) => {
      if (typeof n === 'string') {
        const u = redisUrl(n)
        if (u.username || u.password)
          nodeOptions = { ...nodeOptions, username: decodeURIComponent(u.username) || undefined, password: decodeURIComponent(u.password) }
        if (u.protocol === 'rediss:') nodeOptions = { ...nodeOptions, tls: { rejectUnauthorized: !insecure } }
        return hostPort(u.host, `cluster.nodes[${i}]`)
      }
      if (!n || typeof n !== 'object') throw new TypeError(`redis: cluster.nodes[${i}] must be a URL or an options object`)
      const o = singleNode(n, insecure)
      // Credentials and TLS are the cluster's: ioredis applies one set to every node.
      nodeOptions = {
        ...nodeOptions,
        ...Object.fromEntries(Object.entries(o).filter(([k, v]) => v !== undefined && k !== 'host' && k !== 'port')),
      }
      return hostPort(`${o.host ?? ''}:${o.port}`, `cluster.nodes[${i}]`)
    })
  }
  if (!nodes.length) throw new TypeError('redis: cluster needs nodes (cluster.nodes or addrs)')
  const max = c.maxRedirects ?? 3
  if (!(Number.isInteger(max) && max >= 0)) throw new TypeError(`redis: invalid cluster.maxRedirects ${String(c.maxRedirects)}`)
  return {
    nodes,
    options: {
      lazyConnect: true,
      enableReadyCheck: false,
      maxRedirections: max,
      clusterRetryStrategy: () => null,
      scaleReads: c.readOnly ? (c.routeRandomly || c.routeByLatency ? 'all' : 'slave') : 'master',
      redisOptions: { ...nodeOptions, maxRetriesPerRequest: 0 },
    },
  }
}

type RedisCtor = new (...a: unknown[]) => Redis
type ClusterCtor = new (...a: unknown[]) => Cluster
let ctors: Promise<{ Redis: RedisCtor; Cluster: ClusterCtor }> | null = null

/** A VU's Redis clients. */
export class RedisClients {
  private readonly specs = new Map<number, Connection>()
  private readonly conns = new Map<number, Redis | Cluster>()
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

  private async conn(id: number): Promise<Redis | Cluster> {
    const have = this.conns.get(id)
    if (have) return have
    const spec = this.specs.get(id)
    if (!spec) throw new Error('redis: unknown client')
    ctors ??= import('ioredis').then((m) => ({ Redis: m.Redis as unknown as RedisCtor, Cluster: m.Cluster as unknown as ClusterCtor }))
    const { Redis, Cluster } = await ctors
    // A second command may have opened it while the module loaded.
    const again = this.conns.get(id)
    if (again) return again
    const r = spec.cluster
      ? new Cluster(spec.cluster.nodes, spec.cluster.options)
      : spec.url
        ? new Redis(spec.url, spec.options)
        : new Redis(spec.options)
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
