import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createSocket } from 'node:dgram'
import { readlinkSync } from 'node:fs'
import { ProcessMeta } from '../../../src/trace/sources/index.ts'
import { NetworkStatsSource, parseNetDev, podCounters } from '../../../src/trace/sources/network-stats.ts'
import { collect, isRoot, run, startChild, waitFor } from './helpers.ts'

const SAMPLE = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  123456     789    0    0    0     0          0         0   123456     789    0    0    0     0       0          0
  eth0: 9000000000000   12345    1    2    0     0          0         3  4000   50    4    5    0     0       0          0
veth1a2b: 100 1 0 0 0 0 0 0 200 2 0 0 0 0 0 0
  eth1: 10 1 0 0 0 0 0 0 20 2 0 0 0 0 0 0
`

test('/proc/net/dev parsing: every counter in its column, pods summed without v*, docker*, lo*', () => {
  const devs = parseNetDev(SAMPLE)
  assert.deepEqual([...devs.keys()], ['lo', 'eth0', 'veth1a2b', 'eth1'])
  const eth0 = devs.get('eth0')!
  assert.deepEqual(
    [eth0.rx_bytes, eth0.rx_packets, eth0.rx_errors, eth0.rx_drops, eth0.tx_bytes, eth0.tx_packets, eth0.tx_errors, eth0.tx_drops],
    [9000000000000n, 12345n, 1n, 2n, 4000n, 50n, 4n, 5n],
  )
  const pod = podCounters(devs)!
  assert.equal(pod.rx_bytes, 9000000000010n)
  assert.equal(pod.tx_packets, 52n)
  assert.equal(podCounters(parseNetDev(SAMPLE.split('\n').slice(0, 3).join('\n'))), undefined, 'a namespace with only lo is no pod')
})

// A network namespace with a veth pair to the host, as a container runtime makes one: datagrams
// sent from the host must show on the host end (tx) and on the namespace's eth0 (rx).
test('network_stats: host interfaces by name, and a network namespace summed over its eth0', {
  skip: isRoot ? false : 'needs root (veth pair, other namespaces)',
}, async (t) => {
  const holder = await startChild('unshare', ['--net', 'sh', '-c', 'echo ready; exec sleep 60'])
  const pid = holder.pid!
  const host = `kv${process.pid % 100000}`
  t.after(() => {
    holder.kill('SIGKILL')
    try {
      run('ip', ['link', 'del', host])
    } catch {
      // gone with the namespace
    }
  })
  await waitFor('the namespace', () => readlinkSync(`/proc/${pid}/ns/net`) !== readlinkSync('/proc/self/ns/net'))
  const inode = /\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/net`))![1]
  // A /30 from 198.18.0.0/15, the range set aside for benchmarks (RFC 2544): no clash with real routes.
  const net = (100 + (process.pid % 100)).toString()
  run('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', String(pid)])
  run('ip', ['addr', 'add', `198.18.${net}.1/30`, 'dev', host])
  run('ip', ['link', 'set', host, 'up'])
  run('nsenter', ['-t', String(pid), '-n', 'ip', 'addr', 'add', `198.18.${net}.2/30`, 'dev', 'eth0'])
  run('nsenter', ['-t', String(pid), '-n', 'ip', 'link', 'set', 'eth0', 'up'])
  run('nsenter', ['-t', String(pid), '-n', 'ip', 'link', 'set', 'lo', 'up'])

  const source = new NetworkStatsSource({ meta: new ProcessMeta({ node: 'n', asid: 1 }), intervalMs: 60_000 })
  const before = source.read()
  const podBefore = before.find((r) => r.pod_id === `netns:${inode}`)
  const hostBefore = before.find((r) => r.pod_id === host)
  assert.ok(hostBefore, `a row for ${host}: ${before.map((r) => r.pod_id).join(' ')}`)
  assert.ok(podBefore, `a row for netns:${inode}: ${before.map((r) => r.pod_id).join(' ')}`)
  assert.ok(
    before.some((r) => r.pod_id === 'lo'),
    'the host loopback has its own row',
  )

  const sock = createSocket('udp4')
  const N = 50
  const SIZE = 1000
  for (let i = 0; i < N; i++) await new Promise<void>((r) => sock.send(Buffer.alloc(SIZE), 9, `198.18.${net}.2`, () => r()))
  sock.close()

  const got = await collect(source)
  const rows = await waitFor('the datagrams in the counters', () => {
    const rows = source.read()
    const pod = rows.find((r) => r.pod_id === `netns:${inode}`)!
    return Number(pod.rx_packets) - Number(podBefore.rx_packets) >= N ? rows : undefined
  })
  const pod = rows.find((r) => r.pod_id === `netns:${inode}`)!
  const hostRow = rows.find((r) => r.pod_id === host)!
  // Each datagram is 1000 bytes + 8 UDP + 20 IP + 14 Ethernet; ARP adds a few packets on top.
  assert.ok(Number(pod.rx_bytes) - Number(podBefore.rx_bytes) >= N * (SIZE + 42), `rx ${pod.rx_bytes} - ${podBefore.rx_bytes}`)
  assert.ok(Number(hostRow.tx_packets) - Number(hostBefore.tx_packets) >= N)
  assert.ok(Number(hostRow.tx_bytes) - Number(hostBefore.tx_bytes) >= N * (SIZE + 42))
  assert.match(String(pod.time_), /^\d{19}$/)
  assert.ok(
    (got.get('network_stats') ?? []).some((r) => r.pod_id === `netns:${inode}`),
    'start() emitted a first reading',
  )
  const n = got.get('network_stats')!.length
  await source.stop()
  assert.ok(got.get('network_stats')!.length > n, 'stop() emitted a last reading')
  assert.ok(source.stats().namespaces! >= 1)
})
