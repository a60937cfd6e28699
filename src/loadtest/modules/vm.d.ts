/**
 * The globals the in-VM JS (`modules/<module>/*.js`, `engine/loop.js`) sees inside QuickJS, for
 * the type check of ./tsconfig.json (run by test/loadtest/vm-types.test.ts). The host functions
 * are HostApi's; an async one returns its value directly to the VM (asyncify suspends the VM).
 */
import type { HostApi } from '../engine/host-api.ts'

type VmHostApi = { [K in keyof HostApi]: (...a: Parameters<HostApi[K]>) => Awaited<ReturnType<HostApi[K]>> }

declare global {
  var __kh: VmHostApi
}
