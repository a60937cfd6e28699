/** `kiln inspect`: the resolved options and execution plan of a script, without running it. */
import type { CommandSpec } from './args.ts'
import { bool } from './args.ts'
import { spec as runSpec, parseRunArgs, runnerFromArgs } from './run.ts'
import { describe, scenarioVUs } from '../loadtest/run/options.ts'
import { requirements } from '../loadtest/run/ui.ts'

export const spec: CommandSpec = {
  name: 'inspect',
  usage: 'kiln inspect [OPTIONS] script.js|archive.tar',
  summary: 'Print the resolved options and execution plan of a k6 script',
  options: { 'execution-requirements': { type: 'boolean', help: 'print only the max VUs and total duration' }, ...runSpec.options },
}

export async function run(argv: string[]): Promise<number> {
  const p = parseRunArgs(spec, argv)
  if (!p) return 0
  const runner = runnerFromArgs(p, 'inspect')
  await runner.prepare()
  const sc = runner.opts.scenarios
  const req = requirements(sc)
  const plan = { maxVUs: req.maxVUs, totalDuration: `${req.totalDurationMs / 1000}s` }
  const out = bool(p, 'execution-requirements')
    ? plan
    : {
        ...runner.opts.raw,
        scenarios: Object.fromEntries(
          sc.map((s) => [
            s.name,
            { executor: s.executor, plan: describe(s), vus: scenarioVUs(s), exec: s.exec, startTime: `${s.startTimeMs / 1000}s` },
          ]),
        ),
        executionRequirements: plan,
      }
  process.stdout.write(JSON.stringify(out, null, 2) + '\n')
  return 0
}
