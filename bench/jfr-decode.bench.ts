/**
 * JFR decode throughput: Kiln's decodeJfr against the JDK's own reader (jdk.jfr.consumer,
 * RecordingFile) doing the same job — every sampled event's stack turned into frame names and
 * counted per stack — on the same recordings, in interleaved rounds. Method: bench/README.md.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { spawn, spawnSync } from 'node:child_process'
import { createInterface } from 'node:readline'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { decodeJfr } from '../src/formats/jfr.ts'
import { noJdk, recordHot } from '../test/formats/jfr-support.ts'
import { fmt } from './support.ts'

const why = noJdk()
if (why) {
  console.log(`skipped: ${why}`)
  process.exit(0)
}
const dir = mkdtempSync(join(tmpdir(), 'kiln-jfr-bench-'))
// The repository's JDK recording (scripts/fixtures/make-jfr.sh), and Pyroscope's async-profiler
// recordings when a sibling ../shared checkout has them (AGPL-3.0: never copied in).
const shared = join(import.meta.dirname, '../../shared/fixtures/pyroscope/jfr')
const gz = [join(import.meta.dirname, '../test/fixtures/jfr/hot.jfr.gz')]
if (existsSync(shared)) gz.push(join(shared, 'dump1.jfr.gz'), join(shared, 'cortex-dev-01__kafka-0__cpu__0.jfr.gz'))
else console.log(`../shared/fixtures is absent: the JDK recordings only`)
const files = gz.map((f) => {
  const path = join(dir, basename(f).replace(/\.gz$/, ''))
  writeFileSync(path, gunzipSync(readFileSync(f)))
  return path
})
files.push(recordHot())
const bodies = files.map((f) => new Uint8Array(readFileSync(f)))
const bytes = bodies.reduce((n, b) => n + b.length, 0)

// The peer: a JVM that, per line "MS" on stdin, decodes all files for at least MS and prints "passes ns".
const JAVA = `
import java.nio.file.*; import java.util.*; import jdk.jfr.consumer.*;
public class JfrPeer {
  static final Set<String> SAMPLED = Set.of("jdk.ExecutionSample", "jdk.ObjectAllocationInNewTLAB", "jdk.ObjectAllocationOutsideTLAB",
    "jdk.ObjectAllocationSample", "jdk.JavaMonitorEnter", "jdk.ThreadPark", "profiler.WallClockSample", "profiler.LiveObject", "profiler.Malloc");
  static long pass(List<Path> files) throws Exception {
    long n = 0;
    for (Path p : files) {
      Map<String, Long> counts = new HashMap<>();
      try (RecordingFile f = new RecordingFile(p)) {
        while (f.hasMoreEvents()) {
          RecordedEvent e = f.readEvent();
          RecordedStackTrace st = e.getStackTrace();
          if (st == null || !SAMPLED.contains(e.getEventType().getName())) continue;
          StringBuilder k = new StringBuilder();
          List<RecordedFrame> fr = st.getFrames();
          for (int i = fr.size() - 1; i >= 0; i--) { RecordedMethod m = fr.get(i).getMethod(); k.append(m.getType().getName()).append('.').append(m.getName()).append(';'); }
          counts.merge(k.toString(), 1L, Long::sum);
        }
      }
      n += counts.size();
    }
    return n;
  }
  public static void main(String[] a) throws Exception {
    List<Path> files = new ArrayList<>(); for (String s : a) files.add(Paths.get(s));
    Scanner in = new Scanner(System.in);
    while (in.hasNextLine()) {
      long ms = Long.parseLong(in.nextLine().trim()), t0 = System.nanoTime(), passes = 0;
      do { pass(files); passes++; } while (System.nanoTime() - t0 < ms * 1_000_000L);
      System.out.println(passes + " " + (System.nanoTime() - t0)); System.out.flush();
    }
  }
}
`
writeFileSync(join(dir, 'JfrPeer.java'), JAVA)
const c = spawnSync('javac', ['JfrPeer.java'], { cwd: dir, encoding: 'utf8' })
if (c.status !== 0) throw new Error(c.stderr)
const java = spawn('java', ['-cp', dir, 'JfrPeer', ...files], { stdio: ['pipe', 'pipe', 'inherit'] })
const lines = createInterface({ input: java.stdout! })[Symbol.asyncIterator]()
async function peerRound(ms: number): Promise<[number, number]> {
  java.stdin!.write(`${ms}\n`)
  const { value } = await lines.next()
  const [passes, ns] = String(value).split(' ').map(Number)
  return [passes!, ns! / 1e9]
}
function kilnRound(ms: number): [number, number] {
  const t0 = process.hrtime.bigint()
  let passes = 0
  do {
    for (const b of bodies) decodeJfr(b)
    passes++
  } while (process.hrtime.bigint() - t0 < BigInt(ms) * 1_000_000n)
  return [passes, Number(process.hrtime.bigint() - t0) / 1e9]
}

// Warm-up (JIT on both sides), then interleaved rounds of 500 ms so both see the same machine noise.
const total = { kiln: [0, 0], jdk: [0, 0] }
await peerRound(3000)
kilnRound(3000)
const deadline = Date.now() + Number(process.env.BENCH_SECONDS ?? 10) * 1000
while (Date.now() < deadline) {
  const k = kilnRound(500)
  const j = await peerRound(500)
  total.kiln = [total.kiln[0]! + k[0], total.kiln[1]! + k[1]]
  total.jdk = [total.jdk[0]! + j[0], total.jdk[1]! + j[1]]
}
java.stdin!.end()
rmSync(dir, { recursive: true, force: true })
console.log(`${bodies.length} recordings (dump1, kafka, a JDK recording): ${fmt(bytes / 1024, 0)} KiB`)
const rate = (x: number[]) => x[0]! / x[1]!
for (const [name, t] of Object.entries(total))
  console.log(`${name.padEnd(5)} ${fmt((rate(t) * bytes) / 1e6).padStart(6)} MB/s  ${fmt(rate(t)).padStart(6)} passes/s`)
console.log(`ratio kiln / JDK jdk.jfr.consumer: ${(rate(total.kiln) / rate(total.jdk)).toFixed(2)} (higher is better for Kiln)`)
