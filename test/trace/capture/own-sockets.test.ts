/** OwnSockets: the agent's own TCP ports, found from /proc, including sockets opened after the first look. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { spawn } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { OwnSockets } from '../../../src/trace/capture/own-sockets.ts'

const connect = (port: number) =>
  new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s)).on('error', reject)
  })

test("this process's connections are its own, another process's are not, and a connection opened later is found", async () => {
  const server = net.createServer((s) => s.on('error', () => undefined))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const port = (server.address() as net.AddressInfo).port
  // Another process's connection to the same server.
  const other = spawn(
    process.execPath,
    ['-e', `const s=require('net').connect(${port},'127.0.0.1',()=>console.log(s.localPort));setTimeout(()=>{},30000)`],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  const sockets: net.Socket[] = []
  try {
    const otherPort = Number(await new Promise<string>((r) => other.stdout.once('data', (d: Buffer) => r(d.toString().trim()))))
    sockets.push(await connect(port))
    const own = new OwnSockets()
    assert.equal(own.has('127.0.0.1', sockets[0]!.localPort!), true)
    await sleep(250)
    assert.equal(own.has('127.0.0.1', otherPort), false)
    assert.equal(own.has('10.1.2.3', sockets[0]!.localPort!), false, 'not a local address')
    // Opened after the first look: its socket is new, so the ports are read again.
    sockets.push(await connect(port))
    await sleep(250)
    assert.equal(own.has('127.0.0.1', sockets[1]!.localPort!), true)
    // The same sockets as at the last look: still not ours, without reading the ports again.
    await sleep(250)
    assert.equal(own.has('127.0.0.1', otherPort), false)
  } finally {
    for (const s of sockets) s.destroy()
    other.kill()
    server.close()
  }
})
