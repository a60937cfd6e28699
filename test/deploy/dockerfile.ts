/** Reads deploy/ Dockerfiles with dockerfile-ast (no Docker daemon here) into the facts tests check. */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DockerfileParser, type Dockerfile, type Healthcheck } from 'dockerfile-ast'

const deploy = join(import.meta.dirname, '..', '..', 'deploy')

export function dockerfile(name: string): Dockerfile {
  return DockerfileParser.parse(readFileSync(join(deploy, name), 'utf8'))
}

/** The last stage — the image that runs — as plain facts. */
export interface Stage {
  from: string
  /** ENV, by name. */
  env: Record<string, string>
  /** USER as written (uid[:gid]), '' when unset. */
  user: string
  volumes: string[]
  exposed: string[]
  /** HEALTHCHECK CMD in exec form, [] when absent; its flags (--interval=…) by name. */
  healthcheck: string[]
  healthcheckFlags: Record<string, string>
  entrypoint: string[]
  cmd: string[]
  /** Every RUN line of the stage. */
  runs: string[]
}

const json = (s: string): string[] => JSON.parse(s) as string[]

export function finalStage(d: Dockerfile): Stage {
  const froms = d.getFROMs()
  const last = froms[froms.length - 1]!
  const start = last.getRange().start.line
  const stage: Stage = {
    from: last.getImageName() ?? '',
    env: {},
    user: '',
    volumes: [],
    exposed: [],
    healthcheck: [],
    healthcheckFlags: {},
    entrypoint: [],
    cmd: [],
    runs: [],
  }
  for (const i of d.getInstructions()) {
    if (i.getRange().start.line < start) continue
    const args = i.getArgumentsContent() ?? ''
    switch (i.getKeyword()) {
      case 'ENV':
        for (const p of (i as unknown as { getProperties(): { getName(): string; getValue(): string | null }[] }).getProperties())
          stage.env[p.getName()] = p.getValue() ?? ''
        break
      case 'USER':
        stage.user = args.trim()
        break
      case 'VOLUME':
        stage.volumes.push(...(args.trim().startsWith('[') ? json(args) : args.trim().split(/\s+/)))
        break
      case 'EXPOSE':
        stage.exposed.push(...args.trim().split(/\s+/))
        break
      case 'HEALTHCHECK': {
        const h = i as Healthcheck
        for (const f of h.getFlags()) stage.healthcheckFlags[f.getName()] = f.getValue() ?? ''
        const sub = h.getSubcommand()
        if (sub?.getValue().toUpperCase() === 'CMD') stage.healthcheck = json(args.slice(args.indexOf('[')))
        break
      }
      case 'ENTRYPOINT':
        stage.entrypoint = json(args)
        break
      case 'CMD':
        stage.cmd = json(args)
        break
      case 'RUN':
        stage.runs.push(args)
        break
    }
  }
  return stage
}

/** RUN lines of every stage before the last (the build stages). */
export function buildRuns(d: Dockerfile): string[] {
  const froms = d.getFROMs()
  const start = froms[froms.length - 1]!.getRange().start.line
  return d
    .getInstructions()
    .filter((i) => i.getKeyword() === 'RUN' && i.getRange().start.line < start)
    .map((i) => i.getArgumentsContent() ?? '')
}
