/**
 * Paints a flame graph on an OffscreenCanvas off the page's main thread: layout, fills, text and
 * Chromium's canvas commit (~3 ms a frame for a 1250×540 canvas drawn in software) happen here,
 * so a zoom costs the page only its event handling. The page keeps hit-testing and the hover box.
 */
import type { Flame } from '../lib/flame.ts'
import { type Matches, graphHeight } from '../lib/layout.ts'
import { paintFlame, type PaintInput } from './flamepaint.ts'

/** Page → worker messages. */
export type ToWorker =
  | { t: 'canvas'; canvas: OffscreenCanvas }
  | { t: 'flame'; flame: Flame }
  | { t: 'matches'; matches: Matches | null }
  | { t: 'draw'; seq: number; input: Omit<PaintInput, 'flame' | 'matches'> }
  | { t: 'png'; seq: number }
/** Worker → page messages. */
export type FromWorker = { t: 'drawn'; seq: number; width: number; height: number } | { t: 'png'; seq: number; blob: Blob | null }

const scope = self as unknown as { onmessage: ((e: MessageEvent<ToWorker>) => void) | null; postMessage: (m: FromWorker) => void }
let canvas: OffscreenCanvas | null = null
let flame: Flame | null = null
let matches: Matches | null = null
let pending: Extract<ToWorker, { t: 'draw' }> | null = null

// Draws the latest request only: zooms queued while one paints are skipped.
const drawLatest = () => {
  const d = pending
  pending = null
  if (!d || !canvas || !flame) return
  paintFlame(canvas, { ...d.input, flame, matches })
  // The CSS size the bitmap was painted for: the page sizes the canvas box to it.
  scope.postMessage({ t: 'drawn', seq: d.seq, width: d.input.vp.width, height: graphHeight(flame, d.input.vp) })
}

scope.onmessage = (e) => {
  const m = e.data
  if (m.t === 'canvas') canvas = m.canvas
  else if (m.t === 'flame') flame = m.flame
  else if (m.t === 'matches') matches = m.matches
  else if (m.t === 'draw') {
    if (!pending) setTimeout(drawLatest)
    pending = m
  } else if (m.t === 'png') {
    drawLatest()
    const done = (blob: Blob | null) => scope.postMessage({ t: 'png', seq: m.seq, blob })
    if (canvas) canvas.convertToBlob({ type: 'image/png' }).then(done, () => done(null))
    else done(null)
  }
}
