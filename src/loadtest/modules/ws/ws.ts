/**
 * The host side of one WebSocket connection for `k6/ws` and `k6/websockets` (the `ws` package as
 * the client): k6's ws metrics, and every event handed to a sink as (kind, payload) strings.
 * Kinds: open (JSON {status, headers, subproto}), message (text), binary (base64), ping, pong,
 * close ("code reason"), error (message). After close or error nothing more is sent.
 */
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'
import { checkedLookup, refusedBeforeLookup } from '../http/lookup.ts'
import type { NetRules } from '../http/netrules.ts'
import type { Tags } from '../../results/metrics.ts'
import type { RequestCookie } from '../http/cookies.ts'
import { canonical } from '../http/http.ts'

export interface WsSpec {
  url: string
  headers: Record<string, string>
  /** `params.cookies`, sent with the jar's (the VU builds the Cookie header) */
  cookies?: Record<string, RequestCookie>
  protocols: string[]
  /** group + the script's tags */
  tags: Tags
  compression: string
  /** `params.jar`: a jar id, null for none, absent for the VU's jar (resolved by the VU). */
  jar?: number | null
}

export type WsSink = (kind: string, payload: string) => void
export type Emit = (metric: string, value: number, tags: Tags) => void

export class WsConn {
  private ws: WebSocket | null = null
  private readonly t0 = performance.now()
  private readonly tags: Tags
  private pings: number[] = []
  private done = false
  private opened = false
  /** The handshake response's headers, canonicalised as k6's Response.headers. */
  private headers: Record<string, string> = {}

  constructor(
    spec: WsSpec,
    private readonly emit: Emit,
    private readonly sink: WsSink,
    insecure: boolean,
    rules: NetRules,
    /** The handshake response's headers (the VU stores its Set-Cookie in the jar). */
    onUpgrade?: (headers: import('node:http').IncomingHttpHeaders) => void,
  ) {
    this.tags = { ...spec.tags, url: spec.url }
    let ws: WebSocket
    try {
      // k6 dials WebSockets as it dials HTTP: blockHostnames, blacklistIPs and dns in the lookup, localIPs.
      const host = new URL(spec.url).hostname.replace(/^\[(.*)\]$/, '$1')
      const refusal = refusedBeforeLookup(rules, host, host)
      if (refusal) throw new Error(refusal.message)
      ws = new WebSocket(spec.url, spec.protocols, {
        headers: spec.headers,
        perMessageDeflate: spec.compression === 'deflate',
        rejectUnauthorized: !insecure,
        handshakeTimeout: 60_000,
        lookup: checkedLookup(rules),
        ...(rules.localAddress ? { localAddress: rules.localAddress } : {}),
        ...rules.tls(host),
      })
    } catch (e) {
      queueMicrotask(() => this.fail((e as Error).message))
      return
    }
    this.ws = ws
    ws.on('upgrade', (res) => {
      this.tags.status = String(res.statusCode ?? 101)
      onUpgrade?.(res.headers)
      for (const [k, v] of Object.entries(res.headers)) this.headers[canonical(k)] = [v ?? ''].flat().join(', ')
    })
    ws.on('unexpected-response', (_req, res) => {
      this.tags.status = String(res.statusCode)
      res.resume()
      this.fail(`websocket: bad handshake (status ${res.statusCode})`)
    })
    ws.on('open', () => {
      this.opened = true
      this.tags.subproto = ws.protocol
      this.emit('ws_sessions', 1, this.tags)
      this.emit('ws_connecting', performance.now() - this.t0, this.tags)
      this.sink('open', JSON.stringify({ status: 101, headers: this.headers, subproto: ws.protocol }))
    })
    ws.on('message', (data, isBinary) => {
      this.emit('ws_msgs_received', 1, this.tags)
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)
      this.sink(isBinary ? 'binary' : 'message', isBinary ? buf.toString('base64') : buf.toString('utf8'))
    })
    ws.on('ping', () => this.sink('ping', ''))
    ws.on('pong', () => {
      const t = this.pings.shift()
      if (t !== undefined) this.emit('ws_ping', performance.now() - t, this.tags)
      this.sink('pong', '')
    })
    ws.on('error', (e) => this.fail(e.message))
    ws.on('close', (code, reason) => this.end('close', `${code} ${reason.toString()}`))
  }

  get open(): boolean {
    return this.opened && !this.done
  }

  /** Text (`binary` false) or base64 bytes. */
  send(data: string, binary: boolean): void {
    if (!this.open) throw new Error('the WebSocket is not open')
    this.ws!.send(binary ? Buffer.from(data, 'base64') : data, { binary })
    this.emit('ws_msgs_sent', 1, this.tags)
  }

  ping(): void {
    if (!this.open) return
    this.pings.push(performance.now())
    this.ws!.ping()
  }

  close(code?: number, reason?: string): void {
    if (this.done || !this.ws) return
    if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate()
    else this.ws.close(code ?? 1000, reason)
  }

  /** Tears the connection down without a close handshake (an interrupted iteration, the end of the test). */
  destroy(): void {
    if (!this.done) this.finish()
    this.ws?.terminate()
  }

  private fail(message: string): void {
    if (this.done) return
    this.sink('error', message)
    this.ws?.terminate()
    this.end('close', '1006 ')
  }

  private end(kind: string, payload: string): void {
    if (this.done) return
    this.finish()
    this.sink(kind, payload)
  }

  /** The session's closing metrics. */
  private finish(): void {
    this.done = true
    const sock = (this.ws as unknown as { _socket?: { bytesRead: number; bytesWritten: number } } | null)?._socket
    if (sock) {
      this.emit('data_received', sock.bytesRead, this.tags)
      this.emit('data_sent', sock.bytesWritten, this.tags)
    }
    if (this.opened) this.emit('ws_session_duration', performance.now() - this.t0, this.tags)
  }
}
