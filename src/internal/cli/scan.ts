/**
 * Reading the global log to the end with a progress line: what `streams`, `stats`,
 * `export` and `tail` do.
 *
 * @internal
 */
import { Effect, Stream } from "effect"
import type { EventStore, ReadAllOptions, RecordedEvent } from "../../EventStore.js"
import type { CliError } from "./command.js"
import { progress } from "./progress.js"
import { storeFailed } from "./target.js"
import type { Location } from "./target.js"

/**
 * Hands every event of `readAll(options)` to `visit`, a chunk at a time, and returns how
 * many there were. `visit` may write (its effect is waited for before the next chunk).
 *
 * @internal
 */
export const scanAll = (
  store: EventStore["Service"],
  location: Location,
  options: ReadAllOptions,
  visit: (events: ReadonlyArray<RecordedEvent>) => Effect.Effect<void, CliError>
): Effect.Effect<number, CliError> =>
  Effect.suspend(() => {
    const bar = progress("reading", "events")
    let seen = 0
    return store.readAll(options).pipe(
      Stream.mapError(storeFailed(location, "reading")),
      Stream.runForEachArray((events) => {
        seen += events.length
        bar.update(seen)
        return visit(events)
      }),
      Effect.ensuring(Effect.sync(bar.finish)),
      Effect.map(() => seen)
    )
  })
