import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { spec } from '../../src/cli/agent.ts'
import { parseCommand } from '../../src/cli/args.ts'
import { parseRelabelConfig } from '../../src/agent/relabel.ts'
import { bin, work } from './helpers.ts'

const deploy = join(import.meta.dirname, '..', '..', 'deploy')

test('the DaemonSet runs the agent privileged in the host PID namespace, with the mounts and node name it needs', () => {
  const docs = parseAllDocuments(readFileSync(join(deploy, 'kustomize', 'base', 'agent.yaml'), 'utf8')).map((d) => d.toJS())
  const kind = (k: string) => docs.find((d) => d?.kind === k)
  const ds = kind('DaemonSet')
  const pod = ds.spec.template.spec
  assert.equal(pod.hostPID, true)
  assert.deepEqual(ds.spec.selector.matchLabels, ds.spec.template.metadata.labels)
  const c = pod.containers[0]
  assert.equal(c.securityContext.privileged, true)
  const env = Object.fromEntries(c.env.map((e: { name: string }) => [e.name, e]))
  assert.equal(env.NODE_NAME.valueFrom.fieldRef.fieldPath, 'spec.nodeName')
  const volumes = Object.fromEntries(pod.volumes.map((v: { name: string }) => [v.name, v]))
  const mounts = Object.fromEntries(c.volumeMounts.map((m: { name: string; mountPath: string }) => [m.mountPath, volumes[m.name]]))
  assert.equal(mounts['/sys/kernel/debug'].hostPath.path, '/sys/kernel/debug')
  assert.equal(mounts['/sys/kernel/tracing'].hostPath.path, '/sys/kernel/tracing')
  assert.equal(mounts['/var/log'].hostPath.path, '/var/log')
  // Its arguments are ones `kiln agent` accepts, and its relabel rules parse.
  assert.equal(c.args[0], 'agent')
  const parsed = parseCommand(spec, c.args.slice(1))!
  assert.equal(parsed.values['node'], '$(NODE_NAME)')
  const cm = kind('ConfigMap')
  assert.equal(mounts['/etc/kiln'].configMap.name, cm.metadata.name)
  assert.ok(parseRelabelConfig(cm.data['relabel.yaml']).length > 0)
  assert.equal(parsed.values['relabel-config'], '/etc/kiln/relabel.yaml')
})

test('the DaemonSet traces requests: --trace, hostPID, privileged, tracefs, BTF, bpffs and a build cache on the host; the image has the build tools', () => {
  const docs = parseAllDocuments(readFileSync(join(deploy, 'kustomize', 'base', 'agent.yaml'), 'utf8')).map((d) => d.toJS())
  const pod = docs.find((d) => d?.kind === 'DaemonSet').spec.template.spec
  const c = pod.containers[0]
  const parsed = parseCommand(spec, c.args.slice(1))!
  assert.equal(parsed.values['trace'], true)
  assert.equal(pod.hostPID, true, 'pids from BPF must be the host pids /proc shows')
  assert.equal(c.securityContext.privileged, true, 'loading BPF programs needs CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN')
  const volumes = Object.fromEntries(pod.volumes.map((v: { name: string }) => [v.name, v]))
  const mounts = Object.fromEntries(c.volumeMounts.map((m: { name: string; mountPath: string }) => [m.mountPath, volumes[m.name]]))
  assert.equal(mounts['/sys/kernel/tracing'].hostPath.path, '/sys/kernel/tracing')
  assert.equal(mounts['/sys/kernel/btf'].hostPath.path, '/sys/kernel/btf')
  assert.equal(mounts['/sys/fs/bpf'].hostPath.path, '/sys/fs/bpf')
  // The loader is built into /var/cache/kiln/capture (build.ts's default as root), kept on the host.
  assert.equal(mounts['/var/cache/kiln'].hostPath.path, '/var/cache/kiln')
  const image = readFileSync(join(deploy, 'Dockerfile.agent'), 'utf8')
  for (const pkg of ['clang', 'libbpf-dev', 'bpftool', 'libelf-dev', 'gcc'])
    assert.match(image, new RegExp(`\\b${pkg}\\b`), `Dockerfile.agent does not install ${pkg}`)
})

test('the systemd unit passes systemd-analyze verify and starts kiln agent with options it accepts', () => {
  const unit = readFileSync(join(deploy, 'kiln-agent.service'), 'utf8')
  const exec = /^ExecStart=(.*)$/m.exec(unit)![1]!.split(/\s+/)
  assert.equal(exec[1], 'agent')
  const args = exec
    .slice(2)
    .flatMap((a) => (a === '$KILN_AGENT_ARGS' ? ['--upload-interval', '15s'] : [a.replace('${KILN_SERVER}', 'http://h:4040')]))
  assert.equal(parseCommand(spec, args)!.values['server'], 'http://h:4040')
  const verify = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' })
  if (verify.error) return console.log('# systemd-analyze is not installed: the unit file was only read')
  // Verified with the kiln binary of this checkout where the unit expects the installed one.
  const local = join(work, 'kiln-agent.service')
  writeFileSync(local, unit.replace('/usr/local/bin/kiln', bin))
  const r = spawnSync('systemd-analyze', ['verify', local], { encoding: 'utf8' })
  assert.equal(r.stderr.trim(), '', r.stderr)
  assert.equal(r.status, 0)
})
