/**
 * Projections: views run over the store's global log.
 *
 * `Projection.run` reads every event of the codec's types after a checkpoint, decodes
 * each once and folds it into a view (several read models combined with `View.both` see
 * exactly the same events, so they stay consistent with each other). It returns the state
 * with the checkpoint to resume from; run it again from that checkpoint with that state to
 * catch up. Rebuilding from scratch is running it from `EventStore.start`.
 *
 * @since 0.1.0
 */
import { Effect, Stream } from "effect"
import * as Either from "fp-ts/lib/Either.js"
import type { DecodeError, Skipped } from "./EventCodec.js"
import { isSkipped } from "./EventCodec.js"
import type { Codec } from "./CommandHandler.js"
import type { EventFilter, Position, ReadError, RecordedEvent } from "./EventStore.js"
import { EventStore, start } from "./EventStore.js"
import type { View } from "./View.js"

/**
 * The outcome of a run: the view's state, the position to resume from, and the events of
 * unknown types the codec skipped.
 *
 * @since 0.1.0
 */
export interface Projected<S> {
  readonly state: S
  readonly checkpoint: Position
  readonly skipped: ReadonlyArray<Skipped>
}

/**
 * Runs `view` over the events of `filter` (types default to the codec's stored types) strictly
 * after `from`, starting from `state` (default: the view's initial state). To feed several
 * read models from the same events, combine them with `View.both`.
 *
 * @since 0.1.0
 */
export const run = <S, E>(options: {
  readonly codec: Codec<E>
  readonly view: View<S, E>
  readonly filter?: EventFilter
  readonly from?: Position
  readonly state?: S
}): Effect.Effect<Projected<S>, ReadError | DecodeError, EventStore> =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const { codec, view } = options
    let state = options.state ?? view.initialState
    let checkpoint = options.from ?? start
    const skipped: Array<Skipped> = []
    const filter: EventFilter = { ...(codec.storedTypes === undefined ? {} : { types: codec.storedTypes }), ...options.filter }
    const feed = (recorded: RecordedEvent): DecodeError | undefined => {
      checkpoint = recorded.position
      const decoded = codec.decode(recorded)
      if (Either.isLeft(decoded)) return decoded.left
      if (isSkipped(decoded.right)) {
        skipped.push(decoded.right)
        return undefined
      }
      const { data: _data, type: _type, ...envelope } = recorded
      state = view.evolve(state, decoded.right, envelope)
      return undefined
    }
    yield* store.readAll({ from: checkpoint, filter }).pipe(
      Stream.runForEachArray((chunk) => {
        for (const recorded of chunk) {
          const failure = feed(recorded)
          if (failure !== undefined) return Effect.fail(failure)
        }
        return Effect.void
      })
    )
    const projected: Projected<S> = { state, checkpoint, skipped }
    return projected
  })
