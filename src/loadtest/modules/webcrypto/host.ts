/** Host functions of webcrypto.js: each `crypto.subtle` call is an event-loop operation. */
import type { HostBinder } from '../../engine/host-api.ts'
import type { EventLoop } from '../../engine/eventloop.ts'
import type { KeyStore } from './webcrypto.ts'

export function installWebCrypto(b: HostBinder, keys: KeyStore, loop: EventLoop): void {
  b.def('keyFree', ['s'], (ids) => keys.free(ids))
  b.def('subtle', ['n', 's', 's'], (id, op, args) => loop.op(id, keys.run(op, args)))
}
