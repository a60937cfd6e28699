/**
 * Shared by the JFR tests: the Pyroscope fixtures and a recording the JDK writes here, of a small
 * Java program with a known hot method, a lock two threads fight over, and large allocations.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'

/**
 * Pyroscope's Java fixtures (async-profiler, AGPL-3.0, never copied into the repository), read
 * from a sibling checkout when there is one: cross-checks against Pyroscope's expected output.
 */
export const JFR_DIR = join(import.meta.dirname, '../../../shared/fixtures/pyroscope/jfr')
/** Why the cross-checks against Pyroscope's recordings are skipped, or undefined when they run. */
export const noSharedJfr = existsSync(JFR_DIR)
  ? undefined
  : `../shared/fixtures is absent (${JFR_DIR}): cross-check against Pyroscope's async-profiler recordings skipped; the repository's JDK recording (test/fixtures/jfr) and jfr-edge's written recordings cover the decoder`
export const readJfrFixture = (name: string) => readFileSync(join(JFR_DIR, name))
export const gunzipped = (name: string) => gunzipSync(readJfrFixture(name))
/** The repository's recording of Hot.java by the JDK (scripts/fixtures/make-jfr.sh), gzipped as committed. */
export const HOT_JFR_GZ = join(import.meta.dirname, '../fixtures/jfr/hot.jfr.gz')
export const hotJfr = () => gunzipSync(readFileSync(HOT_JFR_GZ))

/** The expected folded stacks beside a fixture: `app.event{k=v}` → folded text (sample counts). */
export function expectedFolded(name: string): Record<string, string> {
  return JSON.parse(gunzipSync(readJfrFixture(name)).toString('utf8')) as Record<string, string>
}

/** Hot.java: one source for the recording made at test time and the committed fixture. */
const HOT_JAVA = readFileSync(join(import.meta.dirname, '../../scripts/fixtures/Hot.java'), 'utf8')

/** Why a JDK recording cannot be made here, or undefined when javac, java and jfr all run. */
export function noJdk(): string | undefined {
  for (const tool of ['javac', 'java', 'jfr']) {
    const r = spawnSync(tool, ['--version'], { encoding: 'utf8' })
    if (r.status !== 0) return `${tool} is not installed (install a JDK, e.g. Debian openjdk-17-jdk-headless)`
  }
  return undefined
}

let recording: string | undefined
/**
 * Compiles Hot.java and records it for 1.5 s with the JDK's own Flight Recorder ("profile"
 * settings, plus TLAB events, every monitor wait, samples every 20 ms), once per process;
 * returns the .jfr path, which lasts until the process exits.
 */
export function recordHot(): string {
  if (recording) return recording
  const dir = mkdtempSync(join(tmpdir(), 'kiln-jfr-'))
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'Hot.java'), HOT_JAVA)
  const c = spawnSync('javac', ['Hot.java'], { cwd: dir, encoding: 'utf8', timeout: 120_000 })
  if (c.status !== 0) throw new Error(`javac failed: ${c.stderr}`)
  const file = join(dir, 'hot.jfr')
  const settings = [
    `filename=${file}`,
    'settings=profile',
    'jdk.ObjectAllocationInNewTLAB#enabled=true',
    'jdk.ObjectAllocationOutsideTLAB#enabled=true',
    'jdk.JavaMonitorEnter#threshold=0ms',
    // Not the 10 ms of settings=profile, nor Kiln's 100 Hz default: the period must come from the recording.
    'jdk.ExecutionSample#period=20ms',
  ].join(',')
  const r = spawnSync('java', [`-XX:StartFlightRecording:${settings}`, '-cp', dir, 'Hot', '1500'], { encoding: 'utf8', timeout: 120_000 })
  if (r.status !== 0) throw new Error(`java failed: ${r.stderr}${r.stdout}`)
  return (recording = file)
}

/** Runs the JDK's `jfr` tool and returns its stdout. */
export function jfrTool(args: string[]): string {
  const r = spawnSync('jfr', args, { encoding: 'utf8', timeout: 120_000, maxBuffer: 256 << 20 })
  if (r.status !== 0) throw new Error(`jfr ${args.join(' ')} failed: ${r.stderr}`)
  return r.stdout
}
