/**
 * Values made from a text key and kept for the next upload that asks (an SDK sends the same app
 * name and labels every 10–15 s). Bounded by count — past `entries` it starts over — and by size:
 * a key over `keyChars` (a request line may hold 1 MiB) is made each time, not kept. The values
 * were checked against a `scope` (the label limits): another scope empties it.
 */
export class BoundedMemo<V> {
  private readonly values = new Map<string, V>()
  private scope: unknown

  constructor(
    private readonly entries: number,
    private readonly keyChars: number,
  ) {}

  get(key: string, scope: unknown, make: () => V): V {
    if (key.length > this.keyChars) return make()
    if (scope !== this.scope) {
      this.values.clear()
      this.scope = scope
    }
    let v = this.values.get(key)
    if (v === undefined) {
      if (this.values.size >= this.entries) this.values.clear()
      this.values.set(key, (v = make()))
    }
    return v
  }
}
