/** Host functions of ws.js: `k6/ws` waits on a socket's own queue, `k6/websockets` on the event loop. */
import type { HostBinder } from '../../engine/host-api.ts'
import type { EventLoop } from '../../engine/eventloop.ts'
import type { NetRules } from '../http/netrules.ts'
import type { Host } from '../../engine/host.ts'
import type { Tags } from '../../results/metrics.ts'
import type { CookieJar, JarStore } from '../http/cookies.ts'
import { WsConn, type WsSpec } from './ws.ts'

/** What of its VU the WebSocket host functions use. */
export interface WsBridge {
  host: Host
  /** The VU's network options (localIPs, blacklistIPs, blockHostnames, dns), as its HTTP requests have them. */
  rules: NetRules
  jar: CookieJar
  jars: JarStore
  loop: EventLoop
  baseTags(): Tags
  interrupted(): boolean
}

/** A VU's open WebSockets by the VM's id. */
export class WsSockets {
  private readonly sockets = new Map<number, { conn: WsConn; queue?: string[] }>()
  /** Wakes a `k6/ws` wait (not the VU's sleep: a message must not cut short a sleep() in a handler). */
  private wake: (() => void) | null = null

  /** Ends a `k6/ws` wait (the VU was interrupted). */
  interrupt(): void {
    this.wake?.()
  }

  closeAll(): void {
    for (const s of this.sockets.values()) s.conn.destroy()
    this.sockets.clear()
  }

  install(b: HostBinder, v: WsBridge): void {
    const { host, loop } = v
    const open = (specJson: string, sink: (kind: string, payload: string) => void): WsConn => {
      const spec = JSON.parse(specJson) as WsSpec
      const emit = (m: string, val: number, t: Tags) => host.emit(m, val, { ...v.baseTags(), ...t })
      // The handshake is an HTTP request: the jar's cookies go with it and its Set-Cookie comes back.
      const jar = spec.jar === null ? null : spec.jar === undefined ? v.jar : v.jars.get(spec.jar)
      let httpUrl: URL | null = null
      try {
        httpUrl = new URL(spec.url.replace(/^ws/i, 'http'))
      } catch {
        // WsConn reports the bad URL.
      }
      const extra = spec.cookies ?? {}
      const cookies =
        jar && httpUrl
          ? jar.header(httpUrl, extra)
          : Object.entries(extra)
              .map(([n, c]) => `${n}=${c.value}`)
              .join('; ')
      if (cookies) spec.headers['Cookie'] = [cookies, spec.headers['Cookie']].filter(Boolean).join('; ')
      return new WsConn(
        spec,
        emit,
        sink,
        host.options.insecureSkipTLSVerify,
        v.rules,
        (h) => jar && httpUrl && jar.store(httpUrl, h['set-cookie']),
      )
    }
    const waitEvent = async (id: number, ms: number): Promise<string | null> => {
      const s = this.sockets.get(id)
      if (!s?.queue) return null
      if (!s.queue.length && !v.interrupted()) {
        let timer: NodeJS.Timeout | undefined
        await new Promise<void>((r) => {
          this.wake = r
          if (ms >= 0) timer = setTimeout(r, ms)
        })
        clearTimeout(timer)
        this.wake = null
      }
      if (v.interrupted()) return null
      return s.queue.shift() ?? ''
    }
    b.defAsync('wsConnect', ['n', 's'], async (id, j) => {
      const queue: string[] = []
      const conn = open(j, (kind, payload) => {
        queue.push(`${kind} ${payload}`)
        this.wake?.()
      })
      this.sockets.set(id, { conn, queue })
      const first = await waitEvent(id, -1)
      if (first?.startsWith('open ')) return first.slice(5)
      this.sockets.delete(id)
      conn.destroy()
      throw new Error(first === null ? 'interrupted' : first.startsWith('error ') ? first.slice(6) : `websocket: ${first}`)
    })
    b.defAsync('wsWait', ['n', 'n'], async (id, ms) => {
      const ev = await waitEvent(id, ms)
      if (ev === null) throw new Error('interrupted')
      return ev
    })
    b.def('wsStart', ['n', 's'], (id, j) => {
      const conn = open(j, (kind, payload) => {
        loop.push(id, true, `${kind} ${payload}`)
        if (kind === 'close') {
          this.sockets.delete(id)
          loop.end(id)
        }
      })
      this.sockets.set(id, { conn })
      loop.stream(id, () => {
        this.sockets.delete(id)
        conn.destroy()
      })
    })
    const conn = (id: number): WsConn | undefined => this.sockets.get(id)?.conn
    b.def('wsSend', ['n', 's', 'b'], (id, d, binary) => conn(id)?.send(d, binary))
    b.def('wsPing', ['n'], (id) => conn(id)?.ping())
    b.def('wsClose', ['n', 'n', 's'], (id, code, reason) => conn(id)?.close(code, reason))
    b.def('wsDone', ['n'], (id) => {
      conn(id)?.destroy()
      this.sockets.delete(id)
    })
  }
}
