/** `k6/experimental/streams`: ReadableStream, its default controller and reader, in a real `kiln run`. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { kilnRun, workdir } from './helpers.ts'

/** Runs an async default function whose value is printed as `RESULT json`; returns that value. */
async function run(body: string): Promise<any> {
  const dir = workdir({
    'script.js': `
import { ReadableStream, ReadableStreamDefaultReader, CountQueuingStrategy } from 'k6/experimental/streams'
import { setTimeout } from 'k6/timers'
export const options = { iterations: 1 }
const err = (f) => { try { f(); return 'no error' } catch (e) { return e.name + ': ' + e.message } }
const rejection = (p) => p.then((v) => 'resolved ' + JSON.stringify(v), (e) => (e && e.name ? e.name + ': ' + e.message : String(e)))
async function drain(reader) { const out = []; for (;;) { const { done, value } = await reader.read(); if (done) return out; out.push(value) } }
export default async function () { const r = await (async () => { ${body} })(); console.log('RESULT ' + JSON.stringify(r)) }`,
  })
  const r = await kilnRun(['run', '-q', '--no-summary', 'script.js'], { cwd: dir, timeoutMs: 60_000 })
  assert.equal(r.code, 0, r.stderr)
  const line = r.stderr.split('\n').find((l) => l.includes(' RESULT '))
  assert.ok(line, r.stderr)
  return JSON.parse(line.slice(line.indexOf(' RESULT ') + 8).replace(/\s+source=console$/, ''))
}

test('pull fills the queue up to highWaterMark and no further; reads drain it in order; close ends it', async () => {
  const r = await run(`
  let n = 0
  const pulls = []
  const s = new ReadableStream({
    pull(c) { pulls.push(c.desiredSize); n++; if (n > 5) c.close(); else c.enqueue(n) },
  }, new CountQueuingStrategy({ highWaterMark: 3 }))
  await new Promise((res) => setTimeout(res, 20))
  const before = pulls.length
  const reader = s.getReader()
  const locked = s.locked
  const values = await drain(reader)
  await reader.closed
  return { before, pulls, locked, values, again: await reader.read(), second: err(() => s.getReader()), instance: reader instanceof ReadableStreamDefaultReader }`)
  // Three pulls while nobody reads (desiredSize 3, 2, 1); then one per chunk read, and the one that closes.
  assert.deepEqual(r, {
    before: 3,
    pulls: [3, 2, 1, 1, 1, 1],
    locked: true,
    values: [1, 2, 3, 4, 5],
    again: { done: true },
    second: 'TypeError: the stream is already locked to a reader',
    instance: true,
  })
})

test('start enqueues from timers (the docs numbersStream); a read waits for the next chunk', async () => {
  const r = await run(`
  let i = 0
  const s = new ReadableStream({
    start(c) {
      const tick = () => { i++; if (i > 4) return c.close(); c.enqueue(i * 10); setTimeout(tick, 5) }
      setTimeout(tick, 5)
    },
  })
  return drain(s.getReader())`)
  assert.deepEqual(r, [10, 20, 30, 40])
})

test('error() rejects pending and later reads with its reason; cancel() calls the source and ends reads', async () => {
  const r = await run(`
  let ctl
  const s = new ReadableStream({ start(c) { ctl = c } })
  const reader = s.getReader()
  const pending = rejection(reader.read())
  ctl.error(new Error('boom'))
  const out = { pending: await pending, later: await rejection(reader.read()), closed: await rejection(reader.closed), desired: ctl.desiredSize, enqueue: err(() => ctl.enqueue(1)) }
  const reasons = []
  const s2 = new ReadableStream({ start(c) { c.enqueue('a'); c.enqueue('b') }, cancel(why) { reasons.push(why) } }, { highWaterMark: 5 })
  out.cancelLocked = await rejection((() => { const r2 = s2.getReader(); const p = s2.cancel('x'); r2.releaseLock(); return p })())
  out.cancel = await rejection(s2.cancel('enough'))
  out.reasons = reasons
  out.afterCancel = await s2.getReader().read()
  const s3 = new ReadableStream({ pull() { throw new Error('pull failed') } })
  out.pullThrows = await rejection(s3.getReader().read())
  return out`)
  assert.deepEqual(r, {
    pending: 'Error: boom',
    later: 'Error: boom',
    closed: 'Error: boom',
    desired: null,
    enqueue: 'TypeError: the stream is closed or closing: no chunk can be enqueued',
    cancelLocked: 'TypeError: the stream is locked to a reader: cancel through the reader',
    cancel: 'resolved undefined',
    reasons: ['enough'],
    afterCancel: { done: true },
    pullThrows: 'Error: pull failed',
  })
})

test('releaseLock rejects waiting reads; a size() strategy counts chunks by weight; bad arguments are TypeErrors and RangeErrors', async () => {
  const r = await run(`
  const s = new ReadableStream()
  const reader = s.getReader()
  const waiting = rejection(reader.read())
  reader.releaseLock()
  const out = { waiting: await waiting, afterRelease: await rejection(reader.read()), unlocked: s.locked }
  let ctl
  new ReadableStream({ start(c) { ctl = c } }, { highWaterMark: 10, size: (chunk) => chunk.length })
  ctl.enqueue('abcd')
  out.desired = ctl.desiredSize
  ctl.close()
  out.closeTwice = err(() => ctl.close())
  let bad
  new ReadableStream({ start(c) { bad = c } }, { size: () => -1 })
  out.badSize = err(() => bad.enqueue('x'))
  out.bytes = err(() => new ReadableStream({ type: 'bytes' }))
  out.hwm = err(() => new ReadableStream({}, { highWaterMark: -1 }))
  out.byob = err(() => new ReadableStream().getReader({ mode: 'byob' }))
  out.notStream = err(() => new ReadableStreamDefaultReader({}))
  return out`)
  assert.deepEqual(r, {
    waiting: 'TypeError: the reader released its lock',
    afterRelease: 'TypeError: the reader has released its lock: it cannot read',
    unlocked: false,
    desired: 6,
    closeTwice: 'TypeError: the stream is closed or closing: it cannot be closed again',
    badSize: 'RangeError: the queuing strategy size() must return a finite, non-negative number',
    bytes: 'TypeError: byte streams (type: "bytes") are not supported, as in k6: use the default type',
    hwm: 'RangeError: highWaterMark must be a non-negative number',
    byob: 'TypeError: BYOB readers are not supported, as in k6',
    notStream: 'TypeError: ReadableStreamDefaultReader needs a ReadableStream',
  })
})
