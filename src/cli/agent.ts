import { readFileSync } from 'node:fs'
import { parseCommand, str, type CommandSpec } from './args.ts'
import { defaultServer } from '../client/client.ts'
import { KilnError } from '../model/errors.ts'
import { parseDuration } from '../model/time.ts'
import { defaultNode, runAgent } from '../agent/agent.ts'
import { parseRelabelConfig, type RelabelRule } from '../agent/relabel.ts'
import { agentAsid } from '../agent/trace.ts'
import { SocketSource } from '../trace/capture/index.ts'
import { hostSources, ProcessMeta } from '../trace/sources/index.ts'
import type { TraceSource } from '../trace/types.ts'

export const spec: CommandSpec = {
  name: 'agent',
  usage:
    'kiln agent --server URL [--trace | --trace-only] [--frequency 19] [--upload-interval 10s] [--relabel-config FILE] [--sampler perf|bpftrace]',
  summary:
    'Profile every process on this host (perf, system-wide) and upload one CPU profile per process; with --trace, also every request.',
  description:
    'Samples all CPUs with `perf record -a -g` at --frequency Hz, and every --upload-interval uploads\n' +
    "each process's folded stacks to {server}/ingest as `<comm>.cpu{pid,comm,exe,cgroup,…}`. Labels:\n" +
    'pid, comm, exe, cgroup, container_id and pod_uid (from the cgroup path), namespace, pod and\n' +
    'container (from /var/log/containers on a Kubernetes node), node. --relabel-config takes\n' +
    'Prometheus relabel_configs rules (keep, drop, replace, labeldrop, labelkeep, labelmap); meta\n' +
    'labels __meta_process_cmdline and __meta_process_ppid are there for the rules, then dropped.\n' +
    'Needs root (or CAP_PERFMON + CAP_SYS_ADMIN). Stops on SIGINT/SIGTERM after uploading the last window.\n' +
    '\n' +
    '--trace adds request tracing (--trace-only: tracing without profiles): an eBPF program on\n' +
    'syscall tracepoints and OpenSSL uprobes (built on the host with clang and libbpf, cached)\n' +
    "captures every TCP/UDP socket's bytes; HTTP/1, HTTP/2 and gRPC, DNS, MySQL, PostgreSQL and Redis\n" +
    "requests are paired with their responses into Pixie's tables (http_events, dns_events, …,\n" +
    'conn_stats), with process_stats, network_stats and block I/O beside them, uploaded to\n' +
    '{server}/api/v1/trace/events every second. Needs root, BTF (/sys/kernel/btf/vmlinux) and tracefs.',
  options: {
    server: { type: 'string', arg: 'URL', help: 'Kiln or Pyroscope server to upload to (default: $KILN_SERVER or http://localhost:4040)' },
    sampler: {
      type: 'string',
      arg: 'perf|bpftrace',
      default: 'perf',
      help: 'perf record -a -g, or bpftrace profile:hz (see the log for what each names)',
    },
    frequency: { type: 'string', short: 'F', arg: 'HZ', default: '19', help: 'samples per second per CPU' },
    'upload-interval': { type: 'string', arg: 'DURATION', default: '10s', help: 'window length and upload period (at least 1s)' },
    'relabel-config': { type: 'string', arg: 'FILE', help: 'YAML relabel rules (a list, or relabel_configs: [...])' },
    node: { type: 'string', arg: 'NAME', help: 'the node label (default: $NODE_NAME or the host name)' },
    'log-root': { type: 'string', arg: 'DIR', default: '/var/log', help: "where the kubelet's containers/ and pods/ log links are" },
    'max-queue': {
      type: 'string',
      arg: 'MB',
      default: '64',
      help: 'memory for profiles (and, apart, trace rows) waiting while the server is unreachable',
    },
    trace: { type: 'boolean', help: 'also trace requests (HTTP, gRPC, DNS, MySQL, PostgreSQL, Redis), connections and process stats' },
    'trace-only': { type: 'boolean', help: 'trace requests without profiling' },
    'capture-bytes': { type: 'string', arg: 'BYTES', default: '16384', help: 'bytes captured per socket send/receive (64 to 16384)' },
    'fs-slower-than': {
      type: 'string',
      arg: 'DURATION',
      default: '10ms',
      help: 'fs_slow_events keeps file-system operations at least this slow',
    },
    'trace-sources': {
      type: 'string',
      arg: 'LIST',
      default: 'all',
      help: 'what --trace collects: all, or some of socket,process_stats,network_stats,block_io_events,fs_slow_events',
    },
  },
  examples: [
    'sudo kiln agent --server http://localhost:4040',
    'sudo kiln agent --server http://kiln:4040 --frequency 49 --upload-interval 15s --relabel-config relabel.yaml',
    'sudo kiln agent --server http://localhost:4040 --trace-only',
  ],
}

export async function run(argv: string[]): Promise<number> {
  const p = parseCommand(spec, argv)
  if (!p) return 0
  if (p.positionals.length)
    throw new KilnError('KILN_USAGE', `agent takes no arguments (got ${JSON.stringify(p.positionals[0])}); see kiln agent --help`)
  const server = str(p, 'server') ?? defaultServer()
  try {
    new URL(server)
  } catch {
    throw new KilnError('KILN_USAGE', `--server ${server}: not a URL; e.g. http://localhost:4040`)
  }
  const frequency = Number(str(p, 'frequency'))
  if (!Number.isInteger(frequency) || frequency < 1 || frequency > 10000)
    throw new KilnError('KILN_USAGE', `--frequency ${str(p, 'frequency')}: expected whole Hz between 1 and 10000 (19 is usual)`)
  const sampler = str(p, 'sampler')!
  if (sampler !== 'perf' && sampler !== 'bpftrace') throw new KilnError('KILN_USAGE', `--sampler ${sampler}: use perf or bpftrace`)
  const every = str(p, 'upload-interval')!
  const intervalMs = parseDuration(/^\d+(\.\d+)?$/.test(every) ? `${every}s` : every)
  if (!(intervalMs >= 1000))
    throw new KilnError('KILN_USAGE', `--upload-interval ${every}: must be at least 1s (a profile per process per window; 10s is usual)`)
  const maxMb = Number(str(p, 'max-queue'))
  if (!(maxMb > 0)) throw new KilnError('KILN_USAGE', `--max-queue ${str(p, 'max-queue')}: expected megabytes, more than 0`)
  let rules: RelabelRule[] = []
  const file = str(p, 'relabel-config')
  if (file !== undefined) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (e) {
      throw new KilnError(
        'KILN_NOT_FOUND',
        `cannot read --relabel-config ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      )
    }
    rules = parseRelabelConfig(text, file)
  }
  const trace = p.values['trace-only'] ? 'only' : p.values['trace'] ? 'on' : 'off'
  const captureBytes = Number(str(p, 'capture-bytes'))
  if (!Number.isInteger(captureBytes) || captureBytes < 64 || captureBytes > 16384)
    throw new KilnError('KILN_USAGE', `--capture-bytes ${str(p, 'capture-bytes')}: expected a whole number of bytes from 64 to 16384`)
  const slower = str(p, 'fs-slower-than')!
  const fsSlowerThanMs = parseDuration(/^\d+(\.\d+)?$/.test(slower) ? `${slower}ms` : slower)
  if (!(fsSlowerThanMs >= 0)) throw new KilnError('KILN_USAGE', `--fs-slower-than ${slower}: expected a duration such as 10ms`)
  const node = str(p, 'node') ?? defaultNode()
  const log = (line: string) => process.stderr.write(`kiln agent: ${line}\n`)
  let traceSources: TraceSource[] = []
  if (trace !== 'off') {
    const asid = agentAsid(node)
    const meta = new ProcessMeta({ node, asid, logRoot: str(p, 'log-root')! })
    const all = [
      new SocketSource({ meta, log, captureBytes, connStatsIntervalMs: intervalMs }),
      ...hostSources({ node, asid, intervalMs, fsSlowerThanMs, log, meta }),
    ]
    const names = all.map((s) => s.name)
    const want = str(p, 'trace-sources')!
    const picked = want === 'all' ? names : want.split(',').map((n) => n.trim())
    for (const n of picked)
      if (!names.includes(n))
        throw new KilnError(
          'KILN_USAGE',
          `--trace-sources ${want}: ${JSON.stringify(n)} is not a source; use all or some of ${names.join(',')}`,
        )
    traceSources = all.filter((s) => picked.includes(s.name))
  }
  const ac = new AbortController()
  const stop = (sig: string) => {
    if (ac.signal.aborted) return
    log(`${sig}: uploading the last window, then exiting`)
    ac.abort()
  }
  const onInt = () => stop('SIGINT')
  const onTerm = () => stop('SIGTERM')
  process.on('SIGINT', onInt)
  process.on('SIGTERM', onTerm)
  try {
    await runAgent(
      {
        server,
        sampler,
        frequency,
        intervalMs,
        rules,
        logRoot: str(p, 'log-root')!,
        node,
        maxQueueBytes: maxMb * 1024 * 1024,
        log,
        trace,
        traceSources,
      },
      ac.signal,
    )
  } finally {
    process.off('SIGINT', onInt)
    process.off('SIGTERM', onTerm)
  }
  // An upload still hanging on a dead server must not keep the process alive.
  process.exit(0)
}
