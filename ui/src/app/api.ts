import type { FlameGraph, FlameGraphDiff } from '../../../src/model/flamegraph.ts'

/** An error the server reported (`{ code, message }`), or a network failure. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message)
  }
}

export interface ProfileType {
  id: string
  name: string
  sampleType: string
  sampleUnit: string
  periodType: string
  periodUnit: string
}
export interface FlameResponse {
  flamegraph: FlameGraph
  unit: string
}
export interface DiffResponse {
  flamegraph: FlameGraphDiff
  unit: string
}
export interface TopResponse {
  rows: { name: string; self: number; total: number }[]
  total: number
  unit: string
}
export interface Series {
  labels: Record<string, string>
  points: [number, number][]
}
export interface TimelineResponse {
  step: number
  series: Series[]
}
export interface Breakdown {
  name: string
  total: number
  values: { value: string; total: number; share: number }[]
}

type Params = Record<string, string | number | undefined>

/** The API URL for a path and parameters (empty ones left out). */
export function apiUrl(path: string, params: Params): string {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') p.set(k, String(v))
  return `/api/v1/${path}?${p}`
}

/** GETs a Kiln API endpoint, throwing ApiError with the server's message on failure. */
export function get<T>(path: string, params: Params, signal?: AbortSignal): Promise<T> {
  return request<T>(apiUrl(path, params), { signal })
}

/** POSTs JSON to a Kiln API endpoint (the PxL run API), with the same errors as get. */
export function post<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  return request<T>(`/api/v1/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  })
}

async function request<T>(url: string, init: RequestInit): Promise<T> {
  let res: Response
  try {
    res = await fetch(url, init)
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e
    throw new ApiError('NETWORK', `cannot reach the Kiln server (${(e as Error).message}); is \`kiln server\` running?`, 0)
  }
  const text = await res.text()
  if (!res.ok) {
    let body: { code?: string; message?: string } = {}
    try {
      body = JSON.parse(text)
    } catch {
      body = { message: text.slice(0, 300) }
    }
    throw new ApiError(body.code ?? `HTTP_${res.status}`, body.message || `${res.status} ${res.statusText}`, res.status)
  }
  return JSON.parse(text) as T
}
