/**
 * deploy/kustomize/overlays/loadtest-distributed as kubectl renders it, and what
 * `kiln run --instances N --k8s` prints: the instance pods' shell line run for real gives each its
 * segment and REST API, and the coordinator connects to exactly the names the Indexed Job and the
 * headless Service give those pods.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { parseCommand, type Parsed } from '../../src/cli/args.ts'
import { spec as runSpec } from '../../src/cli/run.ts'
import { evenSequence } from '../../src/loadtest/run/coordinator.ts'
import { kilnRun } from './helpers.ts'

const overlay = join(import.meta.dirname, '..', '..', 'deploy', 'kustomize', 'overlays', 'loadtest-distributed')
/** The starter script both load-test overlays run (a kustomization of its own). */
const scriptDir = join(import.meta.dirname, '..', '..', 'deploy', 'kustomize', 'loadtest-script')
const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' })
const noKubectl = kubectl.error ? 'kubectl is not installed (Debian: apt-get install kubernetes-client)' : false

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered Kubernetes objects are plain JSON */
type K8sObject = { kind: string; metadata: { name: string }; [k: string]: any }

/** Checks a coordinated run's objects; returns each instance's parsed arguments. */
function check(objs: K8sObject[], n: number, out: string): Parsed[] {
  const get = (kind: string, name: string): K8sObject => {
    const o = objs.find((x) => x.kind === kind && x.metadata.name === name)
    assert.ok(o, `no ${kind} ${name}`)
    return o
  }
  const jobs = get('Job', 'kiln-loadtest-instances')
  const svc = get('Service', 'kiln-loadtest-instances')
  const coord = get('Job', 'kiln-loadtest-coordinator')
  assert.equal(jobs.spec.completions, n)
  assert.equal(jobs.spec.completionMode, 'Indexed')
  assert.equal(jobs.spec.parallelism, n, 'every instance runs at once')
  // Pod i of an Indexed Job is named JOB-i; with the Service as subdomain it resolves as JOB-i.SERVICE.
  assert.equal(jobs.spec.template.spec.subdomain, svc.metadata.name)
  assert.equal(svc.spec.clusterIP, 'None')
  assert.equal(svc.spec.selector['job-name'], jobs.metadata.name)

  const c = jobs.spec.template.spec.containers[0]
  const line: string = c.args[0]
  const kilnCall = /exec node (\S+kiln\.js)/.exec(line)
  assert.ok(kilnCall, line)
  const instances = Array.from({ length: n }, (_, i) => {
    // The shell line for real, with `exec node …kiln.js` swapped for printf: the arguments kiln would get.
    const r = spawnSync(c.command[0], [c.command[1], line.replace(kilnCall[0], "printf '%s\\n'")], {
      encoding: 'utf8',
      env: { JOB_COMPLETION_INDEX: String(i), PATH: process.env.PATH },
    })
    const argv = r.stdout.trim().split('\n')
    assert.equal(argv[0], 'run')
    const p = parseCommand(runSpec, argv.slice(1))!
    assert.equal(p.values['execution-segment'], `${i}/${n}:${i + 1}/${n}`)
    assert.equal(p.values['execution-segment-sequence'], evenSequence(n))
    assert.equal(p.values.instance, true)
    return p
  })
  const port = Number(/:(\d+)$/.exec(instances[0]!.values.address as string)![1])
  assert.equal(svc.spec.ports[0].port, port)

  const args: string[] = coord.spec.template.spec.containers[0].args
  assert.equal(args[0], 'run')
  const p = parseCommand(runSpec, args.slice(1))!
  assert.equal(Number(p.values.instances), n)
  const want = Array.from({ length: n }, (_, i) => `${jobs.metadata.name}-${i}.${svc.metadata.name}:${port}`)
  assert.deepEqual(
    (p.values.connect as string[]).flatMap((x) => x.split(',')),
    want,
  )
  assert.deepEqual(p.values.out, [out])
  assert.deepEqual(p.positionals, instances[0]!.positionals, 'the same script')
  // The instances and the coordinator read the same script from the same ConfigMap.
  const cm = (job: K8sObject) => job.spec.template.spec.volumes.find((v: any) => v.configMap).configMap.name
  assert.equal(cm(coord), cm(jobs))
  const mount = jobs.spec.template.spec.containers[0].volumeMounts[0].mountPath
  const file = (p.positionals[0] as string).slice(mount.length + 1)
  assert.ok(get('ConfigMap', cm(jobs)).data[file].includes('export default function'))
  return instances
}

const yamlObjects = (text: string): K8sObject[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject)
    .filter(Boolean)

test('the distributed overlay: instances get their segments, the coordinator connects to their pods', { skip: noKubectl }, () => {
  const r = spawnSync('kubectl', ['kustomize', overlay], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  const objs = yamlObjects(r.stdout)
  const server = objs.find((o) => o.kind === 'Service' && o.metadata.name === 'kiln')!
  check(objs, 3, `kiln=http://${server.metadata.name}:${server.spec.ports[0].port}`)
})

test('kiln run --instances N --k8s prints the same shape for N instances, this script and these flags', async () => {
  const r = await kilnRun(
    ['run', '--instances', '4', '--k8s', '-o', 'kiln=http://kiln:4040', '-e', "GREETING=it's here", '-u', '8', 'script.js'],
    {
      cwd: scriptDir,
    },
  )
  assert.equal(r.code, 0, r.stderr)
  const objs = yamlObjects(r.stdout)
  const instances = check(objs, 4, 'kiln=http://kiln:4040')
  for (const p of instances) {
    assert.deepEqual(p.values.env, ["GREETING=it's here"], 'flags reach the instances through the shell as given')
    assert.equal(p.values.vus, '8')
    assert.equal(p.values.out, undefined, "outputs are the coordinator's")
  }
  const bad = await kilnRun(['run', '--k8s', 'script.js'], { cwd: scriptDir })
  assert.equal(bad.code, 104)
  assert.match(bad.stderr, /give --instances N/)
})
