/**
 * Stopping VUs whose thread is held by CPU-bound JS (`while (true) {}`): such a thread runs no
 * timer and reads no message, so a stop must reach it through memory. Each VU has a word in a
 * SharedArrayBuffer; its interrupt handler (engine/vu.ts) polls that word, and the main thread
 * sets it (gracefulStop over, test.abort(), Ctrl-C).
 *
 * When the held thread is the main one (a run with one VU or KILN_RUN_THREADS=0, setup and
 * teardown on VU 0), its own SIGINT listener cannot run either. So Ctrl-C is caught by a small
 * watcher thread that waits inside `vm.runInContext(…, { breakOnSigint: true })` (Node's SIGINT
 * watchdog interrupts the wait): it bumps a count the main thread's VUs poll, and tells the main
 * thread, which then stops the run as its listener would (and so sets every VU's word).
 */
import { Worker } from 'node:worker_threads'

/** One word per VU (VU 0 and `maxVUs` more): non-zero stops that VU's current call. */
export function stopWords(maxVUs: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * (maxVUs + 1)))
}

/** Sets VU `id`'s word (a VU beyond the buffer is reached by message only). */
export function stopVU(words: Int32Array, id: number): void {
  if (id < words.length) Atomics.store(words, id, 1)
}

/** The count of Ctrl-Cs, read by the VUs of the main thread. */
export function sigintWord(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4))
}

// CommonJS evaluated in the worker: no TypeScript loader to start (~10 ms instead of ~300 ms).
const WATCHER = `
const { workerData, parentPort } = require('node:worker_threads')
const vm = require('node:vm')
const count = new Int32Array(workerData)
const ctx = vm.createContext({ a: new Int32Array(new SharedArrayBuffer(4)) })
parentPort.postMessage('watching')
for (;;) {
  try {
    vm.runInContext('Atomics.wait(a, 0, 0)', ctx, { breakOnSigint: true })
  } catch {
    Atomics.add(count, 0, 1)
    parentPort.postMessage('SIGINT')
  }
}
`

/**
 * Catches SIGINT in a watcher thread for as long as the run lasts: `onSignal` runs on the main
 * thread for each one (once the main thread is free). Resolves when it watches; the returned
 * function ends it.
 */
export async function watchSigint(count: Int32Array, onSignal: () => void): Promise<() => Promise<void>> {
  const w = new Worker(WATCHER, { eval: true, workerData: count.buffer })
  w.unref()
  await new Promise<void>((resolve, reject) => {
    w.once('error', reject)
    w.on('message', (m: string) => (m === 'watching' ? resolve() : onSignal()))
  })
  return async () => {
    await w.terminate()
  }
}
