import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolveConfig, retentionDays } from '../../src/server/config.ts'
import { schemaStatements } from '../../src/store/schema.ts'

test('settings: defaults < YAML file < KILN_* environment < flags', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-cfg-'))
  try {
    const file = join(dir, 'kiln.yaml')
    writeFileSync(file, 'port: 5050\nretention: 7d\ndata-dir: /srv/kiln\nmultitenancy: true\n')
    const fromFile = resolveConfig({}, file, {})
    assert.deepEqual([fromFile.port, fromFile.retention, fromFile.dataDir, fromFile.multitenancy], [5050, '7d', '/srv/kiln', true])
    const env = resolveConfig({}, file, { KILN_PORT: '6060', KILN_RETENTION: '12h' })
    assert.deepEqual([env.port, env.retention], [6060, '12h'])
    const flags = resolveConfig({ port: '7070' }, file, { KILN_PORT: '6060', KILN_CONFIG: '/nope' })
    assert.equal(flags.port, 7070)
    assert.equal(resolveConfig({}, undefined, {}).port, 4040)
    assert.equal(resolveConfig({}, undefined, {}).dataDir, './data')
    writeFileSync(file, 'prot: 1\n')
    assert.throws(() => resolveConfig({}, file, {}), /unknown setting 'prot'/)
    writeFileSync(file, '- a\n')
    assert.throws(() => resolveConfig({}, file, {}), /YAML mapping/)
    assert.throws(() => resolveConfig({}, join(dir, 'missing.yaml'), {}), /cannot read config file/)
    assert.throws(() => resolveConfig({ port: 'abc' }, undefined, {}), /whole number/)
    assert.throws(() => resolveConfig({ retention: 'forever and ever' }, undefined, {}), /cannot read duration/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('retention becomes a TTL on every table (0 keeps data forever)', () => {
  assert.equal(retentionDays('30d'), 30)
  assert.equal(retentionDays('12h'), 1)
  assert.equal(retentionDays('0'), 0)
  const ddl = schemaStatements('kiln', 30).join('\n')
  assert.equal((ddl.match(/TTL toDateTime\(/g) ?? []).length, 5)
  assert.match(ddl, /samples[\s\S]*TTL toDateTime\(time\) \+ INTERVAL 30 DAY/)
  assert.doesNotMatch(schemaStatements('kiln', 0).join('\n'), /TTL/)
})
