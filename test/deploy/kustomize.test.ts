/**
 * deploy/kustomize as kubectl renders it: every overlay renders, every object validates against
 * the Kubernetes API schemas (kubernetes-models), and the facts the manifests exist for hold —
 * checked against Kiln itself (its CLI options, the image's user and paths).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { parseCommand } from '../../src/cli/args.ts'
import { spec as serverSpec } from '../../src/cli/server.ts'
import { spec as runSpec } from '../../src/cli/run.ts'
import { spec as agentSpec } from '../../src/cli/agent.ts'
import { dockerfile, finalStage } from './dockerfile.ts'

const root = join(import.meta.dirname, '..', '..')
const kustomize = join(root, 'deploy', 'kustomize')
const DIRS = ['base', 'overlays/single-node', 'overlays/external-clickhouse', 'overlays/loadtest', 'overlays/loadtest-distributed']

// Debian's kubernetes-client (kubectl 1.20, kustomize 2) or any newer kubectl.
const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' })
const noKubectl = kubectl.error ? 'kubectl is not installed (Debian: apt-get install kubernetes-client)' : false
if (noKubectl) console.log(`# skipping: ${noKubectl}`)

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered Kubernetes objects are plain JSON */
type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: any }

function render(dir: string): K8sObject[] {
  const r = spawnSync('kubectl', ['kustomize', join(kustomize, dir)], { encoding: 'utf8' })
  assert.equal(r.status, 0, `kubectl kustomize ${dir}: ${r.stderr}`)
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS())
    .filter(Boolean)
}

/** Validates an object with the schema of its apiVersion and kind (kubernetes-models/GROUP/VERSION/Kind). */
async function validate(o: K8sObject): Promise<void> {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion]
  const path = `kubernetes-models/${group ? `${group}/` : ''}${version}/${o.kind}`
  const mod = await import(path).catch(() => assert.fail(`no Kubernetes schema for ${o.apiVersion} ${o.kind} (${path})`))
  const Model = mod[o.kind] ?? mod.default
  // kustomize folds long base64 values over lines; the API server's decoder skips the newlines
  // (Go's encoding/base64 does), the schema's "byte" format does not: compare them unfolded.
  const obj =
    o.kind === 'Secret' && o.data
      ? { ...o, data: Object.fromEntries(Object.entries(o.data).map(([k, v]) => [k, String(v).replace(/\s+/g, '')])) }
      : o
  assert.doesNotThrow(() => new Model(obj).validate(), `${o.kind}/${o.metadata.name} does not match the ${o.apiVersion} schema`)
}

const find = (objs: K8sObject[], kind: string, name?: string): K8sObject => {
  const o = objs.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name))
  assert.ok(o, `no ${kind}${name ? ` ${name}` : ''} in ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`)
  return o
}
const envOf = (c: any): Record<string, any> => Object.fromEntries((c.env ?? []).map((e: any) => [e.name, e]))

test('every kustomization renders, and every object validates against the Kubernetes API schemas', { skip: noKubectl }, async () => {
  for (const dir of DIRS) {
    const objs = render(dir)
    assert.ok(objs.length >= 5, `${dir} renders ${objs.length} objects`)
    for (const o of objs) {
      await validate(o)
      if (o.kind !== 'Namespace') assert.equal(o.metadata.namespace, 'kiln', `${o.kind}/${o.metadata.name} in namespace kiln`)
    }
  }
  // A broken object is caught: the check can fail.
  const bad = { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'x' }, spec: { replicas: 'three' } }
  await assert.rejects(validate(bad))
})

test('base: the server keeps its data on a volume, as the image user, with resources, /ready probes and an optional ClickHouse URL', {
  skip: noKubectl,
}, () => {
  const objs = render('base')
  const sts = find(objs, 'StatefulSet', 'kiln')
  const pod = sts.spec.template.spec
  const c = pod.containers[0]
  // Its arguments are ones `kiln server` accepts.
  assert.equal(c.args[0], 'server')
  assert.ok(parseCommand(serverSpec, c.args.slice(1)))
  // The data directory is on the claimed volume.
  const env = envOf(c)
  const mount = c.volumeMounts.find((m: any) => m.name === 'data')
  assert.ok(env.KILN_DATA_DIR.value.startsWith(mount.mountPath + '/'), 'KILN_DATA_DIR lies on the data volume')
  assert.equal(sts.spec.volumeClaimTemplates[0].metadata.name, 'data')
  assert.match(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage, /^\d+Gi$/)
  // The external ClickHouse URL is optional: the pod starts without the Secret.
  assert.deepEqual(env.KILN_CLICKHOUSE_URL.valueFrom.secretKeyRef, { name: 'kiln-clickhouse', key: 'url', optional: true })
  assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory)
  assert.equal(c.readinessProbe.httpGet.path, '/ready')
  // The pod runs as the user the image was built with, and the volume is made theirs.
  const image = finalStage(dockerfile('Dockerfile'))
  assert.equal(pod.securityContext.runAsNonRoot, true)
  assert.equal(String(pod.securityContext.runAsUser), image.user.split(':')[0])
  assert.equal(String(pod.securityContext.fsGroup), image.user.split(':')[1])
  assert.equal(mount.mountPath, image.volumes[0], 'the pod mounts its volume where the image declares it')
  // The Service reaches these pods on the port the server listens on.
  const svc = find(objs, 'Service', 'kiln')
  for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(sts.spec.template.metadata.labels[k], v)
  assert.equal(svc.spec.ports[0].port, Number(serverSpec.options.port!.default))
  // The agent on every node sends to that Service.
  const ds = find(objs, 'DaemonSet', 'kiln-agent')
  const agent = ds.spec.template.spec.containers[0]
  assert.equal(agent.args[0], 'agent')
  assert.ok(parseCommand(agentSpec, agent.args.slice(1)))
  assert.equal(
    envOf(agent).KILN_SERVER.value,
    `http://${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local:${svc.spec.ports[0].port}`,
  )
  assert.equal(ds.spec.template.spec.hostPID, true)
  assert.equal(agent.securityContext.privileged, true)
})

test('single-node overlay: a bigger volume and more resources than the base', { skip: noKubectl }, () => {
  const gi = (s: string) => Number(s.replace(/Gi$/, ''))
  const base = find(render('base'), 'StatefulSet', 'kiln')
  const big = find(render('overlays/single-node'), 'StatefulSet', 'kiln')
  const storage = (s: K8sObject) => gi(s.spec.volumeClaimTemplates[0].spec.resources.requests.storage)
  assert.ok(storage(big) > storage(base))
  assert.ok(
    gi(big.spec.template.spec.containers[0].resources.limits.memory) > gi(base.spec.template.spec.containers[0].resources.limits.memory),
  )
})

test('external-clickhouse overlay: stateless replicas, no volume claim, the URL from the Secret', { skip: noKubectl }, () => {
  const objs = render('overlays/external-clickhouse')
  const sts = find(objs, 'StatefulSet', 'kiln')
  assert.ok(sts.spec.replicas > 1)
  assert.equal(sts.spec.volumeClaimTemplates, undefined)
  const pod = sts.spec.template.spec
  assert.ok(pod.volumes.find((v: any) => v.name === 'data').emptyDir)
  const ref = envOf(pod.containers[0]).KILN_CLICKHOUSE_URL.valueFrom.secretKeyRef
  const secret = find(objs, 'Secret', ref.name)
  const url = new URL(Buffer.from(secret.data[ref.key], 'base64').toString())
  assert.match(url.protocol, /^https?:$/)
  // The agent is unchanged by it.
  assert.ok(find(objs, 'DaemonSet', 'kiln-agent'))
})

test('loadtest overlay: Jobs run kiln run with options it accepts, on the script in the ConfigMap, into the server', {
  skip: noKubectl,
}, () => {
  const objs = render('overlays/loadtest')
  const svc = find(objs, 'Service', 'kiln')
  const jobs = objs.filter((o) => o.kind === 'Job')
  assert.equal(jobs.length, 2)
  const script = (job: K8sObject) => {
    const pod = job.spec.template.spec
    const vol = pod.volumes.find((v: any) => v.configMap)
    const cm = find(objs, 'ConfigMap', vol.configMap.name)
    const mount = pod.containers[0].volumeMounts.find((m: any) => m.name === vol.name)
    return { cm, dir: mount.mountPath }
  }
  const single = find(objs, 'Job', 'kiln-loadtest')
  const args = single.spec.template.spec.containers[0].args
  assert.equal(args[0], 'run')
  const p = parseCommand(runSpec, args.slice(1))!
  const { cm, dir } = script(single)
  assert.ok(cm.data['script.js'].includes('export default function'))
  assert.deepEqual(p.positionals, [`${dir}/script.js`])
  assert.deepEqual(p.values['out'], [`kiln=http://${svc.metadata.name}:${svc.spec.ports[0].port}`])

  // The distributed Job: each index runs its own segment. The shell line is run for real with
  // `exec node …kiln.js` swapped for printf, so the arguments kiln would get are read back.
  const dist = find(objs, 'Job', 'kiln-loadtest-distributed')
  assert.equal(dist.spec.completionMode, 'Indexed')
  const c = dist.spec.template.spec.containers[0]
  const line: string = c.args[0]
  const image = finalStage(dockerfile('Dockerfile'))
  assert.ok(line.includes(`exec node ${image.entrypoint[1]} run `), 'it execs the kiln of the image')
  const segments: string[] = []
  for (let i = 0; i < dist.spec.completions; i++) {
    const r = spawnSync(c.command[0], [c.command[1], line.replace(`exec node ${image.entrypoint[1]}`, "printf '%s\\n'")], {
      encoding: 'utf8',
      env: { JOB_COMPLETION_INDEX: String(i), PATH: process.env.PATH },
    })
    const argv = r.stdout.trim().split('\n')
    const parsed = parseCommand(runSpec, argv.slice(1))!
    segments.push(parsed.values['execution-segment'] as string)
    assert.equal(parsed.values['execution-segment-sequence'], '0,1/3,2/3,1')
  }
  assert.deepEqual(segments, ['0/3:1/3', '1/3:2/3', '2/3:3/3'])
})
