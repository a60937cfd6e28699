// Entry of a VU worker thread: TypeScript through tsx, as in the main thread (bin/kiln.js).
import { register } from 'tsx/esm/api'
register()
await import('./worker.ts')
