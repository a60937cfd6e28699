/**
 * settings.v1.RecordingRulesService (issue 11 §2) through @connectrpc/connect-node: the same rules
 * as the YAML file and /api/v1/recording-rules — listed with the file's marked provisioned,
 * created without an id, read, replaced, deleted — and counted on /metrics.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Code, createClient } from '@connectrpc/connect'
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node'
import { startKiln, call, CPU, type TestServer } from './helpers.ts'
import { RecordingRulesService } from '../../src/server/rpc/gen/settings/v1/recording_rules_pb.ts'

let kiln: TestServer
let dir: string
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-rules-rpc-'))
  const config = join(dir, 'kiln.yaml')
  writeFileSync(config, `recording-rules:\n  - metric_name: from_file_cpu_total\n    profile_type: ${CPU}\n`)
  kiln = await startKiln(['--config', config])
})
after(async () => {
  await kiln?.dispose()
  rmSync(dir, { recursive: true, force: true })
})

const client = () => createClient(RecordingRulesService, createConnectTransport({ baseUrl: kiln.url, httpVersion: '1.1' }))

test('List, Upsert (no id: a new rule), Get, Upsert by id, Delete — the HTTP API sees the same rules', async () => {
  const rules = client()
  const listed = await rules.listRecordingRules({})
  assert.deepEqual(
    listed.rules.map((r) => [r.id, r.metricName, r.profileType, r.provisioned]),
    [['from_file_cpu_total', 'from_file_cpu_total', CPU, true]],
  )
  // As Grafana sends one: the profile type among the matchers, a function filter, external labels.
  const made = await rules.upsertRecordingRule({
    metricName: 'checkout_cpu_total',
    matchers: [`{__profile_type__="${CPU}", service_name="shop"}`],
    groupBy: ['env'],
    externalLabels: [{ name: 'team', value: 'payments' }],
    stacktraceFilter: { functionName: { functionName: 'checkout' } },
  })
  const id = made.rule!.id
  assert.match(id, /^[0-9a-f]{16}$/)
  assert.equal(made.rule!.profileType, CPU)
  assert.equal(made.rule!.stacktraceFilter?.functionName?.functionName, 'checkout')
  const got = await rules.getRecordingRule({ id })
  assert.deepEqual(got.rule!.externalLabels, [{ $typeName: 'types.v1.LabelPair', name: 'team', value: 'payments' }])
  assert.deepEqual(got.rule!.groupBy, ['env'])
  const http = await call(`${kiln.url}/api/v1/recording-rules`)
  assert.deepEqual(http.json.rules.map((r: { id: string; source: string }) => [r.id, r.source]).sort(), [
    [id, 'api'],
    ['from_file_cpu_total', 'file'],
  ])
  // Replaced by id at the generation read, over gRPC this time.
  assert.equal(got.rule!.generation, 1n)
  const grpc = createClient(RecordingRulesService, createGrpcTransport({ baseUrl: kiln.url }))
  const replaced = await grpc.upsertRecordingRule({
    id,
    metricName: 'checkout_cpu_total',
    matchers: [`{__profile_type__="${CPU}", service_name="shop2"}`],
    generation: got.rule!.generation,
  })
  assert.equal(replaced.rule!.generation, 2n)
  const now = (await rules.getRecordingRule({ id })).rule!
  assert.deepEqual(now.matchers, [`{__profile_type__="${CPU}", service_name="shop2"}`])
  assert.equal(now.generation, 2n)
  await rules.deleteRecordingRule({ id })
  assert.deepEqual(
    (await rules.listRecordingRules({})).rules.map((r) => r.id),
    ['from_file_cpu_total'],
  )
})

test('errors: an unknown id is not_found, the file’s rule cannot be changed, a rule without a profile type is invalid', async () => {
  const rules = client()
  const missing = await rules.getRecordingRule({ id: 'nope' }).catch((e) => e)
  assert.equal(missing.code, Code.NotFound)
  assert.match(missing.message, /no recording rule "nope"/)
  const gone = await rules.deleteRecordingRule({ id: 'nope' }).catch((e) => e)
  assert.equal(gone.code, Code.NotFound)
  const file = await rules.deleteRecordingRule({ id: 'from_file_cpu_total' }).catch((e) => e)
  assert.equal(file.code, Code.InvalidArgument)
  assert.match(file.message, /comes from the configuration file/)
  const untyped = await rules.upsertRecordingRule({ metricName: 'x_total', matchers: ['{service_name="a"}'] }).catch((e) => e)
  assert.equal(untyped.code, Code.InvalidArgument)
  assert.match(untyped.message, /profile_type/)
  const badName = await rules.upsertRecordingRule({ metricName: 'not a name', matchers: [`{__profile_type__="${CPU}"}`] }).catch((e) => e)
  assert.equal(badName.code, Code.InvalidArgument)
  assert.match(badName.message, /is not a Prometheus metric name/)
})

test('generation: an upsert that saw an older generation (or none) is refused as already_exists and changes nothing', async () => {
  const rules = client()
  const matchers = [`{__profile_type__="${CPU}", service_name="gen"}`]
  const { rule } = await rules.upsertRecordingRule({ metricName: 'gen_cpu_total', matchers, generation: 7n })
  // A new rule starts at 1 whatever the writer sent.
  assert.equal(rule!.generation, 1n)
  const id = rule!.id
  // Two writers read generation 1; the first one's write wins, the second is stale.
  const first = await rules.upsertRecordingRule({ id, metricName: 'gen_cpu_total', matchers, groupBy: ['env'], generation: 1n })
  assert.equal(first.rule!.generation, 2n)
  const stale = await rules
    .upsertRecordingRule({ id, metricName: 'gen_cpu_total', matchers, groupBy: ['pod'], generation: 1n })
    .catch((e) => e)
  assert.equal(stale.code, Code.AlreadyExists)
  assert.match(stale.message, /conflicting update, please try again: .* is at generation 2, this upsert saw 1/)
  // No generation is 0, which no stored rule has (as in Pyroscope): refused too.
  const blind = await rules.upsertRecordingRule({ id, metricName: 'gen_cpu_total', matchers }).catch((e) => e)
  assert.equal(blind.code, Code.AlreadyExists)
  const kept = (await rules.getRecordingRule({ id })).rule!
  assert.deepEqual([kept.groupBy, kept.generation], [['env'], 2n])
  // Connect JSON, proto field names: the same check.
  const r = await call(`${kiln.url}/settings.v1.RecordingRulesService/UpsertRecordingRule`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id, metric_name: 'gen_cpu_total', matchers, generation: '1' }),
  })
  assert.equal(r.status, 409, r.text)
  assert.equal(r.json.code, 'already_exists')
  // Kiln's JSON API takes a generation too (and, without one, replaces the rule as before).
  const stale2 = await call(`${kiln.url}/api/v1/recording-rules`, {
    method: 'POST',
    body: JSON.stringify({ id, metric_name: 'gen_cpu_total', matchers, generation: 1 }),
  })
  assert.equal(stale2.status, 409, stale2.text)
  assert.equal(stale2.json.code, 'KILN_CONFLICT')
  const plain = await call(`${kiln.url}/api/v1/recording-rules`, {
    method: 'POST',
    body: JSON.stringify({ id, metric_name: 'gen_cpu_total', matchers }),
  })
  assert.equal(plain.status, 200, plain.text)
  assert.equal(plain.json.rule.generation, 3)
  assert.equal((await rules.getRecordingRule({ id })).rule!.generation, 3n)
  await rules.deleteRecordingRule({ id })
})
