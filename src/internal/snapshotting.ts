/**
 * Where a stream's fold starts when snapshots are in use: the latest usable snapshot, or
 * the initial state. One rule for `Snapshot.load` and the command handler.
 *
 * @internal
 */
import { Effect } from "effect"
import * as Either from "fp-ts/lib/Either.js"
import type { EventStore, StorageError } from "../EventStore.js"
import type { StateCodec } from "../Snapshot.js"
import type { SnapshotStore } from "../SnapshotStore.js"

/**
 * The state to fold the stream's events onto, from `version + 1` (`version` 0: from the
 * start), and why a stored snapshot was not used, if one was found and not used.
 *
 * @internal
 */
export interface Start<S> {
  readonly state: S
  readonly version: number
  readonly ignored?: string
}

/**
 * The latest snapshot of `streamId` under `codec.version` that can be used, else
 * `initialState` at version 0. A snapshot is unusable — ignored, never an error — when
 * the store cannot read it, when it is ahead of the stream (the stream was restored from
 * an older backup), or when its state does not decode. A snapshot of another state
 * version is never even looked at: the store keys snapshots by state version.
 *
 * @internal
 */
export const startOf = <S>(
  snapshots: SnapshotStore["Service"],
  store: EventStore["Service"],
  codec: StateCodec<S>,
  initialState: S,
  streamId: string
): Effect.Effect<Start<S>, StorageError> =>
  Effect.gen(function*() {
    const initial: Start<S> = { state: initialState, version: 0 }
    const lookup = yield* snapshots.load(streamId, codec.version)
    if (lookup._tag === "Missing") return initial
    if (lookup._tag === "Unusable") return { ...initial, ignored: lookup.reason }
    const { snapshot } = lookup
    const streamVersion = yield* store.streamVersion(streamId)
    if (snapshot.version > streamVersion) {
      return { ...initial, ignored: `the snapshot is at version ${snapshot.version}, past the stream's version ${streamVersion}` }
    }
    const decoded = codec.decode(snapshot.state)
    if (Either.isLeft(decoded)) return { ...initial, ignored: `the snapshot's state does not decode (state version ${codec.version})` }
    const start: Start<S> = { state: decoded.right, version: snapshot.version }
    return start
  })
