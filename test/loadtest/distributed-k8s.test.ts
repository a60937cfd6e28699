/**
 * deploy/kustomize/overlays/loadtest-distributed as kubectl renders it: the instance pods' shell
 * line run for real gives each its segment and REST API, and the coordinator connects to exactly
 * the names the Indexed Job and the headless Service give those pods.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { parseCommand } from '../../src/cli/args.ts'
import { spec as runSpec } from '../../src/cli/run.ts'

const overlay = join(import.meta.dirname, '..', '..', 'deploy', 'kustomize', 'overlays', 'loadtest-distributed')
const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' })
const noKubectl = kubectl.error ? 'kubectl is not installed (Debian: apt-get install kubernetes-client)' : false

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered Kubernetes objects are plain JSON */
type K8sObject = { kind: string; metadata: { name: string }; [k: string]: any }

test('the distributed overlay: instances get their segments, the coordinator connects to their pods', { skip: noKubectl }, () => {
  const r = spawnSync('kubectl', ['kustomize', overlay], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  const objs = parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as K8sObject)
    .filter(Boolean)
  const get = (kind: string, name: string): K8sObject => {
    const o = objs.find((x) => x.kind === kind && x.metadata.name === name)
    assert.ok(o, `no ${kind} ${name}`)
    return o
  }
  const jobs = get('Job', 'kiln-loadtest-instances')
  const svc = get('Service', 'kiln-loadtest-instances')
  const coord = get('Job', 'kiln-loadtest-coordinator')
  const server = get('Service', 'kiln')
  const n: number = jobs.spec.completions
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
    const out = spawnSync(c.command[0], [c.command[1], line.replace(kilnCall[0], "printf '%s\\n'")], {
      encoding: 'utf8',
      env: { JOB_COMPLETION_INDEX: String(i), PATH: process.env.PATH },
    })
    const argv = out.stdout.trim().split('\n')
    assert.equal(argv[0], 'run')
    return parseCommand(runSpec, argv.slice(1))!
  })
  const segments = instances.map((p) => p.values['execution-segment'])
  assert.deepEqual(segments, ['0/3:1/3', '1/3:2/3', '2/3:3/3'])
  for (const p of instances) {
    assert.equal(p.values.instance, true)
    assert.equal(p.values['execution-segment-sequence'], '0,1/3,2/3,1')
  }
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
  assert.deepEqual(p.values.out, [`kiln=http://${server.metadata.name}:${server.spec.ports[0].port}`])
  assert.deepEqual(p.positionals, instances[0]!.positionals, 'the same script')
  // The instances and the coordinator read the same script from the same ConfigMap.
  const cm = (job: K8sObject) => job.spec.template.spec.volumes.find((v: any) => v.configMap).configMap.name
  assert.equal(cm(coord), cm(jobs))
  assert.ok(get('ConfigMap', cm(jobs)).data['script.js'].includes('export default function'))
})
