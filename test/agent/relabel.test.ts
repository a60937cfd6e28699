import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseRelabelConfig, relabel } from '../../src/agent/relabel.ts'
import { isKilnError } from '../../src/model/errors.ts'
import { mutator } from './helpers.ts'

const proc = new Map([
  ['pid', '4242'],
  ['comm', 'postgres'],
  ['exe', '/usr/lib/postgresql/15/bin/postgres'],
  ['cgroup', '/system.slice/postgresql.service'],
  ['__meta_process_cmdline', 'postgres -D /var/lib/postgresql'],
])
const apply = (yaml: string, labels: ReadonlyMap<string, string> = proc) => {
  const out = relabel(labels, parseRelabelConfig(yaml))
  return out && Object.fromEntries(out)
}

test('keep: only targets whose joined source labels match the anchored regex survive', () => {
  assert.ok(apply('- {action: keep, source_labels: [comm], regex: postgres|mysqld}'))
  assert.equal(apply('- {action: keep, source_labels: [comm], regex: postgre}'), null, 'regex must be anchored at both ends')
  // A missing label joins as the empty string.
  assert.equal(apply('- {action: keep, source_labels: [pod], regex: .+}'), null)
  assert.ok(apply("- {action: keep, source_labels: [comm, pid], separator: '@', regex: 'postgres@\\d+'}"))
})

test('drop: targets that match are dropped, and the chain stops there', () => {
  assert.equal(apply('- {action: drop, source_labels: [exe], regex: .*/postgresql/.*}'), null)
  assert.ok(apply('- {action: drop, source_labels: [comm], regex: kworker.*}'))
})

test('replace: the target label gets the expanded replacement; an empty result removes it', () => {
  const out = apply(`
- source_labels: [exe]
  regex: '.*/postgresql/(\\d+)/bin/(.*)'
  target_label: version
  replacement: 'v$1-\${2}'
- source_labels: [cgroup]
  regex: '/system\\.slice/(?<unit>.*)\\.service'
  target_label: unit
  replacement: '\${unit}'
- source_labels: [comm]
  target_label: service_name
- source_labels: [pod]
  target_label: comm
- source_labels: [comm]
  regex: nomatch
  target_label: never
`)!
  assert.equal(out.version, 'v15-postgres')
  assert.equal(out.unit, 'postgresql')
  assert.equal(out.service_name, 'postgres', 'default regex (.*) and replacement $1 copy the value')
  assert.equal(out.comm, undefined, 'an empty replacement removes the target label')
  assert.equal(out.never, undefined)
  assert.equal(out.pid, '4242')
})

test('replace: the target label itself can use groups; an invalid name leaves the set unchanged', () => {
  const out = apply(`
- {source_labels: [comm], regex: '(p)ostgres', target_label: 'is_$1', replacement: 'yes'}
- {source_labels: [comm], regex: '(.*)', target_label: '1bad', replacement: x}
`)!
  assert.equal(out.is_p, 'yes')
  assert.equal(out['1bad'], undefined)
})

test('labeldrop, labelkeep and labelmap work on label names', () => {
  assert.deepEqual(Object.keys(apply('- {action: labeldrop, regex: cgroup|exe}')!).sort(), ['__meta_process_cmdline', 'comm', 'pid'])
  assert.deepEqual(Object.keys(apply('- {action: labelkeep, regex: pid|comm}')!).sort(), ['comm', 'pid'])
  const mapped = apply("- {action: labelmap, regex: '__meta_process_(.+)', replacement: 'proc_$1'}")!
  assert.equal(mapped.proc_cmdline, 'postgres -D /var/lib/postgresql')
  assert.equal(mapped.__meta_process_cmdline, 'postgres -D /var/lib/postgresql', 'labelmap copies, it does not move')
})

test('the file may be a bare list or Parca-style relabel_configs; empty means no rules', () => {
  assert.equal(parseRelabelConfig('').length, 0)
  assert.equal(parseRelabelConfig('- {action: labeldrop, regex: x}').length, 1)
  assert.equal(parseRelabelConfig('relabel_configs:\n  - {action: labeldrop, regex: x}\n  - {action: labelkeep, regex: y}').length, 2)
})

test('every mistake in a rule file is refused with a message that names the rule and the fix', () => {
  const cases: [string, RegExp][] = [
    ['- [a, b', /not valid YAML/],
    ['just a string', /expected a list of rules/],
    ['relabel_configs: {a: 1}', /expected a list of rules/],
    ['- 42', /rule 1: expected a mapping/],
    ['- {action: keep, source_labels: [comm]}\n- {action: explode}', /rule 2: unknown action "explode"; use one of replace, keep/],
    ['- {action: keep, regex: x}', /rule 1: action keep needs source_labels/],
    ['- {action: drop, regex: x}', /rule 1: action drop needs source_labels/],
    ['- {source_labels: [comm], regex: x}', /rule 1: action replace needs target_label/],
    ['- {source_labels: comm, target_label: x}', /rule 1: source_labels must be a list/],
    ['- {action: labeldrop, regex: "("}', /rule 1: regex "\(" does not compile/],
    ['- {action: labeldrop, regex: [a]}', /rule 1: regex must be a string/],
    ['- {action: labeldrop, regexp: x}', /rule 1: unknown key "regexp"/],
  ]
  for (const [yaml, message] of cases) {
    assert.throws(
      () => parseRelabelConfig(yaml, 'rules.yaml'),
      (e: unknown) => isKilnError(e) && e.code === 'KILN_USAGE' && message.test(e.message) && e.message.startsWith('rules.yaml: '),
      yaml,
    )
  }
})

test('fuzz: mutated rule files give rules or a KilnError, never a crash or a hang', () => {
  const seeds = [
    'relabel_configs:\n  - source_labels: [comm, pid]\n    separator: ";"\n    regex: "(.*);(\\d+)"\n    target_label: x\n    replacement: "$2-$1"\n',
    '- {action: drop, source_labels: [exe], regex: ".*/bin/(sh|bash)"}\n- {action: labelmap, regex: "__meta_(.*)"}\n',
  ]
  const { mutate } = mutator(7, '-:[]{}(),.*$\\"\' \n\tabc_0123', 6)
  for (let i = 0; i < 3000; i++) {
    const text = mutate(seeds[i % seeds.length]!)
    try {
      const rules = parseRelabelConfig(text)
      const out = relabel(proc, rules)
      if (out) for (const [k, v] of out) assert.equal(typeof k + typeof v, 'stringstring')
    } catch (e) {
      assert.ok(isKilnError(e), `input ${JSON.stringify(text)} threw ${(e as Error).stack}`)
    }
  }
})
