/**
 * Worker threads that decode and prepare uploads, so no upload holds the event loop: a 15 MB
 * folded body takes ~1 s to decode, and 16 of them at once stalled `/ready` for 19 s when this ran
 * on the main thread. Jobs go to the worker with the fewest in flight; the jobs of one turn of the
 * event loop go to a worker in one message, and it answers in batches too: a message costs each
 * side a wake-up and ~10 us of CPU whatever it carries.
 */
import { Worker } from 'node:worker_threads'
import { KilnError } from '../model/errors.ts'
import type { PreparedWrite } from '../store/index.ts'
import { unpackWrites } from '../store/prepare.ts'
import type { IngestConfig } from './ingester.ts'
import type { Answer, Job } from './prepare.ts'

/** A job's prepared writes, and how many series. */
export type Prepared = { writes: PreparedWrite[]; series: number }

type Waiter = { resolve: (a: Prepared) => void; reject: (e: unknown) => void }

interface Slot {
  worker: Worker
  jobs: Map<number, Waiter>
  /** Jobs of this turn not posted yet, and the buffers they move. */
  queued: Job[]
  transfer: ArrayBuffer[]
}

export type JobInput = Job extends infer J ? (J extends Job ? Omit<J, 'id'> : never) : never

export class IngestPool {
  private readonly slots: Slot[] = []
  private nextId = 1
  private closed = false

  constructor(
    size: number,
    private readonly config: IngestConfig,
    private readonly log: (msg: string) => void = () => {},
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn())
  }

  private spawn(): Slot {
    const worker = new Worker(new URL('./worker-boot.mjs', import.meta.url), { workerData: this.config })
    const slot: Slot = { worker, jobs: new Map(), queued: [], transfer: [] }
    worker.on('message', (answers: Answer[]) => {
      for (const a of answers) {
        const w = slot.jobs.get(a.id)
        if (!w) continue
        slot.jobs.delete(a.id)
        if ('error' in a)
          w.reject(a.error.code === 'KILN_INTERNAL' ? new Error(a.error.message) : new KilnError(a.error.code, a.error.message))
        else w.resolve({ writes: unpackWrites(a.packed), series: a.series })
      }
    })
    // A worker that dies (out of memory on a hostile body) fails its own jobs only, and is replaced.
    const died = (why: string) => {
      for (const w of slot.jobs.values())
        w.reject(
          new KilnError('KILN_LIMIT', `the upload could not be decoded: the decoding thread stopped (${why}); send a smaller profile`),
        )
      slot.jobs.clear()
      slot.queued = []
      slot.transfer = []
      const i = this.slots.indexOf(slot)
      if (i >= 0 && !this.closed) {
        this.log(`ingest worker stopped (${why}); starting another`)
        this.slots[i] = this.spawn()
      }
    }
    worker.on('error', (e) => died(e.message))
    worker.on('exit', (code) => {
      if (!this.closed) died(`exit code ${code}`)
    })
    worker.unref()
    return slot
  }

  /** Decodes, checks and prepares one upload in a worker; `transfer` moves buffers instead of copying them. */
  run(job: JobInput, transfer: ArrayBuffer[] = []): Promise<Prepared> {
    let slot = this.slots[0]!
    for (const s of this.slots) if (s.jobs.size < slot.jobs.size) slot = s
    const id = this.nextId++
    if (!slot.queued.length) setImmediate(() => this.post(slot))
    slot.queued.push({ ...job, id } as Job)
    slot.transfer.push(...transfer)
    return new Promise((resolve, reject) => slot.jobs.set(id, { resolve, reject }))
  }

  /** Posts the slot's queued jobs, in one message. */
  private post(slot: Slot): void {
    const { queued, transfer } = slot
    slot.queued = []
    slot.transfer = []
    if (!queued.length || this.closed) return
    try {
      slot.worker.postMessage(queued, transfer)
    } catch (e) {
      // Posted from a turn of its own: a job that cannot be sent fails its batch, never the process.
      for (const job of queued) {
        slot.jobs.get(job.id)?.reject(e)
        slot.jobs.delete(job.id)
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true
    await Promise.all(this.slots.map((s) => s.worker.terminate()))
  }
}
