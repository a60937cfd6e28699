/** `kiln new`: writes a starter k6 script. */
import { existsSync, writeFileSync } from 'node:fs'
import { parseCommand, str, bool, type CommandSpec } from './args.ts'
import { KilnError } from '../model/errors.ts'

const templates: Record<string, string> = {
  minimal: `import http from 'k6/http'
import { sleep } from 'k6'

export const options = { vus: 10, duration: '30s' }

// The system under test: kiln run -e BASE_URL=http://host:port script.js
const BASE_URL = __ENV.BASE_URL || 'http://localhost:8080'

export default function () {
  http.get(BASE_URL + '/')
  sleep(1)
}
`,
  protocol: `import http from 'k6/http'
import { check, sleep } from 'k6'

const BASE_URL = __ENV.BASE_URL || 'http://localhost:8080'

export const options = {
  stages: [
    { duration: '10s', target: 5 },
    { duration: '20s', target: 5 },
    { duration: '10s', target: 0 },
  ],
  thresholds: {
    http_req_failed: ['rate<0.01'],
    http_req_duration: ['p(95)<500'],
  },
}

export function setup() {
  return { start: Date.now() }
}

export default function () {
  const res = http.get(BASE_URL + '/')
  check(res, { 'status is 200': (r) => r.status === 200 })
  sleep(1)
}
`,
}

export const spec: CommandSpec = {
  name: 'new',
  usage: 'kiln new [OPTIONS] [FILE]',
  summary: 'Write a starter k6 script (default script.js)',
  options: {
    template: { type: 'string', arg: 'NAME', default: 'minimal', help: `template: ${Object.keys(templates).join(', ')}` },
    force: { type: 'boolean', short: 'f', help: 'overwrite an existing file' },
  },
  examples: ['kiln new', 'kiln new --template protocol load.js'],
}

export async function run(argv: string[]): Promise<number> {
  const p = parseCommand(spec, argv)
  if (!p) return 0
  const file = p.positionals[0] ?? 'script.js'
  const name = str(p, 'template') ?? 'minimal'
  const text = templates[name]
  if (!text) throw new KilnError('KILN_USAGE', `unknown template '${name}': use one of ${Object.keys(templates).join(', ')}`)
  if (existsSync(file) && !bool(p, 'force')) throw new KilnError('KILN_USAGE', `${file} exists: pick another name or pass --force`)
  writeFileSync(file, text)
  process.stdout.write(`wrote ${file} (template ${name}); run it with: kiln run ${file}\n`)
  return 0
}
