/**
 * WebSockets in `kiln run`: echo round trips per second on one socket, `k6/websockets` (events
 * through the VU's event loop) and `k6/ws` (each wait an asyncify suspension), against a plain
 * Node client of the same `ws` package, all against one echo server in this process.
 * Method: bench/README.md.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { WebSocketServer } from 'ws'
import { fmt, root } from './support.ts'

const N = Number(process.env.BENCH_MESSAGES ?? 5000)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
wss.on('connection', (s) => s.on('message', (d, binary) => s.send(d, { binary })))
await new Promise((r) => wss.once('listening', r))
const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`

const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-ws-'))
// Each side: N sequential echo round trips after the socket opened; prints RATE <round trips/s>.
writeFileSync(
  join(dir, 'node.mjs'),
  `import WebSocket from ${JSON.stringify(join(root, 'node_modules', 'ws', 'wrapper.mjs'))}
const w = new WebSocket(${JSON.stringify(url)}); let n = 0, t0
w.on('open', () => { t0 = performance.now(); w.send('x') })
w.on('message', () => { if (++n === ${N}) { console.log('RATE', ${N} / ((performance.now() - t0) / 1000)); w.close() } else w.send('x') })`,
)
writeFileSync(
  join(dir, 'websockets.js'),
  `import { WebSocket } from 'k6/websockets'
export const options = { iterations: 1 }
export default function () {
  let n = 0, t0
  const w = new WebSocket(${JSON.stringify(url)})
  w.onopen = () => { t0 = Date.now(); w.send('x') }
  w.onmessage = () => { if (++n === ${N}) { console.log('RATE', ${N} / ((Date.now() - t0) / 1000)); w.close() } else w.send('x') }
}`,
)
writeFileSync(
  join(dir, 'ws.js'),
  `import ws from 'k6/ws'
export const options = { iterations: 1 }
export default function () {
  let n = 0, t0
  ws.connect(${JSON.stringify(url)}, (s) => {
    s.on('open', () => { t0 = Date.now(); s.send('x') })
    s.on('message', () => { if (++n === ${N}) { console.log('RATE', ${N} / ((Date.now() - t0) / 1000)); s.close() } else s.send('x') })
  })
}`,
)

/** Runs a side as a child process (the server stays responsive in this one); returns its rate. */
function side(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (c: Buffer) => (out += c))
    p.stderr.on('data', (c: Buffer) => (out += c))
    p.on('close', () => {
      const m = /RATE (\d+(?:\.\d+)?)/.exec(out)
      if (m) resolve(Number(m[1]))
      else reject(new Error(`no rate from ${args.join(' ')}:\n${out}`))
    })
  })
}
const kiln = join(root, 'bin', 'kiln.js')
const sides: [string, string[]][] = [
  ['node ws client', ['node.mjs']],
  ['kiln k6/websockets', [kiln, 'run', '-q', 'websockets.js']],
  ['kiln k6/ws', [kiln, 'run', '-q', 'ws.js']],
]
const rates = new Map<string, number[]>(sides.map(([n]) => [n, []]))
for (let i = 0; i < rounds; i++) for (const [name, args] of sides) rates.get(name)!.push(await side(args))
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!
const peer = median(rates.get('node ws client')!)
console.log(`${N} echo round trips per run, ${rounds} rounds interleaved; load average ${loadavg()[0]!.toFixed(2)}`)
for (const [name] of sides) {
  const m = median(rates.get(name)!)
  console.log(
    `${name.padEnd(20)} median ${fmt(m, 0)} round trips/s  (${rates
      .get(name)!
      .map((r) => fmt(r, 0))
      .join(', ')})  ratio to node: ${fmt(m / peer, 2)}×`,
  )
}
for (const c of wss.clients) c.terminate()
wss.close()
