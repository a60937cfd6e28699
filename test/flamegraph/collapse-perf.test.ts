import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { collapsePerf, PerfCollapser, type CollapsePerfOptions } from '../../src/flamegraph/collapse-perf.ts'
import { cRecording, javaRecording, nodeRecording, perfUnavailable, work } from './recordings.ts'
import { kiln } from './cli.ts'
import { writePerfScript } from './perf-script-gen.ts'

const rulesScript = join(import.meta.dirname, 'collapse-rules.pl')
const OPTION_SETS = ['', '--pid', '--tid', '--kernel', '--jit', '--all', '--addrs'] as const

/** The independent Perl statement of the rules, for cross-checking regex and number semantics. */
function perlCollapse(input: string, opt: string): string {
  const r = spawnSync('perl', [rulesScript, ...(opt ? [opt] : [])], { input: Buffer.from(input, 'latin1'), maxBuffer: 1 << 28 })
  assert.equal(r.status, 0, r.stderr?.toString())
  return r.stdout.toString('latin1')
}

const optionsOf = (opt: string): CollapsePerfOptions => (opt ? { [opt.slice(2)]: true } : {})

// Each case exercises one documented rule of stackcollapse-perf.pl; expected outputs are
// worked out by hand from the rules.
const cases: { rule: string; input: string; options?: CollapsePerfOptions; want: string }[] = [
  {
    rule: 'period is the count; only the first event type; comments skipped; pid unknown is ?',
    input:
      '# ========\n# cmdline : /usr/bin/perf record -e instructions -e cycles -g ./app\n# ========\n' +
      'app 100 [000] 10.000001: 5 instructions:\n\t4005d0 work+0x10 (/tmp/app)\n\t400600 main+0x20 (/tmp/app)\n\n' +
      'app 100 [000] 10.000002: 7 cycles:\n\t4005d0 work+0x10 (/tmp/app)\n\n' +
      'app 100 [000] 10.000003: 3 instructions:\n\t4005d0 work+0x10 (/tmp/app)\n\t400600 main+0x20 (/tmp/app)\n\n',
    want: 'app;main;work 8\n',
  },
  {
    rule: '--event-filter picks another event',
    input: 'app 100 [000] 1.0: 5 instructions:\n\t1 work (/a)\n\napp 100 [000] 1.1: 7 cycles:\n\t1 work (/a)\n\n',
    options: { eventFilter: 'cycles' },
    want: 'app;work 7\n',
  },
  {
    rule: '--pid and --tid with one number: the number is the tid, pid is ?',
    input: 'app 100 [000] 1.0: 5 cycles:\n\t1 work (/a)\n\n',
    options: { tid: true },
    want: 'app-?/100;work 5\n',
  },
  {
    rule: 'pid/tid headers; comm with spaces becomes underscores',
    input: 'V8 WorkerThread 24636/25607 [000] 94564.109216: 100 cycles:\n\t1 Builtin:Foo (/tmp/perf-24636.map)\n\n',
    options: { pid: true },
    want: 'V8_WorkerThread-24636;Builtin:Foo 100\n',
  },
  {
    rule: 'headers without period or time count 1',
    input: 'func_ab 15285 28075374.517811: cpu-clock:\n\t1 func_a (/f)\n\nfunc_ab 15294 cpu-clock:\n\t1 func_a (/f)\n\n',
    want: 'func_ab;func_a 2\n',
  },
  {
    rule: 'event modifiers are part of the event name',
    input: 'emu  4152 75695.008865:  3 cycles:u:\n\t1 f (/e)\n\nemu  4152 75695.008866:  5 cycles:\n\t1 g (/e)\n\n',
    want: 'emu;f 3\n',
  },
  {
    rule: '[unknown] symbols take the dso basename; --addrs adds the address',
    input: 'dd 7 [001] 1.0: 10101010 cpu-clock:\n\t7f00 [unknown] (/bin/dd)\n\t0 [unknown] ([unknown])\n\n',
    options: { addrs: true },
    want: 'dd;[unknown <0>];[dd <7f00>] 10101010\n',
  },
  {
    rule: 'tidying: args cut, Go methods and anonymous namespaces kept, quotes deleted, ; → :',
    input:
      'app 1 1.0: 1 cycles:\n' +
      '\t1 std::vector<int>::push_back(int const&)+0x1f (/a)\n' +
      '\t2 main.(*Server).Serve(0xc0000) (/a)\n' +
      '\t3 ns::(anonymous namespace)::run(int) (/a)\n' +
      '\t6 (anonymous namespace)::skipped(int) (/a)\n' +
      '\t4 RegExp:[&<>\\"\\\'] (/tmp/perf-1.map)\n' +
      '\t5 Lorg/x/Y;.call(Lorg/Z;)V (/tmp/perf-1.map)\n\n',
    want: 'app;Lorg/x/Y:.call;RegExp:[&<>\\\\];ns::(anonymous namespace)::run;main.(*Server).Serve(0xc0000);std::vector<int>::push_back 1\n',
  },
  {
    rule: 'java processes lose the L of class names',
    input:
      'java 12688 [002] 6544038.708352: 235 cpu-clock:\n\t1 Lorg/x/Y;.call(Lorg/Z;)V (/tmp/perf-12688.map)\n\t2 Interpreter (/tmp/perf-12688.map)\n\n',
    options: { jit: true },
    want: 'java;Interpreter_[j];org/x/Y:.call_[j] 235\n',
  },
  {
    rule: '--kernel marks [..] and vmlinux dsos but not [unknown]; inline chains get _[i]',
    input:
      'app 1 1.0: 2 cycles:\n\t1 do_sys (/lib/modules/6.1/build/vmlinux)\n\t2 tcp_send+0x1 ([kernel.kallsyms])\n\t3 [unknown] ([unknown])\n\t4 outer->mid->inner (/a)\n\n',
    options: { kernel: true },
    want: 'app;outer;mid_[i];inner_[i];[unknown];tcp_send_[k];do_sys_[k] 2\n',
  },
  {
    rule: 'frames named "(…" are skipped; a sample not ended by a blank line is not counted; byte order',
    input: 'bb 1 1.0: 1 c:\n\t1 (deleted) (/a)\n\t2 x (/a)\n\nBb 1 1.0: 1 c:\n\t1 y (/a)\n\nbb 1 1.0: 4 c:\n\t1 z (/a)\n',
    want: 'Bb;y 1\nbb;x 1\n',
  },
]

for (const c of cases) {
  test(`collapse perf rule: ${c.rule}`, () => {
    assert.equal(collapsePerf(c.input, c.options), c.want)
    const opt = Object.entries(c.options ?? {}).map(([k, v]) => (k === 'eventFilter' ? `--event-filter=${v}` : `--${k}`))
    const r = spawnSync('perl', [rulesScript, ...opt], { input: c.input })
    assert.equal(r.stdout.toString('latin1'), c.want, 'the Perl statement of the rules agrees')
  })
}

test('collapse perf: big periods sum exactly as Perl prints them', () => {
  const input = 'aa 1 1.0: 9007199254740993 c:\n\t1 f (/a)\n\n'.repeat(3) + 'bb 1 1.0: 18446744073709551615 c:\n\t1 f (/a)\n\n'.repeat(2)
  assert.equal(collapsePerf(input), perlCollapse(input, ''))
  assert.equal(collapsePerf(input), 'aa;f 27021597764222979\nbb;f 3.68934881474191e+19\n')
})

test('collapse perf CLI: file, stdin, options, bad usage', () => {
  const input = 'app 1 1.0: 5 cycles:\n\t1 work (/a)\n\t2 [unknown] (/usr/lib/libc.so.6)\n\n'
  const file = join(work, 'small.perf.txt')
  writeFileSync(file, input)
  assert.equal(kiln(['collapse', 'perf', file]).stdout, 'app;[libc.so.6];work 5\n')
  assert.equal(kiln(['collapse', 'perf', '--pid', '-'], input).stdout, 'app-?;[libc.so.6];work 5\n')
  assert.equal(kiln(['collapse', 'perf', '--event-filter', 'nope', file]).stdout, '')
  const missing = kiln(['collapse', 'perf', join(work, 'missing.txt')])
  assert.equal(missing.status, 1)
  assert.match(missing.stderr, /no such file/)
  const noFormat = kiln(['collapse', 'stap', file])
  assert.equal(noFormat.status, 2)
  assert.match(noFormat.stderr, /supported one is 'perf'/)
  assert.equal(kiln(['collapse', 'perf', '--bogus']).status, 2)
})

const unavailable = perfUnavailable()
if (unavailable) console.log(`# skipping real perf recordings: ${unavailable}`)
const recordings = { c: cRecording, node: nodeRecording, java: javaRecording }

for (const [name, make] of Object.entries(recordings)) {
  test(`collapse perf on a real ${name} recording agrees with the rules for every option`, { skip: unavailable ?? false }, () => {
    const text = make()
    for (const opt of OPTION_SETS) assert.equal(collapsePerf(text, optionsOf(opt)), perlCollapse(text, opt), `option '${opt}'`)
    // Every sample of the first event counts its period once.
    const periods = [...text.matchAll(/^\S.*?: +(\d+) cpu-clock:\S*\s*$/gm)].reduce((s, m) => s + Number(m[1]), 0)
    const folded = collapsePerf(text)
    const lines = folded.trimEnd().split('\n')
    assert.deepEqual([...lines].sort(), lines)
    assert.equal(
      lines.reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0),
      periods,
    )
  })
}

test('collapse perf names the hot functions of each real program', { skip: unavailable ?? false }, () => {
  const sum = (folded: string, re: RegExp) =>
    folded
      .split('\n')
      .filter((l) => re.test(l))
      .reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0)
  const c = collapsePerf(cRecording())
  // spin_alpha does three times spin_beta's work: it must get more samples.
  assert.ok(sum(c, /;main;spin_alpha;leaf_work /) > sum(c, /;main;spin_beta;leaf_work /), c)
  assert.match(collapsePerf(nodeRecording(), { jit: true }), /kilnHotLoop [^;]*_\[j\]/)
  assert.match(collapsePerf(javaRecording(), { all: true }), /KilnHot\.burn_\[j\]/)
})

test('collapse perf fuzz: mutated perf output gives a result like the rules, never a crash', { skip: unavailable ?? false }, () => {
  const base = cRecording().slice(0, 6000)
  let seed = 42
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n
  const alphabet = ' \t\n:;/()[]->+0x19abL"\'\r\u00a0\u00ff#'
  for (let i = 0; i < 40; i++) {
    const chars = base.split('')
    for (let k = 0; k < 20; k++) {
      const at = rnd(chars.length)
      const op = rnd(3)
      if (op === 0) chars[at] = alphabet[rnd(alphabet.length)]!
      else if (op === 1) chars.splice(at, rnd(30))
      else chars.splice(at, 0, ...base.slice(rnd(base.length), rnd(base.length)))
    }
    const input = chars.join('').slice(0, rnd(2) ? undefined : rnd(chars.length))
    const opt = OPTION_SETS[rnd(OPTION_SETS.length)]!
    assert.equal(collapsePerf(input, optionsOf(opt)), perlCollapse(input, opt), `mutation ${i} (${opt})`)
  }
})

/** The line path alone: each line as a string through PerfCollapser.line (the regexes). */
function byLines(text: string, options: CollapsePerfOptions = {}): string {
  const c = new PerfCollapser(options)
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  for (const l of lines) c.line(l)
  return c.folded()
}

/** The byte path, fed in chunks of the given sizes (cycled). */
function byChunks(text: string, sizes: number[], options: CollapsePerfOptions = {}): string {
  const c = new PerfCollapser(options)
  const buf = Buffer.from(text, 'latin1')
  for (let at = 0, k = 0; at < buf.length; k++) {
    const n = sizes[k % sizes.length]!
    c.push(buf.subarray(at, at + n))
    at += n
  }
  c.end()
  return c.folded()
}

test('collapse perf byte path: the same folded stacks as the line rules, however the input is chunked', () => {
  const file = join(work, 'gen.perf.txt')
  writePerfScript(file, 300_000, 5)
  const text = readFileSync(file, 'latin1')
  const want = byLines(text)
  assert.ok(want.split('\n').length > 100)
  assert.equal(collapsePerf(text), want)
  for (const sizes of [[1 << 16], [4093, 17, 1], [7, 3000]]) assert.equal(byChunks(text, sizes), want, `chunks of ${sizes}`)
  for (const opt of OPTION_SETS) assert.equal(collapsePerf(text, optionsOf(opt)), byLines(text, optionsOf(opt)), `option '${opt}'`)
  // Every byte in its own chunk, on a small part.
  const small = text.slice(0, 20_000)
  assert.equal(byChunks(small, [1]), byLines(small))
})

test('collapse perf byte path: headers of every shape read as the regexes read them', () => {
  let seed = 9
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)]!
  const comms = ['app', 'V8 WorkerThread', 'java', 'a', 'x1 2', 'ab', 'Web Content 12', 'kworker/0:1', '\u00e9t\u00e9', '1 2 3']
  const ids = ['4242', '4242/4243', '0', '7/0', '12//34', '00', '99999999']
  const mids = [' [000] 1.000001:', ' 15285.517811:', '', ' [001]', ':', ' 1.0: 10101010', '\t1.0:  \t7']
  const events = [' cycles:', ' cpu-clock:ppp: ', ' instructions:u:', ' 5 cycles:', 'cycles:', ' : ', ' ev:\r', '']
  let text = ''
  for (let i = 0; i < 3000; i++) {
    const sep = pick([' ', '  ', '\t', ' \v'])
    text += `${pick(comms)}${sep}${pick(ids)}${pick([' ', '\t', '/'])}${pick(mids)}${pick(events)}\n`
    for (let d = rnd(3); d > 0; d--) text += `\t${rnd(99)} f${rnd(5)}+0x1 (/lib/x${rnd(2)}.so)\n`
    if (rnd(10)) text += '\n'
  }
  for (const opt of ['', '--pid', '--tid'])
    assert.equal(byChunks(text, [977], optionsOf(opt)), byLines(text, optionsOf(opt)), `option '${opt}'`)
  assert.equal(collapsePerf(text), perlCollapse(text, ''), 'and as the Perl statement of the rules')
})

test('collapse perf byte path: frame lines of every shape tidied as the regexes tidy them', () => {
  let seed = 21
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)]!
  // Symbols and modules as perf prints them, and the shapes that make the frame regex backtrack
  // or the offset rule differ: offsets twice or in capitals, " (" inside a name, no module.
  const syms = [
    'main',
    'ns::C::f(int, char const*)',
    '(anonymous namespace)::g()',
    'a->b->c',
    '[unknown]',
    'Lcom/x/Y;run',
    'q"u\'o;te',
    'f (x',
    '',
  ]
  const offs = ['', '+0x1f', '+0x1+0x2', '+0xAB', '+0x', '+0xg1', '+1f']
  const mods = ['(/usr/lib/libc.so.6)', '([kernel.kallsyms])', '(/tmp/perf-42.map)', '([unknown])', '(a (b))', '(x)\r', '', '(vmlinux)']
  const pcs = ['7f00a1', 'ffffffff81000000', 'abc_1', '']
  let text = ''
  for (let i = 0; i < 2000; i++) {
    text += `${pick(['app', 'java', 'V8 Worker'])} ${40 + rnd(3)}/${50 + rnd(3)} [000] 1.0: ${1 + rnd(9)} cycles:\n`
    for (let d = 1 + rnd(6); d > 0; d--)
      text += `${pick(['\t', '    ', ' \t'])}${pick(pcs)}${pick([' ', '  ', ''])}${pick(syms)}${pick(offs)} ${pick(mods)}\n`
    text += '\n'
  }
  assert.equal(byChunks(text, [4001]), byLines(text), 'in chunks')
  for (const opt of OPTION_SETS) assert.equal(collapsePerf(text, optionsOf(opt)), byLines(text, optionsOf(opt)), `option '${opt}'`)
  assert.equal(collapsePerf(text, optionsOf('--all')), perlCollapse(text, '--all'), 'and as the Perl statement of the rules')
})

test('collapse perf byte path: thousands of distinct frame lines (the frame table grows) tidied as the regexes tidy them', () => {
  // 5,000 symbols over 7 modules, in stacks that share them, some differing only in where the
  // symbol ends and the module starts: each must keep its own frames once the table has grown.
  let text = ''
  for (let i = 0; i < 5000; i++) {
    text += `app 1/${i % 3} [000] 1.0: 1 cycles:\n`
    text += `\t1 f${i}+0x1 (/lib/m${i % 7}.so)\n\t2 f${(i * 7) % 5000} (/lib/m${i % 5}.so)\n`
    text += `\t3 f (x${i % 4} (/lib/m.so)\n\t4 f (x${i % 4}+0x2 (/lib/m.so)\n`
    // The module decides an unknown symbol's name and the kernel's annotation.
    text += `\t5 [unknown] (/lib/u${i % 9}.so)\n\t6 k${i % 50} (${i % 2 ? '[kernel.kallsyms]' : '/lib/k.so'})\n\n`
  }
  const want = byLines(text)
  assert.equal(want.split('\n').length - 1, 5000)
  assert.equal(byChunks(text, [1 << 16]), want)
  assert.equal(collapsePerf(text, optionsOf('--all')), byLines(text, optionsOf('--all')))
})
