/**
 * Builds the capture loader (bpf/loader.c with bpf/socket.bpf.c inside as a libbpf skeleton) on
 * the host, once per version of the sources, into a cache directory. CO-RE makes the BPF object
 * portable across kernels, so the cache key is the sources alone; the host's BTF
 * (/sys/kernel/btf/vmlinux) supplies the kernel types. A build (two variants) takes ~8 s on this 2-core machine.
 */
import { createHash } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { KilnError } from '../../model/errors.ts'
import { sourceDir } from '../../assets.ts'

const SOURCES = ['socket.bpf.c', 'loader.c', 'events.h', 'http1.c', 'http1.h']
const srcDir = join(sourceDir(import.meta.url), 'bpf')

/** Debian package per tool the build needs (README "Request tracing" lists the same). */
const TOOLS: [cmd: string, pkg: string][] = [
  ['clang', 'clang'],
  ['bpftool', 'bpftool'],
  ['cc', 'gcc'],
]
const HOST_PACKAGES = 'clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev gcc'

export function defaultCacheDir(): string {
  if (process.env.KILN_CAPTURE_CACHE) return process.env.KILN_CAPTURE_CACHE
  return process.getuid?.() === 0 ? '/var/cache/kiln/capture' : join(homedir(), '.cache', 'kiln', 'capture')
}

/** The loader built with helper reads for kernels before 6.2, beside the one buildLoader returns. */
export const portableLoader = (bin: string): string => `${bin}-portable`

/** The path of the built loader, building it first when the cache has no build of these sources. */
export function buildLoader(cacheDir = defaultCacheDir(), log: (line: string) => void = () => {}): string {
  const hash = createHash('sha256')
  for (const f of SOURCES) hash.update(f).update(readFileSync(join(srcDir, f)))
  const dir = join(cacheDir, hash.digest('hex').slice(0, 16))
  const bin = join(dir, 'kiln-capture')
  if (existsSync(bin)) return bin

  const missing = TOOLS.filter(([cmd]) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0)
  if (missing.length || !existsSync('/usr/include/bpf/libbpf.h')) {
    const what = [...missing.map(([c]) => c), ...(existsSync('/usr/include/bpf/libbpf.h') ? [] : ['libbpf headers'])]
    throw new KilnError(
      'KILN_UNSUPPORTED',
      `request tracing builds its eBPF program on the host and needs ${what.join(', ')}: apt-get install ${HOST_PACKAGES}`,
    )
  }
  if (!existsSync('/sys/kernel/btf/vmlinux')) {
    throw new KilnError(
      'KILN_UNSUPPORTED',
      "request tracing needs the kernel's BTF type information (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF=y; kernels since 5.4 in most distributions)",
    )
  }
  mkdirSync(cacheDir, { recursive: true })
  // Built beside its final place and renamed: two agents starting at once never see half a build.
  const tmp = mkdtempSync(join(cacheDir, 'build-'))
  try {
    const run = (cmd: string, args: string[], stdout?: string) => {
      const r = spawnSync(cmd, args, { cwd: tmp, encoding: 'utf8', maxBuffer: 256 << 20 })
      if (r.status !== 0)
        throw new KilnError(
          'KILN_UNSUPPORTED',
          `building the capture program failed: ${cmd} ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-6).join('\n')}`,
        )
      if (stdout) writeFileSync(join(tmp, stdout), r.stdout)
    }
    for (const f of SOURCES) writeFileSync(join(tmp, f), readFileSync(join(srcDir, f)))
    log('building the capture program (clang → BPF, libbpf loader); cached in ' + dir)
    run('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], 'vmlinux.h')
    const arch = process.arch === 'arm64' ? 'arm64' : 'x86'
    // Two builds: kernel objects read through typed pointers (Linux 6.2+), and helper reads for older
    // kernels (KILN_PORTABLE), which the agent runs when the first cannot load (socket-source.ts).
    for (const [suffix, defs] of [
      ['', []],
      ['-portable', ['-DKILN_PORTABLE']],
    ] as const) {
      run('clang', [
        '-O2',
        '-g',
        '-target',
        'bpf',
        `-D__TARGET_ARCH_${arch}`,
        ...defs,
        '-I.',
        '-c',
        'socket.bpf.c',
        '-o',
        `socket${suffix}.bpf.o`,
      ])
      run('bpftool', ['gen', 'skeleton', `socket${suffix}.bpf.o`, 'name', 'socket_bpf'], `socket${suffix}.skel.h`)
      run('cc', ['-O2', ...defs, '-I.', 'loader.c', 'http1.c', '-o', `kiln-capture${suffix}`, '-lbpf', '-lelf', '-lz'])
    }
    rmSync(dir, { recursive: true, force: true })
    renameSync(tmp, dir)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  return bin
}
