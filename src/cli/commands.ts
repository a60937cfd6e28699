/**
 * The registry of `kiln` commands: name → lazy loader, so `kiln --help` stays fast and a
 * command's heavy imports (the store, the load tester) load only when it runs.
 * Each command module exports `spec: CommandSpec` and `run(argv): Promise<number>` (the exit code).
 */
export interface CommandModule {
  spec: import('./args.ts').CommandSpec
  run(argv: string[]): Promise<number>
}

export const commands: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  run: { summary: 'run a k6 load-test script', load: () => import('./run.ts') },
  archive: { summary: 'bundle a k6 script and its files into a tar for kiln run', load: () => import('./archive.ts') },
  compare: {
    summary: 'compare two stored load-test runs: functions that got hotter, metric changes, thresholds',
    load: () => import('./compare.ts'),
  },
  inspect: { summary: 'print the resolved options and execution plan of a k6 script', load: () => import('./inspect.ts') },
  new: { summary: 'write a starter k6 script', load: () => import('./new.ts') },
  status: { summary: 'show the status of a running load test (kiln run --address)', load: () => import('./status.ts') },
  pause: { summary: 'pause a running load test', load: () => import('./pause.ts') },
  resume: { summary: 'resume a paused load test', load: () => import('./resume.ts') },
  scale: { summary: 'change the VUs of a running externally-controlled load test', load: () => import('./scale.ts') },
  stats: { summary: 'show the live metrics of a running load test', load: () => import('./stats.ts') },
  server: { summary: 'run the Kiln server (ingest, store, query API, web UI)', load: () => import('./server.ts') },
  ingest: { summary: 'send profile files (pprof, folded, perf script, speedscope) to a server', load: () => import('./ingest.ts') },
  px: { summary: "run a PxL script (Pixie's query language) over the request-tracing tables", load: () => import('./px.ts') },
  query: { summary: 'query merged profiles: top table, or export folded/pprof/speedscope/json', load: () => import('./query.ts') },
  collapse: { summary: 'perf script output → folded stacks (stackcollapse-perf.pl)', load: () => import('./collapse.ts') },
  flamegraph: { summary: 'folded stacks → interactive SVG flame graph (flamegraph.pl)', load: () => import('./flamegraph.ts') },
  'diff-folded': { summary: 'two folded profiles → stack before after lines (difffolded.pl)', load: () => import('./diff-folded.ts') },
  profile: {
    summary: 'profile one process with perf → SVG flame graph, folded stacks, or a server push',
    load: () => import('./profile.ts'),
  },
  agent: { summary: 'profile every process on this host (perf) and upload one CPU profile per process', load: () => import('./agent.ts') },
}
