/**
 * Snapshots: load a long stream from its latest snapshot plus the events after it, and
 * decide when to take the next one.
 *
 * - `StateCodec<S>`: a decider's state to and from JSON, with a `version`. Bump the
 *   version whenever the state's shape or the meaning of `evolve` changes: snapshots of
 *   other versions are then never read (they are stored under their own version), and
 *   the stream is replayed instead.
 * - `load(options, streamId)`: the state of a stream, from the latest usable snapshot and
 *   the tail after it, or from a full replay. A snapshot is unusable — and ignored, never
 *   an error — when its file is damaged, its state does not decode, or it is ahead of the
 *   stream; `Restored.ignored` says why.
 * - `Policy`: when to save (`every(n)` events, `never`); `saveIfDue` applies one after a
 *   load or an append, and `save` takes a snapshot on demand.
 *
 * The law that makes all of this safe, checked by the tests with random histories: for
 * any history and any snapshot point, decoding the snapshot and folding the tail gives
 * the state a full replay gives.
 *
 * @since 0.2.0
 */
import { Effect, Stream } from "effect"
import * as Either from "fp-ts/lib/Either.js"
import type { Codec, LoadError } from "./CommandHandler.js"
import type { Decider } from "./Decider.js"
import { isSkipped } from "./EventCodec.js"
import type { Json, RecordedEvent } from "./EventStore.js"
import { EventStore } from "./EventStore.js"
import type { SnapshotError } from "./SnapshotStore.js"
import { SnapshotStore } from "./SnapshotStore.js"
import { startOf } from "./internal/snapshotting.js"

/**
 * A state codec with a schema version.
 *
 * @since 0.2.0
 */
export interface StateCodec<S> {
  readonly version: number
  readonly encode: (state: S) => Json
  readonly decode: (json: Json) => Either.Either<unknown, S>
}

/**
 * What `load` needs: the decider's fold, the event codec, and the state codec.
 *
 * @since 0.2.0
 */
export interface Options<S, E> {
  readonly decider: Pick<Decider<unknown, S, E, unknown>, "evolve" | "initialState">
  readonly codec: Codec<E>
  readonly state: StateCodec<S>
}

/**
 * A loaded stream.
 *
 * - `version`: the stream's version the state is at.
 * - `snapshotVersion`: the stream version of the snapshot it started from (`undefined`
 *   for a full replay).
 * - `eventsRead`: how many events were read after the snapshot (all of them on a replay).
 * - `ignored`: why a stored snapshot was not used, if one was found and not used.
 *
 * @since 0.2.0
 */
export interface Restored<S> {
  readonly streamId: string
  readonly state: S
  readonly version: number
  readonly snapshotVersion: number | undefined
  readonly eventsRead: number
  readonly ignored?: string
}

/**
 * Loads a stream: the latest usable snapshot, then only the events after it.
 *
 * @since 0.2.0
 */
export const load = <S, E>(options: Options<S, E>, streamId: string): Effect.Effect<Restored<S>, LoadError, EventStore | SnapshotStore> =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const start = yield* startOf(yield* SnapshotStore, store, options.state, options.decider.initialState, streamId)
    let { state, version } = start
    let eventsRead = 0
    const apply = (recorded: RecordedEvent) => {
      const decoded = options.codec.decode(recorded)
      if (Either.isLeft(decoded)) return decoded.left
      eventsRead++
      version = recorded.version
      if (!isSkipped(decoded.right)) state = options.decider.evolve(state, decoded.right)
      return undefined
    }
    yield* store.readStream(streamId, { from: start.version + 1 }).pipe(
      Stream.runForEachArray((chunk) => {
        for (const recorded of chunk) {
          const failure = apply(recorded)
          if (failure !== undefined) return Effect.fail(failure)
        }
        return Effect.void
      })
    )
    const restored: Restored<S> = {
      streamId,
      state,
      version,
      snapshotVersion: start.version === 0 ? undefined : start.version,
      eventsRead,
      ...(start.ignored === undefined ? {} : { ignored: start.ignored })
    }
    return restored
  })

/**
 * Saves `state` as the snapshot of `streamId` at `version` (on demand).
 *
 * @since 0.2.0
 */
export const save = <S>(
  codec: StateCodec<S>,
  snapshot: { readonly streamId: string; readonly version: number; readonly state: S }
): Effect.Effect<void, SnapshotError, SnapshotStore> =>
  SnapshotStore.use((snapshots) =>
    snapshots.save({ streamId: snapshot.streamId, version: snapshot.version, stateVersion: codec.version, state: codec.encode(snapshot.state) })
  )

/**
 * When to save a snapshot, given the stream's version and the version of its latest
 * snapshot (`undefined` when it has none).
 *
 * @since 0.2.0
 */
export type Policy = (at: { readonly version: number; readonly snapshotVersion: number | undefined }) => boolean

/**
 * Save once `n` events have been recorded since the last snapshot.
 *
 * @since 0.2.0
 */
export const every = (n: number): Policy => ({ snapshotVersion, version }) => version - (snapshotVersion ?? 0) >= n

/**
 * Never save on a policy (snapshots only on demand, with `save`).
 *
 * @since 0.2.0
 */
export const never: Policy = () => false

/**
 * Saves a snapshot of `restored` if `policy` says so. A failed save is ignored (a snapshot
 * is a cache); the result says whether one was saved.
 *
 * @since 0.2.0
 */
export const saveIfDue = <S>(
  codec: StateCodec<S>,
  policy: Policy,
  restored: Pick<Restored<S>, "streamId" | "state" | "version" | "snapshotVersion">
): Effect.Effect<boolean, never, SnapshotStore> =>
  policy(restored)
    ? save(codec, restored).pipe(Effect.as(true), Effect.catch(() => Effect.succeed(false)))
    : Effect.succeed(false)
