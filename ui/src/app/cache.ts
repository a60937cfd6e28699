import { get, apiUrl } from './api.ts'

type Params = Record<string, string | number | undefined>

/**
 * Responses by URL, so that zooming, searching or going back does not ask the server again;
 * `clear` (the Refresh button) forgets them. Keeps the last 12 (a 100,000-node graph is ~10 MB
 * decoded), converted once by `map`.
 */
export class ApiCache {
  private readonly m = new Map<string, Promise<unknown>>()

  load<T, R = T>(path: string, params: Params, map: (t: T) => R = (t) => t as unknown as R): Promise<R> {
    const key = apiUrl(path, params)
    let p = this.m.get(key) as Promise<R> | undefined
    if (!p) {
      p = get<T>(path, params).then(map)
      this.m.set(key, p)
      // A failed request is not cached: the next view asks again.
      p.catch(() => this.m.delete(key))
      if (this.m.size > 12) this.m.delete(this.m.keys().next().value!)
    }
    return p
  }

  clear(): void {
    this.m.clear()
  }
}
