import { test } from 'node:test'
import assert from 'node:assert/strict'
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cgroupOf, parseCgroupPath, PodDirectory, processLabels } from '../../src/agent/process.ts'
import { ingestName, splitByPid } from '../../src/agent/agent.ts'
import { PerfMaps } from '../../src/agent/perf-map.ts'
import { foldBpftraceMap } from '../../src/agent/bpftrace-sampler.ts'
import { mutator } from './helpers.ts'
import { parseAppName } from '../../src/model/labels.ts'

const ID = 'a3f1c0de9b8e7d6c5b4a39281706f5e4d3c2b1a0918273645546372819aabbcc'
const UID = '7c9d2e11-5a3b-4f6e-9d8c-0b1a2c3d4e5f'

test('cgroup paths of the common runtimes give the container id and the pod UID', () => {
  const cases: [string, { containerId?: string; podUid?: string }][] = [
    // kubelet with the systemd driver and containerd (cgroup v2)
    [
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replaceAll('-', '_')}.slice/cri-containerd-${ID}.scope`,
      { containerId: ID, podUid: UID },
    ],
    // kubelet with the cgroupfs driver
    [`/kubepods/besteffort/pod${UID}/${ID}`, { containerId: ID, podUid: UID }],
    // CRI-O, seen from inside the agent's own cgroup namespace
    [`/../../kubepods-pod${UID.replaceAll('-', '_')}.slice/crio-${ID}.scope`, { containerId: ID, podUid: UID }],
    // Docker without Kubernetes
    [`/system.slice/docker-${ID}.scope`, { containerId: ID }],
    [`/docker/${ID}`, { containerId: ID }],
    // not a container
    ['/user.slice/user-1000.slice/session-2.scope', {}],
    ['/', {}],
    [`/system.slice/x-${ID}1.scope`, {}],
  ]
  for (const [path, want] of cases) assert.deepEqual(parseCgroupPath(path), want, path)
})

test('the cgroup is the v2 line, else the v1 systemd line', () => {
  assert.equal(cgroupOf('0::/system.slice/ssh.service\n'), '/system.slice/ssh.service')
  assert.equal(cgroupOf('12:cpu,cpuacct:/docker/x\n1:name=systemd:/docker/y\n'), '/docker/y')
  assert.equal(cgroupOf(''), undefined)
  assert.equal(cgroupOf('0::\n'), undefined)
})

test("Kubernetes names come from the kubelet's log links: container id first, pod UID as fallback", () => {
  const root = mkdtempSync(join(tmpdir(), 'kiln-agent-logs-'))
  try {
    mkdirSync(join(root, 'containers'))
    mkdirSync(join(root, 'pods'))
    writeFileSync(join(root, 'containers', `checkout-7d9f8-x2k4q_shop_api-server-${ID}.log`), '')
    writeFileSync(join(root, 'containers', 'not-a-link.txt'), '')
    mkdirSync(join(root, 'pods', `shop_checkout-7d9f8-x2k4q_${UID}`))
    const pods = new PodDirectory(root)
    assert.deepEqual(pods.lookup({ containerId: ID, podUid: UID }), {
      namespace: 'shop',
      pod: 'checkout-7d9f8-x2k4q',
      container: 'api-server',
    })
    assert.deepEqual(pods.lookup({ containerId: 'f'.repeat(64), podUid: UID }), { namespace: 'shop', pod: 'checkout-7d9f8-x2k4q' })
    assert.deepEqual(pods.lookup({ containerId: 'f'.repeat(64) }), {})
    assert.deepEqual(pods.lookup({}), {})
    assert.deepEqual(new PodDirectory(join(root, 'nowhere')).lookup({ containerId: ID }), {})
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})

test('processLabels reads this very process from /proc', () => {
  const l = processLabels(process.pid, new PodDirectory('/nonexistent'), 'fallback')
  assert.equal(l.get('pid'), String(process.pid))
  assert.equal(l.get('comm'), readFileSync('/proc/self/comm', 'utf8').trim())
  assert.equal(l.get('exe'), process.execPath)
  assert.equal(l.get('__meta_process_ppid'), String(process.ppid))
  assert.ok(l.get('__meta_process_cmdline')!.includes(process.argv[1]!.split('/').pop()!))
  assert.equal(l.get('cgroup'), cgroupOf(readFileSync('/proc/self/cgroup', 'utf8')))
  // A process that is gone keeps its pid and perf's comm.
  const gone = processLabels(2 ** 22 + 1, new PodDirectory('/nonexistent'), 'perf-comm')
  assert.deepEqual(
    [...gone],
    [
      ['pid', String(2 ** 22 + 1)],
      ['comm', 'perf-comm'],
    ],
  )
})

test('splitByPid turns comm-PID roots into one profile per process and leaves out the idle task', () => {
  const out = splitByPid([
    ['my-app-12;main;work', 3],
    ['my-app-12;main', 1],
    ['swapper-0;cpu_startup_entry', 50],
    ['sh-7', 2],
    ['no_pid_here', 1],
  ])
  assert.deepEqual([...out.keys()], [12, 7])
  assert.deepEqual(out.get(12), { comm: 'my-app', samples: 4, folded: 'main;work 3\nmain 1\n' })
  assert.deepEqual(out.get(7), { comm: 'sh', samples: 2, folded: 'sh 2\n' })
})

test('ingestName writes labels the ingest name parser reads back, whatever the values hold', () => {
  const labels = new Map([
    ['pid', '9'],
    ['comm', 'kworker/0:1 {x}'],
    ['cgroup', '/a,b}/c'],
    ['__meta_process_cmdline', 'secret'],
  ])
  const { app, labels: parsed } = parseAppName(ingestName(labels, 'k'))
  assert.equal(app, 'kworker/0:1__x_.cpu')
  assert.deepEqual(Object.fromEntries(parsed), { cgroup: '/a_b_/c', comm: 'kworker/0:1 _x_', pid: '9' })
  assert.equal(
    parseAppName(
      ingestName(
        new Map([
          ['service_name', 'db'],
          ['pid', '1'],
        ]),
        'x',
      ),
    ).app,
    'db.cpu',
  )
})

test('JIT names come from the perf map through the process root, re-read as the map grows', () => {
  const proc = mkdtempSync(join(tmpdir(), 'kiln-agent-proc-'))
  try {
    const tmp = join(proc, '4321', 'root', 'tmp')
    mkdirSync(tmp, { recursive: true })
    const map = join(tmp, 'perf-4321.map')
    writeFileSync(map, '7f0000001000 40 JS:*hot file.js:1:1\n7f0000000000 100 Builtin:Stub\n7f00000020')
    const maps = new PerfMaps(proc)
    assert.equal(maps.lookup(4321, 0x7f0000001000), 'JS:*hot file.js:1:1')
    assert.equal(maps.lookup(4321, 0x7f000000103f), 'JS:*hot file.js:1:1')
    assert.equal(maps.lookup(4321, 0x7f00000000ff), 'Builtin:Stub')
    assert.equal(maps.lookup(4321, 0x7f0000001040), undefined, 'past the end of the code')
    // Code compiled later is appended (here finishing a half-written line) and found on a miss.
    appendFileSync(map, '00 10 JS:~later file.js:9:1\n')
    assert.equal(maps.lookup(4321, 0x7f0000002008), 'JS:~later file.js:9:1')
    assert.equal(maps.lookup(999, 0x7f0000001000), undefined, 'no map for that process')
    maps.retain(new Set([999]))
    assert.equal(maps.lookup(4321, 0x7f0000001000), 'JS:*hot file.js:1:1', 're-read after being forgotten')
  } finally {
    rmSync(proc, { recursive: true, force: true })
  }
})

test('bpftrace map keys (pid, comm, kstack, ustack as -f json prints them) fold into per-process stacks', () => {
  const proc = mkdtempSync(join(tmpdir(), 'kiln-agent-proc-'))
  try {
    mkdirSync(join(proc, '2828', 'root', 'tmp'), { recursive: true })
    writeFileSync(join(proc, '2828', 'root', 'tmp', 'perf-2828.map'), '7f9014106a00 100 JS:*handler app.js:3:1\n')
    const map = {
      // user stack only, one JIT frame the map names and one it does not
      '2828,node,,\n    0x7f9014106add\n    0x1385e756996d\n    Builtins_JSEntry+131\n    main+12\n': 3,
      // kernel stack then user stack
      '2573,my, app,\n    tcp_sendmsg+43\n    do_syscall_64+113\n,\n    __writev+77\n    main+9\n': 2,
      // a kernel thread: no user stack
      '77,kworker/0:1,\n    worker_thread+30\n    kthread+200\n,': 1,
      // the idle task, and keys that are not this shape
      '0,swapper/0,\n    default_idle+4\n,': 50,
      nonsense: 4,
      '5,x,,': -1,
    }
    const { stacks, samples } = foldBpftraceMap(map, new PerfMaps(proc))
    assert.equal(samples, 6)
    assert.deepEqual(stacks.get(2828), { comm: 'node', samples: 3, folded: 'main;Builtins_JSEntry;[unknown];JS:*handler app.js:3:1 3\n' })
    assert.deepEqual(stacks.get(2573), { comm: 'my, app', samples: 2, folded: 'main;__writev;do_syscall_64;tcp_sendmsg 2\n' })
    assert.deepEqual(stacks.get(77), { comm: 'kworker/0:1', samples: 1, folded: 'kthread;worker_thread 1\n' })
    assert.deepEqual(
      [...stacks.keys()].sort((a, b) => a - b),
      [77, 2573, 2828],
    )
  } finally {
    rmSync(proc, { recursive: true, force: true })
  }
})

test('fuzz: mutated bpftrace keys and perf map files give stacks or nothing, never a crash or a hang', () => {
  const proc = mkdtempSync(join(tmpdir(), 'kiln-agent-proc-'))
  const { rand, mutate } = mutator(11, '0123456789abcdefx, \n+:;[]()_-', 8)
  try {
    const tmp = join(proc, '42', 'root', 'tmp')
    mkdirSync(tmp, { recursive: true })
    const mapSeed = '7f0000001000 40 JS:*hot file.js:1:1\n7f0000000000 100 Builtin:Stub\n'
    const keySeeds = [
      '42,node,,\n    0x7f0000001010\n    main+12\n',
      '42,my app,\n    tcp_sendmsg+43\n,\n    __writev+77\n    0x7f0000000010\n',
      '42,k,\n    kthread+2\n,',
    ]
    for (let i = 0; i < 2000; i++) {
      writeFileSync(join(tmp, 'perf-42.map'), mutate(mapSeed))
      const maps = new PerfMaps(proc)
      const key = mutate(keySeeds[i % keySeeds.length]!)
      // A long run of a repeated character as well: the key regex must stay linear.
      const long = `42,${'a,'.repeat(2000)}\n    f\n`.slice(0, 2 + rand(4000))
      const { stacks, samples } = foldBpftraceMap({ [key]: 1 + rand(5), [long]: 1 }, maps)
      let sum = 0
      for (const [pid, p] of stacks) {
        assert.ok(Number.isInteger(pid) && pid > 0)
        assert.match(p.folded, /^([^\n]*[^\n ][^\n]* \d+\n)+$/, 'no empty stacks')
        sum += p.samples
      }
      assert.equal(sum, samples)
      maps.lookup(42, rand(2 ** 47))
    }
  } finally {
    rmSync(proc, { recursive: true, force: true })
  }
})
