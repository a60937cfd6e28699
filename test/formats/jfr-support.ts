/**
 * Shared by the JFR tests: the Pyroscope fixtures and a recording the JDK writes here, of a small
 * Java program with a known hot method, a lock two threads fight over, and large allocations.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'

export const JFR_DIR = join(import.meta.dirname, '../../../shared/fixtures/pyroscope/jfr')
export const readJfrFixture = (name: string) => readFileSync(join(JFR_DIR, name))
export const gunzipped = (name: string) => gunzipSync(readJfrFixture(name))

/** The expected folded stacks beside a fixture: `app.event{k=v}` → folded text (sample counts). */
export function expectedFolded(name: string): Record<string, string> {
  return JSON.parse(gunzipSync(readJfrFixture(name)).toString('utf8')) as Record<string, string>
}

const HOT_JAVA = `
public class Hot {
  static volatile long sink;
  // The hot method: pure arithmetic, so nearly every CPU sample lands in it.
  static long spin(long n) { long x = 0; for (long i = 0; i < n; i++) { x += i * 31 ^ (x >>> 3); } return x; }
  static byte[] alloc(int n) { return new byte[n]; }
  public static void main(String[] a) throws Exception {
    long end = System.currentTimeMillis() + Long.parseLong(a[0]);
    Object lock = new Object();
    Thread t = new Thread(() -> { while (System.currentTimeMillis() < end) synchronized (lock) { sink += spin(2_000_000); } });
    t.start();
    while (System.currentTimeMillis() < end) {
      sink += spin(1_000_000);
      sink += alloc(1 << 16).length;
      synchronized (lock) { sink++; }
    }
    t.join();
  }
}
`

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
