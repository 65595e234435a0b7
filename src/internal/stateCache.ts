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
  /** Only for a handler that uses snapshots (absent otherwise, so its entries keep their shape). */
  readonly snapshots?: SnapshotMark
}

/**
 * A stream's standing with the snapshot store.
 *
 * - `saved`: the stream version of its latest snapshot, loaded or saved (`undefined`: none).
 * - `unseen`: the command ids of versions `1..unseen` are not in `commandIds`, because the
 *   stream was loaded from a snapshot at `unseen` (0: every recorded id is there).
 */
export interface SnapshotMark {
  readonly saved: number | undefined
  readonly unseen: number
}

/** A cache entry and when (in insertions) it last moved to the young end. */
interface Slot<S> {
  entry: Cached<S>
  insertedAt: number
}

/**
 * At most `capacity` streams per store (`0`: none), evicted oldest first. A `Map`
 * iterates in insertion order, so its first key is the oldest. A hit moves an entry to
 * the young end only once it is older than half the capacity: close to LRU (an entry used
 * at least once per `capacity / 2` insertions is never evicted) while a hit on a recent
 * entry — the common case, a stream being worked on — costs one `Map.get`.
 */
export const make = <S>(capacity: number) => {
  const byStore = new WeakMap<object, Map<string, Slot<S>>>()
  let insertions = 0
  // Almost every call is for the store of the call before: that one is found without the
  // WeakMap lookup. Held weakly, so a closed store can still be collected.
  let last: { readonly store: WeakRef<object>; readonly map: WeakRef<Map<string, Slot<S>>> } | undefined
  const streamsOf = (store: object) => {
    const lastMap = last?.store.deref() === store ? last.map.deref() : undefined
    if (lastMap !== undefined) return lastMap
    let map = byStore.get(store)
    if (map === undefined) {
      map = new Map<string, Slot<S>>()
      byStore.set(store, map)
    }
    last = { store: new WeakRef(store), map: new WeakRef(map) }
    return map
  }
  const refresh = (streams: Map<string, Slot<S>>, streamId: string, slot: Slot<S>) => {
    if (insertions - slot.insertedAt <= capacity / 2) return
    streams.delete(streamId)
    streams.set(streamId, slot)
    slot.insertedAt = ++insertions
  }
  return {
    get: (store: object, streamId: string): Cached<S> | undefined => {
      const streams = streamsOf(store)
      const slot = streams.get(streamId)
      if (slot === undefined) return undefined
      refresh(streams, streamId, slot)
      return slot.entry
    },
    /**
     * Keeps the newer of the cached and the offered entry (concurrent loads may finish out
     * of order); at the same version, the offered one, which may know more command ids.
     */
    offer: (store: object, streamId: string, entry: Cached<S>): void => {
      if (capacity <= 0) return
      const streams = streamsOf(store)
      const slot = streams.get(streamId)
      if (slot !== undefined) {
        if (slot.entry.version <= entry.version) slot.entry = entry
        refresh(streams, streamId, slot)
        return
      }
      streams.set(streamId, { entry, insertedAt: ++insertions })
      if (streams.size > capacity) {
        const oldest = streams.keys().next()
        if (oldest.done !== true) streams.delete(oldest.value)
      }
    }
  }
}
