/**
 * An ingest worker thread: decode, convert, check and prepare (hash) uploads, off the event loop,
 * down to the rows as bytes. Takes jobs in batches; answers each with `{ id, writes, series }` or
 * `{ id, error: { code, message } }`, in batches too: the answers to the jobs of one turn go in one
 * message, so several requests share one wake-up of the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { isKilnError } from '../model/errors.ts'
import { prepareWritesPacked, SentRows } from '../store/prepare.ts'
import { prepareUpload, type Answer, type Job } from './prepare.ts'
import type { IngestConfig } from './ingester.ts'

const config = workerData as IngestConfig
// Answers wait at most this long for the rest of their turn's jobs (a large upload in the batch answers its own).
const HOLD_MS = 2
// The rows this thread sent, for jobs that leave those out.
const sent = new SentRows()

let answers: Answer[] = []
let transfer: ArrayBuffer[] = []
let since = 0

function flush(): void {
  if (!answers.length) return
  parentPort!.postMessage(answers, transfer)
  answers = []
  transfer = []
}

function run(job: Job): void {
  try {
    const writes = prepareUpload(job, config)
    // Prepared again with every row: the writer needs some of them (rare: a commit failed, an hour passed).
    if (job.rows === 'all') sent.forget(job.tenant)
    const packed = prepareWritesPacked(job.tenant, writes, Math.floor(job.now / 1000), job.rows && sent)
    answers.push({ id: job.id, packed, series: writes.length })
    // The rows' bytes move to the main thread, not copied there.
    transfer.push(...packed.buffers)
  } catch (e) {
    const error = isKilnError(e)
      ? { code: e.code, message: e.message }
      : { code: 'KILN_INTERNAL' as const, message: (e as Error)?.stack ?? String(e) }
    answers.push({ id: job.id, error })
  }
}

parentPort!.on('message', (jobs: Job[]) => {
  if (!answers.length) {
    since = performance.now()
    setImmediate(flush)
  }
  for (const job of jobs) {
    run(job)
    if (performance.now() - since > HOLD_MS) {
      flush()
      since = performance.now()
    }
  }
})
