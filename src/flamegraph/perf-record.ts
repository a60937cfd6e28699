import { spawn } from 'node:child_process'
import { existsSync, openSync, readSync, closeSync, statSync, readFileSync } from 'node:fs'
import { KilnError } from '../model/errors.ts'
import { PerfCollapser } from './collapse-perf.ts'
import { LineSplitter } from './lines.ts'

/** What to record: one running process for a while, or a command until it exits. */
export interface RecordOptions {
  pid?: number
  command?: string[]
  /** Stop after this long (required with `pid`). */
  durationMs?: number
  /** Sampling frequency in Hz. */
  frequency: number
  /** Where perf writes its data file. */
  dataFile: string
  /** Where the command's own stdout goes: ours, or our stderr when stdout carries the profile. */
  commandStdout?: 'stdout' | 'stderr'
}

export interface Recording {
  dataFile: string
  /** Samples perf says it wrote ("Captured and wrote … (N samples)"), when it says. */
  samples?: number
  /** Unix ms when recording started and ended. */
  from: number
  until: number
}

const paranoid = (): string => {
  try {
    return readFileSync('/proc/sys/kernel/perf_event_paranoid', 'utf8').trim()
  } catch {
    return '?'
  }
}

/** Turns perf's error text into a message that says what to do. */
function perfError(stderr: string, o: RecordOptions): KilnError {
  const said = stderr.trim().split('\n').filter(Boolean).slice(0, 3).join(' / ')
  if (/Access to performance monitoring|No permission|Permission denied|perf_event_paranoid/.test(stderr)) {
    return new KilnError(
      'KILN_UNAUTHORIZED',
      `perf has no permission to profile${o.pid ? ` pid ${o.pid}` : ''}: run kiln profile as root, give perf CAP_PERFMON, or lower kernel.perf_event_paranoid (now ${paranoid()}; sysctl -w kernel.perf_event_paranoid=1). perf said: ${said}`,
    )
  }
  if (o.pid && /No such process|Couldn't create thread/.test(stderr))
    return new KilnError('KILN_NOT_FOUND', `process ${o.pid} exited before perf could attach; check the pid (ps -p ${o.pid})`)
  const workload = /Failed to collect .* workload: (.*)/.exec(stderr)
  if (workload) return new KilnError('KILN_USAGE', `cannot run '${o.command?.[0]}': ${workload[1]}; check the command after --`)
  return new KilnError('KILN_INTERNAL', `perf record failed: ${said || 'no message'}`)
}

/** Records with `perf record -g` (call graphs, CPU clock) and returns the data file. */
export function recordPerf(o: RecordOptions, onStderr: (text: string) => void = (t) => process.stderr.write(t)): Promise<Recording> {
  if (o.pid !== undefined && !existsSync(`/proc/${o.pid}`)) {
    return Promise.reject(new KilnError('KILN_NOT_FOUND', `no process with pid ${o.pid}; list processes with ps -e`))
  }
  const target =
    o.pid !== undefined ? ['-p', String(o.pid), '--', 'sleep', String((o.durationMs ?? 30000) / 1000)] : ['--', ...(o.command ?? [])]
  const args = ['record', '-F', String(o.frequency), '-g', '-o', o.dataFile, ...target]
  return new Promise((resolve, reject) => {
    const from = Date.now()
    // Its own process group, so that stopping after --duration reaches the workload as well.
    const child = spawn('perf', args, { stdio: ['ignore', o.commandStdout === 'stdout' ? 1 : 2, 'pipe'], detached: true })
    let stderr = ''
    let forwarded = 0
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (t: string) => {
      stderr += t
      // Pass the workload's own complete lines through; perf's progress and errors stay here.
      const end = stderr.lastIndexOf('\n') + 1
      const own = stderr
        .slice(forwarded, end)
        .split('\n')
        .filter((l) => l && !l.startsWith('[ perf record:'))
      forwarded = end
      if (own.length && !/Access to performance|perf_event_paranoid|Failed to collect|No such process/.test(stderr))
        onStderr(own.join('\n') + '\n')
    })
    const stop = () => {
      try {
        process.kill(-child.pid!, 'SIGINT')
      } catch {
        // already gone
      }
    }
    const timer = o.pid === undefined && o.durationMs !== undefined ? setTimeout(stop, o.durationMs) : undefined
    process.on('SIGINT', stop)
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      process.off('SIGINT', stop)
      reject(
        e.code === 'ENOENT'
          ? new KilnError('KILN_UNSUPPORTED', 'perf is not installed; install it (Debian: apt-get install linux-perf) and try again')
          : e,
      )
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      process.off('SIGINT', stop)
      const until = Date.now()
      const wrote = /Captured and wrote .*\((\d+) samples\)/.exec(stderr)
      if (!wrote && (code !== 0 || !existsSync(o.dataFile))) return reject(perfError(stderr, o))
      if (!wrote && /Access to performance|No such process|Failed to collect/.test(stderr)) return reject(perfError(stderr, o))
      resolve({ dataFile: o.dataFile, ...(wrote ? { samples: Number(wrote[1]) } : {}), from, until })
    })
  })
}

/**
 * Checks a perf.data file is whole. Its 104-byte header (magic "PERFILE2"; the data section's
 * offset and size at bytes 40 and 48; a 256-bit feature bitmap at 72) must not point past the
 * end of the file, nor may the feature sections, whose table of {offset, size} pairs follows the
 * data. perf script itself reads a cut file silently, giving a partial profile.
 */
export function checkPerfData(file: string): void {
  const size = statSync(file).size
  const fd = openSync(file, 'r')
  const read = (at: number, n: number): Buffer => {
    const b = Buffer.alloc(n)
    return b.subarray(0, readSync(fd, b, 0, n, at))
  }
  try {
    const head = read(0, 104)
    if (head.length < 104 || head.toString('latin1', 0, 8) !== 'PERFILE2') {
      throw new KilnError(
        'KILN_BAD_FORMAT',
        `${file} is not a perf.data file (or is cut short before its header ends); record again with perf record -g`,
      )
    }
    const truncated = (what: string, end: number) =>
      new KilnError(
        'KILN_BAD_FORMAT',
        `${file} is truncated: its ${what} ends at byte ${end}, the file has ${size} bytes; record again (was perf killed, or the disk full?)`,
      )
    const dataEnd = Number(head.readBigUInt64LE(40) + head.readBigUInt64LE(48))
    if (dataEnd > size) throw truncated('sample data', dataEnd)
    let features = 0
    for (let i = 72; i < 104; i++) for (let b = head[i]!; b; b &= b - 1) features++
    const table = read(dataEnd, features * 16)
    if (table.length < features * 16) throw truncated('feature table', dataEnd + features * 16)
    for (let i = 0; i < features; i++) {
      const end = Number(table.readBigUInt64LE(i * 16) + table.readBigUInt64LE(i * 16 + 8))
      if (end > size) throw truncated('header features', end)
    }
  } finally {
    closeSync(fd)
  }
}

/** Runs `perf script` on a data file and collapses its stacks, checking nothing was lost. */
export function collapsePerfData(
  dataFile: string,
  options: { expectedSamples?: number; countSamples?: boolean } = {},
): Promise<PerfCollapser> {
  checkPerfData(dataFile)
  const c = new PerfCollapser({ countSamples: options.countSamples ?? true })
  return new Promise((resolve, reject) => {
    const child = spawn('perf', ['script', '-i', dataFile], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    const lines = new LineSplitter((l) => c.line(l))
    child.stdout.setEncoding('latin1')
    child.stdout.on('data', (chunk: string) => lines.push(chunk))
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (t: string) => (stderr += t))
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'ENOENT'
          ? new KilnError('KILN_UNSUPPORTED', 'perf is not installed; install it (Debian: apt-get install linux-perf)')
          : e,
      ),
    )
    child.on('close', (code) => {
      const said = stderr.trim().split('\n').slice(-2).join(' / ')
      if (code !== 0) return reject(new KilnError('KILN_BAD_FORMAT', `perf script failed on ${dataFile} (exit ${code}): ${said}`))
      if (/failed to process|truncated|Invalid argument/i.test(stderr))
        return reject(new KilnError('KILN_BAD_FORMAT', `perf output is truncated (${said}); record again`))
      if (lines.end() || (c.samples > 0 && lines.last !== ''))
        return reject(
          new KilnError('KILN_BAD_FORMAT', 'perf output is truncated: the last sample does not end with a blank line; record again'),
        )
      if (options.expectedSamples !== undefined && c.samples < options.expectedSamples) {
        return reject(
          new KilnError(
            'KILN_BAD_FORMAT',
            `perf output is truncated: perf record wrote ${options.expectedSamples} samples, perf script gave ${c.samples}; record again`,
          ),
        )
      }
      resolve(c)
    })
  })
}
