/**
 * An ingest worker thread: decode, convert, check and prepare (hash) one upload, off the event
 * loop, down to the rows as bytes. Answers `{ id, writes }` or `{ id, error: { code, message } }`.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { isKilnError } from '../model/errors.ts'
import { prepareWrites, transferList } from '../store/prepare.ts'
import { prepareUpload, type Job } from './prepare.ts'
import type { IngestConfig } from './ingester.ts'

const config = workerData as IngestConfig

parentPort!.on('message', (job: Job) => {
  try {
    const writes = prepareUpload(job, config)
    const nowS = Math.floor(job.now / 1000)
    const prepared = prepareWrites(job.tenant, writes, nowS)
    // The rows' bytes (one buffer) move to the main thread, not copied there.
    parentPort!.postMessage({ id: job.id, writes: prepared, series: writes.length }, transferList(prepared))
  } catch (e) {
    const error = isKilnError(e)
      ? { code: e.code, message: e.message }
      : { code: 'KILN_INTERNAL', message: (e as Error)?.stack ?? String(e) }
    parentPort!.postMessage({ id: job.id, error })
  }
})
