#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx), so there is no build output to go stale.
import { register } from 'tsx/esm/api'
register()
await import('../src/cli/main.ts')
