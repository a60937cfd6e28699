import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isKilnError } from '../../../src/model/errors.ts'
import { BpftraceRun } from '../../../src/trace/sources/bpftrace-run.ts'
import { isRoot } from './helpers.ts'

test('a program bpftrace refuses: start() rejects with KILN_UNSUPPORTED and bpftrace’s own words, not its RLIMIT chatter', {
  skip: isRoot ? false : 'needs root (bpftrace)',
}, async () => {
  const run = new BpftraceRun({ name: 'probe-test', program: 'tracepoint:block:no_such_event_kiln { printf("x\\n"); }', onLine: () => {} })
  await assert.rejects(run.start(), (e: unknown) => {
    assert.ok(isKilnError(e))
    assert.equal(e.code, 'KILN_UNSUPPORTED')
    assert.match(e.message, /^probe-test: bpftrace exited \(code \d+\) before its probes were attached: .*no_such_event_kiln/)
    assert.doesNotMatch(e.message, /RLIMIT_MEMLOCK/)
    return true
  })
})

test('lines before the ready probe and after it reach onLine; stop() ends bpftrace', {
  skip: isRoot ? false : 'needs root (bpftrace)',
}, async () => {
  const lines: string[] = []
  const run = new BpftraceRun({
    name: 'probe-test',
    program: 'BEGIN { printf("hello\\n"); } interval:ms:50 { printf("tick\\n"); }',
    onLine: (l) => lines.push(l),
  })
  await run.start()
  await new Promise((r) => setTimeout(r, 300))
  await run.stop()
  assert.equal(lines[0], 'hello')
  assert.ok(lines.filter((l) => l === 'tick').length >= 2, lines.join(','))
  assert.equal(run.died, false)
})

test('bpftrace dying while it traces is logged and shows in died, never silent', {
  skip: isRoot ? false : 'needs root (bpftrace)',
}, async () => {
  const log: string[] = []
  const run = new BpftraceRun({
    name: 'probe-test',
    program: 'interval:ms:100 { printf("tick\\n"); }',
    onLine: () => {},
    log: (l) => log.push(l),
  })
  await run.start()
  process.kill(run.pid!, 'SIGKILL')
  const t = Date.now()
  while (log.length === 0 && Date.now() - t < 10_000) await new Promise((r) => setTimeout(r, 50))
  assert.equal(run.died, true)
  assert.match(log.join('\n'), /^probe-test: bpftrace exited \(code null\) while tracing, no more rows from it/)
  await run.stop()
})
