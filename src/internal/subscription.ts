/**
 * The subscription loop every layer shares: read the log after a checkpoint page by
 * page, and when caught up wait for a wake-up signal, then read again.
 *
 * Being pull-based over the log is the back-pressure policy: a subscriber holds only its
 * checkpoint, never a buffer, so a slow subscriber lags behind the log instead of making
 * memory grow, and writers never wait for readers.
 *
 * @internal
 */
import { Array as Arr, Effect, Stream } from "effect"
import type { Pull } from "effect"
import type { Position } from "../EventStore.js"

/**
 * One page of the log after a checkpoint.
 *
 * - `items`: the matching events in the page, in global order.
 * - `next`: how far the page looked, which may be past the last matching event: a
 *   filtered subscription must not rescan the events it already skipped. A page that
 *   found nothing new at all returns `next` equal to the checkpoint it was given.
 *
 * A layer whose positions can commit out of order (PostgreSQL) must only look as far as
 * the positions that can no longer be filled in.
 *
 * @internal
 */
export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly next: Position
}

/**
 * How a layer feeds the loop.
 *
 * - `readPage(after)`: the next page strictly after the checkpoint `after`.
 * - `awaitBeyond(position)`: completes once something may have been recorded after
 *   `position` (at once if something already has). A spurious wake-up only costs an
 *   empty page.
 *
 * @internal
 */
export interface Source<A, E, R> {
  readonly readPage: (after: Position) => Effect.Effect<Page<A>, E, R>
  readonly awaitBeyond: (position: Position) => Effect.Effect<void, E, R>
}

/**
 * Catch-up then live, as one `Stream`, from the exclusive checkpoint `from`. Each page
 * is emitted as one chunk; the loop never ends on its own.
 *
 * @internal
 */
export const subscribe = <A, E, R>(from: Position, source: Source<A, E, R>): Stream.Stream<A, E, R> =>
  Stream.fromPull(Effect.sync(() => {
    let checkpoint = from
    const pull: Pull.Pull<Arr.NonEmptyReadonlyArray<A>, E, void, R> = Effect.suspend(() =>
      Effect.flatMap(source.readPage(checkpoint), (page) => {
        const caughtUp = page.next === checkpoint
        checkpoint = page.next
        if (Arr.isReadonlyArrayNonEmpty(page.items)) return Effect.succeed(page.items)
        return caughtUp ? Effect.flatMap(source.awaitBeyond(checkpoint), () => pull) : pull
      })
    )
    return pull
  }))
