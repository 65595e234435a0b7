/**
 * The in-memory event store: the embedded default for tests, examples and anything that
 * does not need to survive a restart.
 *
 * Layout: one global array of recorded events (positions are 1-based and gapless here),
 * one array per stream (a stream of one event is kept as that event) and an index from
 * caller-chosen event id to position (`internal/memory/log.ts`). An append costs
 * O(events appended) whatever the size of the stream or the store; `streamVersion` is
 * O(1); reads slice the stored arrays in chunks of 4096 and see the store as it was
 * when they started.
 *
 * Event ids: a caller-chosen id is kept. Otherwise the id is UUID-shaped: a random
 * per-store prefix followed by the position in hex. It is unique like a random UUID, but
 * it can be found from the log by position, which keeps generated ids out of the index.
 *
 * Stored events are frozen deep copies of what was appended (see `internal/json.ts`), so
 * readers share them without copying and nobody can change history by mutating an
 * object. The one exception is `recordedAt`: a `Date` cannot be frozen, so a reader that
 * calls its setters changes what later readers see. Treat it as read-only: events recorded
 * in the same clock millisecond share one `Date` object (a `Date` per event was a quarter
 * of the memory each event keeps alive, and so of the garbage collector's work), so such a
 * setter call would change all of them.
 *
 * Validation, idempotency and expected versions are the shared contract's
 * (`internal/contract.ts`), checked in the same order as on every other layer: malformed
 * input first, then recorded event ids (a faithful retry succeeds with its original
 * result, anything else is `EventIdConflict`), then the expected version.
 *
 * Back-pressure: a subscription is pull-based over the log. A subscriber holds only its
 * checkpoint; when it has caught up it waits for a wake-up signal that the next append
 * fires. A slow or stalled subscriber therefore never buffers events and never slows a
 * writer down: it lags behind the log, which is in memory anyway, and catches up at its
 * own pace.
 *
 * Appends run synchronously inside one Effect step, so they are atomic and serialised
 * with no lock: of 50 fibers appending at one expected version, exactly one wins.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import { EventStore, InvalidAppend } from "./EventStore.js"
import type { AppendError, AppendResult, NewEvent } from "./EventStore.js"
import * as Contract from "./internal/contract.js"
import { MemoryLog } from "./internal/memory/log.js"
import { readAll, readStream, subscribe, WakeUp } from "./internal/memory/reader.js"

/**
 * Builds an empty in-memory store. Each evaluation gives a new, independent store.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<EventStore["Service"]> = Effect.sync(() => {
  const log = new MemoryLog()
  const wakeUp = new WakeUp()

  const appendNow = (streamId: unknown, events: unknown, expected: unknown, now: number): AppendResult | AppendError => {
    const batch = Contract.prepareAppend(streamId, events, expected)
    if (batch instanceof InvalidAppend) return batch
    const outcome = log.append(batch, now)
    if (!("_tag" in outcome)) wakeUp.fire()
    return outcome
  }

  return EventStore.of({
    append: (streamId: string, events: ReadonlyArray<NewEvent>, expected: unknown = "any") =>
      Effect.clockWith((clock) => {
        const outcome = appendNow(streamId, events, expected, clock.currentTimeMillisUnsafe())
        return "_tag" in outcome ? Effect.fail(outcome) : Effect.succeed(outcome)
      }),
    readStream: (streamId, options) => readStream(log, streamId, options),
    readAll: (options) => readAll(log, options),
    subscribe: (options) => subscribe(log, wakeUp, options),
    streamVersion: (streamId) => Effect.sync(() => log.streamVersion(streamId))
  })
})

/**
 * The in-memory `EventStore`. Each build of the layer is a new, empty store.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<EventStore> = Layer.effect(EventStore, make)
