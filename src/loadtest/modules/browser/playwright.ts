/**
 * playwright-core, loaded on first use: importing it costs ~0.75 s of CPU and ~86 MB of memory
 * (measured on the 2-core dev machine), in every thread of every run — a run whose script has no
 * browser scenario must not pay that. Loaded with require so the synchronous host functions
 * (k6's `devices`) can reach it too.
 */
import { createRequire } from 'node:module'

type Playwright = typeof import('playwright-core')
let loaded: Playwright | undefined

export function playwright(): Playwright {
  loaded ??= createRequire(import.meta.url)('playwright-core') as Playwright
  return loaded
}
