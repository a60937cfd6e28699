// The agent's own naming of native frames (src/agent/elf-symbols.ts), against a running PIE
// program that prints where its functions are, and against binutils' nm and c++filt.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { once } from 'node:events'
import { join } from 'node:path'
import { NativeSymbols, parseMaps, readElfSymbols, symbolAt } from '../../src/agent/elf-symbols.ts'
import { foldBpftraceMap } from '../../src/agent/bpftrace-sampler.ts'
import { PerfMaps } from '../../src/agent/perf-map.ts'
import { work } from './helpers.ts'

// A PIE (Debian's gcc default) loaded at a random address: names must come from the addresses as
// this process has them, through its mappings. It prints its function's address and a libc one's.
const C_SOURCE = `
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
__attribute__((noinline)) int kiln_elf_probe(int x) { return x * 3 + 1; }
int main(void) {
  printf("%p %p\\n", (void *)kiln_elf_probe, (void *)abs);
  fflush(stdout);
  sleep(30);
  return kiln_elf_probe(0);
}
`
const noGcc = spawnSync('gcc', ['--version']).status === 0 ? false : 'gcc is not installed'

test('native frames of a running PIE program and of libc are named from their ELF files', { skip: noGcc }, async () => {
  const src = join(work, 'elf-probe.c')
  const exe = join(work, 'kiln_elf_probe')
  writeFileSync(src, C_SOURCE)
  const cc = spawnSync('gcc', ['-O1', '-pie', '-fPIE', '-o', exe, src], { encoding: 'utf8' })
  assert.equal(cc.status, 0, cc.stderr)
  const c = spawn(exe, [], { stdio: ['ignore', 'pipe', 'ignore'] })
  try {
    const [line] = (await once(c.stdout!, 'data')) as [Buffer]
    const [fn, abs] = line
      .toString()
      .trim()
      .split(' ')
      .map((a) => parseInt(a, 16)) as [number, number]
    const native = new NativeSymbols()
    assert.equal(native.lookup(c.pid!, fn), 'kiln_elf_probe')
    assert.equal(native.lookup(c.pid!, fn + 3), 'kiln_elf_probe', 'an address inside the function')
    assert.equal(native.lookup(c.pid!, abs), 'abs')
    assert.equal(native.lookup(c.pid!, 0x10), undefined, 'nothing mapped there')
    // The same file in another process at another address: one read of its symbols serves both.
    const maps = parseMaps(spawnSync('cat', [`/proc/${c.pid}/maps`], { encoding: 'utf8' }).stdout)
    assert.ok(
      maps.some((m) => m.path === exe && fn >= m.start && fn < m.end),
      JSON.stringify(maps),
    )
    // Through the bpftrace fold: a user stack of addresses becomes names, innermost last.
    const key = `${c.pid},kiln_elf_probe,,\n    0x${fn.toString(16)}\n    0x${abs.toString(16)}\n    0x10\n`
    const { stacks } = foldBpftraceMap({ [key]: 4 }, new PerfMaps(), native)
    assert.equal(stacks.get(c.pid!)?.folded, '[unknown];abs;kiln_elf_probe 4\n')
  } finally {
    c.kill('SIGKILL')
  }
})

test("each function symbol read from node's ELF file is one nm names at that address", (t) => {
  const nm = spawnSync('nm', ['--defined-only', process.execPath], { encoding: 'utf8', maxBuffer: 1 << 30 })
  if (nm.error || nm.status !== 0) return t.skip('nm (binutils) is not installed')
  const syms = readElfSymbols(process.execPath)
  assert.ok(syms && syms.names.length > 1000, 'node has its symbol table')
  // T/t, W/w (weak: C++ inline functions and templates), i (ifunc): code. Aliases share an
  // address: the name found must be one of that address's.
  const byAddress = new Map<number, Set<string>>()
  for (const l of nm.stdout.split('\n')) {
    const [a, type, name] = l.split(' ')
    if (name && /^[TtWwi]$/.test(type!)) {
      const at = parseInt(a!, 16)
      if (!byAddress.has(at)) byAddress.set(at, new Set())
      byAddress.get(at)!.add(name)
    }
  }
  let checked = 0
  for (let i = 0; i < syms!.starts.length; i += 7) {
    const at = syms!.starts[i]!
    const found = symbolAt(syms!, at)!
    assert.ok(byAddress.get(at)?.has(found), `${at.toString(16)}: ${found}, nm: ${[...(byAddress.get(at) ?? [])]}`)
    checked++
  }
  assert.ok(checked > 1000, `${checked} addresses checked`)
})

test('C++ names are demangled as c++filt does, once each', (t) => {
  if (spawnSync('c++filt', ['--version']).status !== 0) return t.skip('c++filt (binutils) is not installed')
  const native = new NativeSymbols()
  const d = native.demangle(['_ZN2v88internal7Isolate4InitEv', '_ZN4node5StartEiPPc', 'main'])
  assert.equal(d.get('_ZN2v88internal7Isolate4InitEv'), 'v8::internal::Isolate::Init()')
  assert.equal(d.get('_ZN4node5StartEiPPc'), 'node::Start(int, char**)')
  assert.equal(d.get('main'), undefined, 'a C name is not sent to c++filt')
})

test('/proc/PID/maps: only executable mappings of files', () => {
  const maps = parseMaps(
    [
      '55d0c0a00000-55d0c0a01000 r--p 00000000 fd:01 1234 /usr/bin/prog',
      '55d0c0a01000-55d0c0a02000 r-xp 00001000 fd:01 1234 /usr/bin/prog',
      '7f0000000000-7f0000021000 rw-p 00000000 00:00 0 ',
      '7f1000000000-7f1000001000 r-xp 00000000 00:00 0 [vdso]',
      '7f2000000000-7f2000100000 r-xp 00028000 fd:01 99 /tmp/lib with space.so (deleted)',
    ].join('\n'),
  )
  assert.deepEqual(maps, [
    { start: 0x55d0c0a01000, end: 0x55d0c0a02000, offset: 0x1000, file: 'fd:01:1234', path: '/usr/bin/prog' },
    { start: 0x7f2000000000, end: 0x7f2000100000, offset: 0x28000, file: 'fd:01:99', path: '/tmp/lib with space.so (deleted)' },
  ])
})
