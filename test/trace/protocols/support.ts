/** Shared by the protocol parser tests: running a parser over events, cutting events as capture does, clients as processes. */
import { execFile } from 'node:child_process'
import { createParser, type ProtocolParser } from '../../../src/trace/protocols/index.ts'
import type { DataEvent, Protocol, TraceRecord } from '../../../src/trace/types.ts'
import type { ParserOptions } from '../../../src/trace/protocols/common.ts'
import { rng } from '../../loadtest/helpers.ts'

export { rng }

/** Feeds every event to a fresh parser, then ends it: the records, and the parser for its stats. */
export function parse(
  protocol: Protocol,
  events: DataEvent[],
  opts: ParserOptions = {},
): { records: TraceRecord[]; parser: ProtocolParser } {
  const parser = createParser(protocol, opts)
  const records: TraceRecord[] = []
  for (const ev of events) records.push(...parser.push(ev))
  const last = events[events.length - 1]?.timeNs ?? 0n
  records.push(...parser.end(last + 1n))
  return { records, parser }
}

/** The events as a capture that copies only the first `n` bytes of each transfer hands them over. */
export function cut(events: DataEvent[], n: number): DataEvent[] {
  return events.map((e) => ({ ...e, data: e.data.subarray(0, n), size: e.size }))
}

/** The events split into pieces of 1..max bytes (each its own event at the same time), as small reads would. */
export function split(events: DataEvent[], max: number, seed = 1): DataEvent[] {
  const r = rng(seed)
  const out: DataEvent[] = []
  for (const e of events) {
    for (let at = 0; at < e.data.length; ) {
      const n = 1 + Math.floor(r() * max)
      const data = e.data.subarray(at, at + n)
      out.push({ ...e, data, size: data.length })
      at += n
    }
  }
  return out
}

/** Events from hand-written chunks: [fromClient, bytes] pairs at 1 ms steps. */
export function script(...parts: [boolean, string | Buffer][]): DataEvent[] {
  let t = 1_700_000_000_000_000_000n
  return parts.map(([fromClient, b]) => {
    t += 1_000_000n
    const data = typeof b === 'string' ? Buffer.from(b, 'latin1') : b
    return { timeNs: t, fromClient, data, size: data.length }
  })
}

/** Runs a client program to its end without blocking this process's event loop (the proxy lives here). */
export function run(
  cmd: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = execFile(cmd, args, { encoding: 'utf8', timeout: 30_000, env: opts.env ?? process.env }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })
    })
    if (opts.input !== undefined) p.stdin!.end(opts.input)
  })
}

/** Mutations of recorded events for fuzzing: flipped bytes, cut events, repeated and dropped events, junk. */
export function mutate(events: DataEvent[], r: () => number): DataEvent[] {
  const out: DataEvent[] = []
  for (const e of events) {
    const roll = r()
    let data = Buffer.from(e.data)
    if (roll < 0.1) continue
    if (roll < 0.3 && data.length) for (let k = 0; k < 1 + r() * 4; k++) data[Math.floor(r() * data.length)] = Math.floor(r() * 256)
    else if (roll < 0.4) data = data.subarray(0, Math.floor(r() * data.length))
    else if (roll < 0.45)
      data = Buffer.concat([data, Buffer.from(Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256)))])
    const size = roll > 0.9 ? data.length + Math.floor(r() * 100_000) : data.length
    out.push({ ...e, fromClient: r() < 0.03 ? !e.fromClient : e.fromClient, data, size })
    if (r() < 0.05) out.push({ ...e })
  }
  return out
}

/** Random bytes in random-sized events, both directions. */
export function junk(r: () => number, n = 40): DataEvent[] {
  let t = 1n
  return Array.from({ length: n }, () => {
    const data = Buffer.from(Array.from({ length: Math.floor(r() * 300) }, () => Math.floor(r() * 256)))
    t += 1000n
    return { timeNs: t, fromClient: r() < 0.5, data, size: r() < 0.1 ? data.length + Math.floor(r() * 1e6) : data.length }
  })
}

/** Asserts the parser never throws and holds at most `max` bytes after every event, over many inputs. */
export function fuzz(protocol: Protocol, inputs: DataEvent[][], max = 2 * 64 * 1024 + 64 * 1024): { records: number; errors: number } {
  let records = 0
  let errors = 0
  for (const evs of inputs) {
    const t0 = Date.now()
    const p = createParser(protocol)
    for (const e of evs) {
      records += p.push(e).length
      if (p.buffered() > max) throw new Error(`${protocol} parser holds ${p.buffered()} bytes (limit ${max})`)
    }
    records += p.end(2n ** 62n).length
    if (process.env.FUZZ_SLOW && Date.now() - t0 > 300)
      console.log('slow input', inputs.indexOf(evs), Date.now() - t0, 'ms', evs.length, 'events')
    if (p.faults) throw new Error(`${protocol} parser threw inside (${p.faults}×) on input ${inputs.indexOf(evs)}`)
    errors += p.stats.errors
  }
  return { records, errors }
}
