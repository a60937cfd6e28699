/**
 * `kiln run --instances N --k8s script.js`: prints the Kubernetes objects of
 * deploy/kustomize/overlays/loadtest-distributed for N instances, this script and these flags —
 * a ConfigMap holding the script, the headless Service, the Indexed Job of `kiln run --instance`
 * pods and the coordinator Job — for `| kubectl apply -n NAMESPACE -f -`. The shapes are the
 * overlay's (test/loadtest/distributed-k8s.test.ts checks both the same way).
 */
import { basename } from 'node:path'
import { stringify } from 'yaml'
import { evenSequence } from './coordinator.ts'

const NAME = 'kiln-loadtest'
const INSTANCES = `${NAME}-instances`
const PORT = 6565
// The image's kiln (deploy/Dockerfile installs the package there).
const KILN = 'node /opt/kiln/node_modules/kiln/bin/kiln.js'

export interface K8sOptions {
  instances: number
  scriptPath: string
  source: string
  /** Flags every instance gets (the user's, without the coordinator's own). */
  instanceArgs: string[]
  /** Flags of the coordinator beyond --instances and --connect (outputs, --summary-export…). */
  coordinatorArgs: string[]
  image: string
}

/** Quoted for sh: 'it'\''s'. */
const sh = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)

const pod = (o: K8sOptions, container: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  metadata: { labels: { 'app.kubernetes.io/name': NAME } },
  spec: {
    ...extra,
    restartPolicy: 'Never',
    securityContext: { runAsNonRoot: true, runAsUser: 10001 },
    containers: [
      {
        name: 'kiln-run',
        image: o.image,
        ...container,
        volumeMounts: [{ name: 'script', mountPath: '/scripts', readOnly: true }],
      },
    ],
    volumes: [{ name: 'script', configMap: { name: `${NAME}-script` } }],
  },
})

/** The manifests as one YAML stream. */
export function k8sManifests(o: K8sOptions): string {
  const n = o.instances
  const script = `/scripts/${basename(o.scriptPath)}`
  const line = [
    `exec ${KILN} run --instance --address 0.0.0.0:${PORT}`,
    `--execution-segment "$JOB_COMPLETION_INDEX/${n}:$((JOB_COMPLETION_INDEX + 1))/${n}"`,
    `--execution-segment-sequence ${evenSequence(n)}`,
    ...o.instanceArgs.map(sh),
    script,
  ].join(' ')
  const connect = Array.from({ length: n }, (_, i) => `${INSTANCES}-${i}.${INSTANCES}:${PORT}`).join(',')
  const labels = { 'app.kubernetes.io/name': NAME }
  const objects = [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${NAME}-script`, labels }, data: { [basename(o.scriptPath)]: o.source } },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: INSTANCES, labels },
      spec: {
        clusterIP: 'None',
        publishNotReadyAddresses: true,
        selector: { 'job-name': INSTANCES },
        ports: [{ name: 'rest-api', port: PORT }],
      },
    },
    {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: INSTANCES, labels },
      spec: {
        completionMode: 'Indexed',
        completions: n,
        parallelism: n,
        backoffLimit: 0,
        ttlSecondsAfterFinished: 86400,
        template: pod(
          o,
          { command: ['/bin/sh', '-c'], args: [line], ports: [{ name: 'rest-api', containerPort: PORT }] },
          { subdomain: INSTANCES },
        ),
      },
    },
    {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: `${NAME}-coordinator`, labels },
      spec: {
        backoffLimit: 0,
        ttlSecondsAfterFinished: 86400,
        template: pod(o, { args: ['run', '--instances', String(n), '--connect', connect, ...o.coordinatorArgs, script] }),
      },
    },
  ]
  // Literal blocks, no folding: the script and the shell line read as written.
  return objects.map((x) => stringify(x, { lineWidth: 0, blockQuote: 'literal' })).join('---\n')
}
