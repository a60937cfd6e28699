/**
 * A distributed run, the k6-operator way (`kiln run --instances N`): N `kiln run --instance`
 * processes, each with its execution segment of one sequence, started paused with their REST API
 * on; once every one has initialised its VUs and says so (status "paused before run"), the setup
 * data go to each (PUT /v1/setup: setup() ran once, here) and they are resumed together (PATCH
 * /v1/status). Their samples come back over GET /v1/samples as k6 JSON output lines and are merged
 * into this process's Runner (results/merge.ts), which evaluates the thresholds, prints the
 * summary and stores one run. The instances are local child processes, or (`--connect`) started
 * elsewhere, e.g. the pods of a Kubernetes Indexed Job (deploy/kustomize/overlays/loadtest).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import http from 'node:http'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { EXIT, InstanceError } from '../errors.ts'
import { evaluate } from '../results/thresholds.ts'
import { SampleMerge, type InstanceEnd } from '../results/merge.ts'
import { STATUS } from './api.ts'
import type { Instances, Runner } from './runner.ts'

const kilnBin = fileURLToPath(new URL('../../../bin/kiln.js', import.meta.url))

export interface CoordinateOptions {
  instances: number
  /** REST API addresses (HOST:PORT) of instances started elsewhere; empty → local child processes. */
  connect: string[]
  /** `kiln run` arguments for every local instance: the user's, without the coordinator's own. */
  args: string[]
  /** The sequence the instances' segments come from (`0,1/3,2/3,1`); default N equal parts. */
  sequence?: string
  quiet: boolean
  err: (s: string) => void
  /** How long the instances may take to initialise (default 5 min: pods may be pulling images). */
  readyTimeoutMs?: number
}

/** N equal segments: `0,1/3,2/3,1`. */
export function evenSequence(n: number): string {
  return ['0', ...Array.from({ length: n - 1 }, (_, i) => `${i + 1}/${n}`), '1'].join(',')
}

/** The segments of a sequence, e.g. `0,1/2,1` → `0:1/2`, `1/2:1`. */
export function segmentsOf(sequence: string): string[] {
  const points = sequence.split(',').map((s) => s.trim())
  return points.slice(1).map((to, i) => `${points[i]}:${to}`)
}

/** Free ports on 127.0.0.1 for the local instances' REST APIs (asked of the kernel, then let go). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((res, rej) => {
          const s = createServer()
          s.once('error', rej)
          s.listen(0, '127.0.0.1', () => res(s))
        }),
    ),
  )
  const ports = servers.map((s) => (s.address() as { port: number }).port)
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  return ports
}

interface ApiReply {
  data?: { attributes?: { status?: number } }
  errors?: { title: string }[]
}

/** One call to an instance's REST API; resolves to its JSON, throws on a failed connection or a 4xx/5xx. */
async function api(address: string, method: string, path: string, body?: unknown): Promise<ApiReply> {
  const r = await fetch(`http://${address}${path}`, {
    method,
    signal: AbortSignal.timeout(10_000),
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  })
  const json = (await r.json()) as ApiReply
  if (!r.ok) throw new Error(json.errors?.[0]?.title ?? `HTTP ${r.status}`)
  return json
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

class Instance {
  child: ChildProcess | null = null
  /** How the process ended (local ones): `code 1`, `signal SIGKILL`. */
  exited: string | null = null
  exitCode: number | null = null
  end: InstanceEnd | null = null
  /** Why it failed, once it has. */
  failure: string | null = null
  /** The last lines it wrote to stderr (told when it fails). */
  readonly tail: string[] = []
  constructor(
    readonly index: number,
    readonly of: number,
    readonly segment: string,
    readonly address: string,
  ) {}
  get name(): string {
    return `instance ${this.index + 1}/${this.of} (segment ${this.segment})`
  }
}

/** The Instances a coordinating Runner drives (see the file's comment). */
export function coordinated(runner: Runner, o: CoordinateOptions): Instances {
  const sequence = o.sequence ?? evenSequence(o.instances)
  const segments = segmentsOf(sequence)
  const merge = new SampleMerge(runner, o.instances)
  let list: Instance[] = []
  let stopped = false
  /** The exit code of the first instance that ended with one before the others were stopped (test.abort(): 108). */
  let firstCode: number = EXIT.ok
  let ticker: NodeJS.Timeout | null = null

  const failed = (): Instance | undefined => list.find((x) => x.failure)
  /** Stops every instance still running (an abort, Ctrl-C, one failed); they still send their samples. */
  const stopAll = (): void => {
    if (stopped) return
    stopped = true
    for (const x of list) if (!x.end && !x.exited) void api(x.address, 'PATCH', '/v1/status', status({ stopped: true })).catch(() => {})
  }

  const spawnLocal = (x: Instance): void => {
    const args = ['run', '--instance', '--address', x.address, '--execution-segment', x.segment]
    args.push('--execution-segment-sequence', sequence, ...o.args)
    // K6_OUT and K6_SUMMARY_EXPORT are the coordinator's: one set of outputs, from the merged samples.
    const { K6_OUT: _o, K6_SUMMARY_EXPORT: _s, K6_PAUSED: _p, ...env } = process.env
    const child = spawn(process.execPath, [kilnBin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    x.child = child
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream! }).on('line', (line) => {
        x.tail.push(line)
        if (x.tail.length > 5) x.tail.shift()
        o.err(`[${x.index + 1}] ${line}\n`)
      })
    }
    child.on('exit', (code, signal) => {
      x.exited = signal ? `signal ${signal}` : `code ${code}`
      x.exitCode = code
      if (!x.end && !x.failure) x.failure = `${x.name} exited (${x.exited}) before it had sent all its samples`
    })
  }

  /** Waits for the instance's "paused before run"; fails when it exits first or takes too long. */
  const ready = async (x: Instance): Promise<void> => {
    const deadline = Date.now() + (o.readyTimeoutMs ?? 300_000)
    let last = ''
    for (;;) {
      if (x.exited) {
        const code = x.exitCode && x.exitCode !== 1 ? x.exitCode : EXIT.panic
        throw new InstanceError(
          `${x.name} exited (${x.exited}) before it was ready${x.tail.length ? `:\n  ${x.tail.join('\n  ')}` : ''}`,
          code,
        )
      }
      try {
        const s = await api(x.address, 'GET', '/v1/status')
        if (s.data?.attributes?.status === STATUS.pausedBeforeRun) return
        last = `its status is ${s.data?.attributes?.status}`
      } catch (e) {
        last = (e as Error).message
      }
      if (Date.now() > deadline)
        throw new InstanceError(
          `${x.name} at ${x.address} was not ready (paused before the run) after ${Math.round((o.readyTimeoutMs ?? 300_000) / 1000)} s (${last}): check that it runs 'kiln run --instance --address ${x.address}' and can be reached`,
        )
      await sleep(100)
    }
  }

  /** Reads the instance's samples into the merge until its End line; resolves when the stream closes. */
  const readSamples = (x: Instance): Promise<void> =>
    new Promise((resolve) => {
      const req = http.get(`http://${x.address}/v1/samples`, (res) => {
        if (res.statusCode !== 200) {
          x.failure = `${x.name} refused its samples (HTTP ${res.statusCode}): is another coordinator reading them?`
          res.resume()
          return resolve()
        }
        res.setEncoding('utf8')
        const lines = createInterface({ input: res })
        lines.on('line', (line) => {
          try {
            const end = merge.line(x.index, line)
            if (end) {
              x.end = end
              if (end.exitCode !== EXIT.ok && !stopped && firstCode === EXIT.ok) firstCode = end.exitCode
            }
          } catch (e) {
            x.failure ??= (e as Error).message
          }
        })
        // A connection reset (the instance died) is an error of the response, which readline forwards
        // and after which it may not close: the response's own 'close' ends the reading in any case.
        let closed = false
        const done = (): void => {
          if (closed) return
          closed = true
          if (!x.end) x.failure ??= `${x.name} stopped sending samples before its end (the process died or the connection broke)`
          resolve()
        }
        lines.on('error', done)
        lines.on('close', done)
        res.on('close', () => setImmediate(done))
      })
      req.on('error', (e) => {
        x.failure ??= `${x.name}: its samples cannot be read from ${x.address} (${e.message})`
        resolve()
      })
    })

  return {
    async start() {
      const addresses = o.connect.length ? o.connect : (await freePorts(o.instances)).map((p) => `127.0.0.1:${p}`)
      list = segments.map((seg, i) => new Instance(i, o.instances, seg, addresses[i]!))
      if (!o.connect.length) for (const x of list) spawnLocal(x)
      if (!o.quiet) for (const x of list) o.err(`${x.name}: ${x.child ? `pid ${x.child.pid}, ` : ''}REST API ${x.address}\n`)
      await Promise.all(list.map(ready))
    },

    async run(setupJson) {
      if (setupJson) await Promise.all(list.map((x) => api(x.address, 'PUT', '/v1/setup', JSON.parse(setupJson))))
      // An instance keeps its samples until its reader connects (--instance), so the order does not matter.
      const reading = list.map(readSamples)
      await Promise.all(list.map((x) => api(x.address, 'PATCH', '/v1/status', status({ paused: false }))))
      if (!o.quiet) o.err(`started ${list.length} instances together\n`)
      let ticks = 0
      ticker = setInterval(() => {
        ticks++
        // An instance that failed or ended early (test.abort(), an error) ends the others; so do Ctrl-C and abortOnFail.
        if (failed() || firstCode !== EXIT.ok || runner.stopped) stopAll()
        if (ticks % 4 === 0 && runner.thresholds.length && !runner.stopped) {
          const abort = evaluate(runner.thresholds, runner.elapsedMs, false)
          if (abort.length) {
            o.err(
              `thresholds on metrics '${[...new Set(abort.map((t) => t.metric))].join("', '")}' were crossed over the merged samples; at least one has abortOnFail enabled, stopping every instance\n`,
            )
            runner.stop(EXIT.thresholds)
          }
        }
      }, 500)
      await Promise.all(reading)
      clearInterval(ticker)
      const bad = failed()
      if (bad) {
        stopAll()
        // Its stream broke as it died: its exit says more than the broken stream (2 s for the exit to be seen).
        if (bad.child && !bad.exited) await Promise.race([sleep(2000), new Promise((r) => bad.child!.once('exit', r))])
        if (bad.exited) bad.failure = `${bad.name} exited (${bad.exited}) before it had sent all its samples`
        o.err(
          `ERRO ${bad.failure}: its share of the test is missing, so the run fails (exit ${EXIT.panic})${bad.tail.length ? `; its last lines:\n  ${bad.tail.join('\n  ')}` : ''}\n`,
        )
      }
      return {
        durationMs: Math.max(0, ...list.map((x) => x.end?.durationMs ?? 0)),
        code: bad ? EXIT.panic : firstCode,
      }
    },

    async close() {
      if (ticker) clearInterval(ticker)
      // One that sent its end is exiting: 10 s to do so; the others' work is abandoned (a failure).
      await Promise.all(
        list
          .filter((x) => x.child && !x.exited)
          .map(
            (x) =>
              new Promise((r) => {
                const kill = setTimeout(() => x.child!.kill('SIGKILL'), x.end ? 10_000 : 0)
                x.child!.once('exit', () => r(clearTimeout(kill)))
              }),
          ),
      )
    },
  }
}

const status = (attributes: Record<string, unknown>) => ({ data: { type: 'status', id: 'default', attributes } })
