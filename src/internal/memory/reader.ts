/**
 * Reading the memory layer: `readStream`, `readAll` and `subscribe` over a `MemoryLog`.
 * Reads slice the stored arrays in chunks and see the store as it was when they started;
 * a subscription is pull-based over the log and waits on a `WakeUp` when caught up.
 *
 * @internal
 */
import { Array as Arr, Cause, Deferred, Effect, Stream } from "effect"
import type { Pull } from "effect"
import type {
  InvalidRead,
  Position,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions
} from "../../EventStore.js"
import * as Contract from "../contract.js"
import * as Subscription from "../subscription.js"
import type { MemoryLog } from "./log.js"

// How many events one chunk of a read carries: large enough that per-chunk overhead
// vanishes, small enough that a reader stopping early has copied little.
const chunkSize = 4096

type Chunk = Pull.Pull<Arr.NonEmptyReadonlyArray<RecordedEvent>>

// How many of the stream's first events were recorded at or before `asOf`: a prefix,
// since `recordedAt` never goes backwards, found by binary search.
const recordedBy = (events: ReadonlyArray<RecordedEvent>, asOf: number | undefined): number => {
  if (asOf === undefined) return events.length
  let low = 0
  let high = events.length
  while (low < high) {
    const middle = (low + high) >>> 1
    const event = events[middle]
    if (event !== undefined && event.recordedAt.getTime() <= asOf) low = middle + 1
    else high = middle
  }
  return low
}

/**
 * The signal a caught-up subscriber waits for. Created only when someone waits, and
 * completed and dropped by the next append, so appends with nobody waiting pay nothing.
 *
 * @internal
 */
export class WakeUp {
  private waiting: Deferred.Deferred<void> | undefined

  fire(): void {
    const waiting = this.waiting
    if (waiting === undefined) return
    this.waiting = undefined
    Deferred.doneUnsafe(waiting, Effect.void)
  }

  awaitBeyond(log: MemoryLog, position: Position): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (log.length > position) return Effect.void
      this.waiting ??= Deferred.makeUnsafe<void>()
      return Deferred.await(this.waiting)
    })
  }
}

/** @internal */
export const readStream = (
  log: MemoryLog,
  streamId: string,
  options: ReadStreamOptions = {}
): Stream.Stream<RecordedEvent, InvalidRead> => {
  const problem = Contract.checkReadStream(streamId, options)
  if (problem !== undefined) return Stream.fail(problem)
  const { direction = "forward", from, to, limit } = options
  return Stream.fromPull(Effect.sync(() => {
    const events = log.streamEvents(streamId)
    const length = recordedBy(events, Contract.asOfMillis(options))
    const budget = limit ?? Number.POSITIVE_INFINITY
    if (direction === "forward") {
      // Versions are 1-based: index = version - 1. `next` is the next index to emit.
      let next = Math.max((from ?? 1) - 1, 0)
      const end = Math.min(to ?? length, length, next + budget)
      return Effect.suspend((): Chunk => {
        if (next >= end) return Cause.done()
        const chunk = events.slice(next, Math.min(next + chunkSize, end))
        next += chunk.length
        return Arr.isReadonlyArrayNonEmpty(chunk) ? Effect.succeed(chunk) : Cause.done()
      })
    }
    // Backward: `next` is one past the next index to emit, counting down to `end`.
    let next = Math.min(from ?? length, length)
    const end = Math.max((to ?? 1) - 1, 0, next - budget)
    return Effect.suspend((): Chunk => {
      if (next <= end) return Cause.done()
      const chunk = events.slice(Math.max(next - chunkSize, end), next).reverse()
      next -= chunk.length
      return Arr.isReadonlyArrayNonEmpty(chunk) ? Effect.succeed(chunk) : Cause.done()
    })
  }))
}

/** @internal */
export const readAll = (log: MemoryLog, options: ReadAllOptions = {}): Stream.Stream<RecordedEvent, InvalidRead> => {
  const problem = Contract.checkReadAll(options)
  if (problem !== undefined) return Stream.fail(problem)
  const { from = 0, filter, limit } = options
  const matches = Contract.recordedMatcher(filter)
  return Stream.fromPull(Effect.sync(() => {
    // The read sees the log as it was when the read started.
    const until = log.length
    let checkpoint = from
    let remaining = limit ?? Number.POSITIVE_INFINITY
    const pull: Chunk = Effect.suspend(() => {
      if (checkpoint >= until || remaining <= 0) return Cause.done()
      const page = log.page(checkpoint, until, matches, remaining, chunkSize)
      checkpoint = page.next
      remaining -= page.items.length
      return Arr.isReadonlyArrayNonEmpty(page.items) ? Effect.succeed(page.items) : pull
    })
    return pull
  }))
}

/** @internal */
export const subscribe = (
  log: MemoryLog,
  wakeUp: WakeUp,
  options: SubscribeOptions = {}
): Stream.Stream<RecordedEvent, InvalidRead> => {
  const problem = Contract.checkSubscribe(options)
  if (problem !== undefined) return Stream.fail(problem)
  const { from = 0, filter } = options
  const matches = Contract.recordedMatcher(filter)
  return Subscription.subscribe(from, {
    readPage: (after) => Effect.sync(() => log.page(after, log.length, matches, Number.POSITIVE_INFINITY, chunkSize)),
    awaitBeyond: (position) => wakeUp.awaitBeyond(log, position)
  })
}
