/**
 * A VU's k6 modules on the host side: the state each keeps per VU (HTTP client and cookie jars,
 * parsed HTML, crypto keys, sockets, gRPC, Redis and browser sessions) and the host functions that
 * bind them into the VU's VM. vu.ts keeps the engine: the runtime, calls, the event loop.
 */
import type { HostBinder } from './host-api.ts'
import type { EventLoop } from './eventloop.ts'
import type { BoardVU, Host } from './host.ts'
import { names } from '../modules/index.ts'
import { installK6 } from '../modules/k6/host.ts'
import { installSecrets } from '../modules/secrets/host.ts'
import { closeTransport } from '../modules/http/transport.ts'
import { closeClient, newClient, type HttpClient } from '../modules/http/http.ts'
import { JarStore } from '../modules/http/cookies.ts'
import { installHttp } from '../modules/http/host.ts'
import { HtmlStore } from '../modules/html/html.ts'
import { installHtml } from '../modules/html/host.ts'
import { installCrypto } from '../modules/crypto/host.ts'
import { KeyStore } from '../modules/webcrypto/webcrypto.ts'
import { installWebCrypto } from '../modules/webcrypto/host.ts'
import { installFs } from '../modules/fs/host.ts'
import type { WsSockets } from '../modules/ws/host.ts'
import type { GrpcClients } from '../modules/grpc/grpc.ts'
import { installKiln } from '../modules/kiln/host.ts'
import { RedisClients } from '../modules/redis/redis.ts'
import { installRedis } from '../modules/redis/host.ts'
import { BrowserSession } from '../modules/browser/session.ts'
import { installBrowser } from '../modules/browser/host.ts'

/** The lazily evaluated modules (modules/index.ts, lazyModules) whose JS calls host functions: which ones. */
const LAZY_HOST: Record<string, string> = {
  'k6/html': 'html',
  'k6/ws': 'ws',
  'k6/websockets': 'ws',
  'k6/experimental/fs': 'fs',
  'k6/experimental/csv': 'fs',
  'k6/net/grpc': 'grpc',
  'k6/x/kiln': 'kiln',
  'k6/experimental/redis': 'redis',
  'k6/x/redis': 'redis',
  'k6/browser': 'browser',
}

/**
 * Host sides loaded only when a script imports their module: the `ws` package and protobufjs with
 * gRPC's code took ~200 ms to load in each thread that runs VUs (`kiln run -i 1` of a script using
 * neither: 0.52 against 0.73 s wall with them left out), for scripts that mostly use neither.
 * VU init loads those the script names (loadHostSides); one imported only from another file is
 * found when its module is first bound (installFor records it, init loads it and starts over).
 */
const HOST_SIDES = {
  ws: async () => ({ WsSockets: (await import('../modules/ws/host.ts')).WsSockets }),
  grpc: async () => {
    const [g, h] = await Promise.all([import('../modules/grpc/grpc.ts'), import('../modules/grpc/host.ts')])
    return { GrpcClients: g.GrpcClients, installGrpc: h.installGrpc }
  },
}
type HostSides = { [K in keyof typeof HOST_SIDES]?: Awaited<ReturnType<(typeof HOST_SIDES)[K]>> }
/** This thread's loaded host sides. */
const sides: HostSides = {}
/** Groups a VU found it needed and this thread had not loaded (see installFor). */
const wanted = new Set<keyof typeof HOST_SIDES>()

const isSide = (g: string): g is keyof typeof HOST_SIDES => Object.hasOwn(HOST_SIDES, g)

/** Loads the host sides of the modules `source` names (and those a VU found missing); true when any was wanting. */
export async function loadHostSides(source: string): Promise<boolean> {
  for (const [module, group] of Object.entries(LAZY_HOST)) if (isSide(group) && !sides[group] && names(source, module)) wanted.add(group)
  const any = wanted.size > 0
  for (const g of [...wanted]) {
    ;(sides as Record<string, unknown>)[g] = await HOST_SIDES[g]()
    wanted.delete(g)
  }
  return any
}

export class VuModules {
  readonly client: HttpClient
  private readonly jars: JarStore
  private readonly html = new HtmlStore()
  private readonly keys = new KeyStore()
  private ws: WsSockets | null = null
  private grpcClients: GrpcClients | null = null
  private redis: RedisClients | null = null
  private browser: BrowserSession | null = null

  constructor(
    private readonly host: Host,
    /** Who the VU is and where it is now (k6/execution, tags, debug lines). */
    private readonly vu: BoardVU,
    private readonly loop: EventLoop,
  ) {
    const o = host.options
    this.client = newClient({
      userAgent: o.userAgent,
      insecure: o.insecureSkipTLSVerify,
      discardBodies: o.discardResponseBodies,
      maxSockets: o.batchPerHost,
      net: o.net,
      tagIp: o.vuTags.includes('ip'),
      vu: vu.id,
    })
    this.jars = new JarStore(this.client.jar)
    if (host.httpDebug) {
      // k6's fields after the dump, in logrus's (alphabetical) order.
      this.client.debug = (l, group, id) =>
        host.log(
          'http-debug',
          `${l}  group=${group} iter=${Math.max(0, vu.iteration)} request_id=${id} scenario=${vu.scenario ?? ''} source=http-debug vu=${vu.id}`,
        )
      this.client.debugBodies = host.httpDebug === 'full'
    }
  }

  /** What installFor needs to bind a lazily evaluated module's host functions later. */
  private binder: { b: HostBinder; interrupted: () => boolean } | null = null
  /** The groups of LAZY_HOST already bound in this VU. */
  private readonly bound = new Set<string>()

  /**
   * Binds the host functions every VU needs into the VM: k6's, k6/http's (also behind the
   * Response), the crypto ones (the preludes define crypto.subtle and k6/crypto). The other
   * modules' come with their JS (installFor).
   */
  install(b: HostBinder, interrupted: () => boolean): void {
    const host = this.host
    const vu = this.vu
    installK6(b, { host, vu })
    installSecrets(b, host.secrets)
    installHttp(b, { host, client: this.client, jars: this.jars, loop: this.loop, baseTags: () => vu.baseTags, interrupted })
    installCrypto(b)
    installWebCrypto(b, this.keys, this.loop)
    this.binder = { b, interrupted }
  }

  /**
   * Binds the host functions of `module`, one of those evaluated on first import
   * (modules/index.ts, lazyModules), before its JS runs. 30 of a VU's 59 host functions belong to
   * such modules; bound up front, each cost every VU ~0.5 KB of V8 heap (quickjs-emscripten's
   * host reference, the wrappers) and its function object in the VM's heap, whether the script
   * used the module or not.
   */
  installFor(module: string): void {
    const group = LAZY_HOST[module]
    if (group === undefined || this.binder === null || this.bound.has(group)) return
    if (isSide(group) && !sides[group]) {
      wanted.add(group)
      throw new Error(`the host side of '${module}' is not loaded: import it in the init code`)
    }
    this.bound.add(group)
    const { b, interrupted } = this.binder
    const host = this.host
    const vu = this.vu
    const baseTags = () => vu.baseTags
    const loop = this.loop
    switch (group) {
      case 'html':
        return installHtml(b, this.html)
      case 'fs':
        return installFs(b, (p) => host.readBytes(p))
      case 'ws':
        return (this.ws = new sides.ws!.WsSockets()).install(b, {
          host,
          rules: this.client.transport.rules,
          jar: this.client.jar,
          jars: this.jars,
          loop,
          baseTags,
          interrupted,
        })
      case 'grpc':
        return sides.grpc!.installGrpc(b, { loop, clients: () => this.grpc, existing: () => this.grpcClients, interrupted })
      case 'kiln':
        return installKiln(b)
      case 'redis':
        return installRedis(b, { loop, clients: () => (this.redis ??= new RedisClients(host.options.insecureSkipTLSVerify)) })
      case 'browser':
        return installBrowser(b, {
          loop,
          session: () =>
            (this.browser ??= new BrowserSession({
              info: () => host.options.browser,
              scenario: () => vu.scenario,
              emit: (m, v, t) => host.emit(m, v, t),
              baseTags,
            })),
        })
    }
  }

  private get grpc(): GrpcClients {
    const host = this.host
    const vu = this.vu
    this.grpcClients ??= new sides.grpc!.GrpcClients({
      readBytes: (p) => host.readBytes(p),
      emit: (m, v, t) => host.emit(m, v, { ...vu.baseTags, ...t }),
      insecure: host.options.insecureSkipTLSVerify,
      userAgent: host.options.userAgent,
      net: host.options.net,
      vu: vu.id,
      // k6 logs gRPC calls with --http-debug too (its fields after the text, as for HTTP).
      debug: host.httpDebug
        ? {
            log: (t) =>
              host.log('http-debug', `${t}  iter=${Math.max(0, vu.iteration)} scenario=${vu.scenario ?? ''} source=http-debug vu=${vu.id}`),
            full: host.httpDebug === 'full',
          }
        : undefined,
    })
    return this.grpcClients
  }

  /** Init code is over: objects made from now on belong to an iteration. */
  endInit(): void {
    this.html.keepNew = false
    this.jars.keepNew = false
  }

  /** k6 resets each VU's cookie jar between iterations unless noCookiesReset. */
  startIteration(): void {
    if (!this.host.options.noCookiesReset) this.client.jar.clear()
  }

  async endIteration(): Promise<void> {
    // k6 closes the iteration's browser contexts when it ends.
    if (this.browser) await this.browser.endIteration()
    this.html.endIteration()
    this.jars.endIteration()
    // noVUConnectionReuse: the next iteration opens new connections.
    if (this.host.options.noVUConnectionReuse) closeTransport(this.client.transport)
  }

  interrupt(): void {
    this.ws?.interrupt()
    this.grpcClients?.interrupt()
  }

  close(): void {
    this.ws?.closeAll()
    this.grpcClients?.closeAll()
    this.redis?.closeAll()
    closeClient(this.client)
  }
}
