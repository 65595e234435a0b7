/**
 * The command handler's memory of streams: each stream's state at a version, per store,
 * least recently used evicted first.
 */

/**
 * A stream's state at a version, and every command id recorded in it up to there (so that
 * a retried command is recognised without reading the whole stream again). The set only
 * grows, and only with ids really recorded, so sharing it between entries is safe.
 */
export interface Cached<S> {
  readonly version: number
  readonly state: S
  readonly commandIds: Set<string>
}

/**
 * At most `capacity` streams per store (`0`: none). A `Map` iterates in insertion order
 * and a hit re-inserts, so the first key is the least recently used.
 */
export const make = <S>(capacity: number) => {
  const byStore = new WeakMap<object, Map<string, Cached<S>>>()
  const streamsOf = (store: object) => {
    const existing = byStore.get(store)
    if (existing !== undefined) return existing
    const created = new Map<string, Cached<S>>()
    byStore.set(store, created)
    return created
  }
  return {
    get: (store: object, streamId: string): Cached<S> | undefined => {
      const streams = streamsOf(store)
      const entry = streams.get(streamId)
      if (entry !== undefined) {
        streams.delete(streamId)
        streams.set(streamId, entry)
      }
      return entry
    },
    /** Keeps the newer of the cached and the offered entry: concurrent loads may finish out of order. */
    offer: (store: object, streamId: string, entry: Cached<S>): void => {
      if (capacity <= 0) return
      const streams = streamsOf(store)
      const current = streams.get(streamId)
      if (current !== undefined && current.version >= entry.version) return
      streams.delete(streamId)
      streams.set(streamId, entry)
      if (streams.size > capacity) {
        const oldest = streams.keys().next()
        if (oldest.done !== true) streams.delete(oldest.value)
      }
    }
  }
}
