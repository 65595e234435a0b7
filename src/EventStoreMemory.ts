/**
 * The in-memory event store: the embedded default for tests, examples and anything that
 * does not need to survive a restart.
 *
 * Layout: one global array of recorded events (position `p` is at index `p - 1`, so
 * positions are 1-based and gapless here), one array per stream (version `v` is at index
 * `v - 1`; a stream of one event is kept as that event, see `StreamEvents`) and an index
 * from caller-chosen event id to position. An append costs
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
import { Array as Arr, Cause, Deferred, Effect, Layer, Stream } from "effect"
import type { Pull } from "effect"
import { EventStore, InvalidAppend } from "./EventStore.js"
import type {
  AppendError,
  AppendResult,
  EventFilter,
  InvalidRead,
  NewEvent,
  Position,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions
} from "./EventStore.js"
import * as Contract from "./internal/contract.js"
import * as Subscription from "./internal/subscription.js"

// How many events one chunk of a read carries: large enough that per-chunk overhead
// vanishes, small enough that a reader stopping early has copied little.
const chunkSize = 4096

// ---------------------------------------------------------------------------
// A map that outgrows V8's limit of 2^24 entries per Map
// ---------------------------------------------------------------------------

const shardCapacity = 1 << 23

class ShardedMap<V> {
  private readonly shards: Array<Map<string, V>> = [new Map()]
  private current: Map<string, V>
  constructor() {
    this.current = this.shards[0] ?? new Map()
  }
  get(key: string): V | undefined {
    const found = this.current.get(key)
    if (found !== undefined || this.shards.length === 1) return found
    for (const shard of this.shards) {
      const value = shard.get(key)
      if (value !== undefined) return value
    }
    return undefined
  }
  size = 0
  // Only for keys not yet present: entries are never replaced.
  add(key: string, value: V): void {
    if (this.current.size >= shardCapacity) {
      this.current = new Map()
      this.shards.push(this.current)
    }
    this.current.set(key, value)
    this.size++
  }
  // Only for keys already present.
  replace(key: string, value: V): void {
    if (this.current.has(key)) {
      this.current.set(key, value)
      return
    }
    for (const shard of this.shards) {
      if (shard.has(key)) {
        shard.set(key, value)
        return
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------

// A stream's events in version order. A stream of one event is the event itself, not an
// array of one: stores with many short streams (one per order, per request...) keep an
// array per stream forever, and that array (two objects, 56 bytes) was a seventh of what
// a one-event stream costs in memory and in garbage-collector work. The array replaces
// the event at the stream's second event.
type StreamEvents = RecordedEvent | Array<RecordedEvent>

const streamLength = (stream: StreamEvents | undefined): number =>
  stream === undefined ? 0 : Array.isArray(stream) ? stream.length : 1

const streamArray = (stream: StreamEvents | undefined): ReadonlyArray<RecordedEvent> =>
  stream === undefined ? [] : Array.isArray(stream) ? stream : [stream]

// Reads see records through the contract's matcher, which looks at stream id and type.
const eventMatcher = (filter: EventFilter | undefined): ((event: RecordedEvent) => boolean) | undefined => {
  const matches = Contract.matcher(filter)
  return matches === undefined ? undefined : (event) => matches(event.streamId, event.type)
}

// ---------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------

/**
 * Builds an empty in-memory store. Each evaluation gives a new, independent store.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<EventStore["Service"]> = Effect.sync(() => {
  const log: Array<RecordedEvent> = []
  const streams = new ShardedMap<StreamEvents>()
  // Caller-chosen event id → position.
  const byEventId = new ShardedMap<Position>()
  // Created only when a subscriber has caught up and waits; completed and dropped by the
  // next append, so appends with nobody waiting pay nothing for it.
  let wakeUp: Deferred.Deferred<void> | undefined

  // The `recordedAt` of the last append and the clock reading it stands for, reused while
  // the clock stays on the same millisecond (see the module comment).
  let lastMillis = Number.NaN
  let lastDate = new Date(0)
  const dateAt = (now: number): Date => {
    if (now !== lastMillis) {
      lastDate = new Date(now)
      lastMillis = now
    }
    return lastDate
  }

  // Generated event ids are this store's random UUID prefix followed by the position in
  // 12 hex digits: still UUID-shaped and unique, but found from the log by position, so
  // only caller-chosen ids need an entry in `byEventId`.
  const idPrefix = globalThis.crypto.randomUUID().slice(0, 24)

  // `undefined` when a caller already chose the id this position would get.
  // The prefix with the zeros that pad a position of each hex length to 12 digits.
  const paddedPrefixes = Array.from({ length: 13 }, (_, digits) => idPrefix + "0".repeat(12 - digits))
  const generateId = (position: Position): string | undefined => {
    const hex = position.toString(16)
    const id = (paddedPrefixes[hex.length] ?? idPrefix) + hex
    return byEventId.size === 0 || byEventId.get(id) === undefined ? id : undefined
  }

  const recordedById = (eventId: string): RecordedEvent | undefined => {
    const chosen = byEventId.get(eventId)
    if (chosen !== undefined) return log[chosen - 1]
    if (eventId.length !== idPrefix.length + 12 || !eventId.startsWith(idPrefix)) return undefined
    const event = log[Number.parseInt(eventId.slice(idPrefix.length), 16) - 1]
    return event !== undefined && event.eventId === eventId ? event : undefined
  }

  // The outcome when some of the batch's ids are already recorded, or `undefined` when
  // none is.
  const retry = (batch: Contract.PreparedAppend): AppendResult | AppendError | undefined => {
    if (!batch.chosenIds) return undefined
    let found = false
    const recorded = batch.events.map(({ eventId }) => {
      const event = eventId === undefined ? undefined : recordedById(eventId)
      if (event !== undefined) found = true
      return event
    })
    return found ? Contract.judgeRetry(batch, recorded) : undefined
  }

  const record = (
    streamId: string,
    event: Contract.PreparedEvent,
    generatedId: string | undefined,
    version: number,
    position: Position,
    recordedAt: Date
  ): RecordedEvent =>
    Object.freeze<RecordedEvent>({
      eventId: event.eventId ?? generatedId ?? globalThis.crypto.randomUUID(),
      streamId,
      type: event.type,
      data: event.data,
      metadata: event.metadata,
      version,
      position,
      schemaVersion: event.schemaVersion,
      recordedAt
    })

  const appendAt = (
    streamIdInput: string,
    eventsInput: ReadonlyArray<NewEvent>,
    expectedInput: unknown,
    now: number
  ): AppendResult | AppendError => {
    const batch = Contract.prepareAppend(streamIdInput, eventsInput, expectedInput)
    if (batch instanceof InvalidAppend) return batch
    const idempotent = retry(batch)
    if (idempotent !== undefined) return idempotent

    const { streamId, events } = batch
    const stream = streams.get(streamId)
    const current = streamLength(stream)
    const wrong = Contract.checkExpected(streamId, batch.expected, current)
    if (wrong !== undefined) return wrong

    const count = events.length
    const base = log.length
    const recordedAt = dateAt(now)
    if (count === 1) {
      // The common case, without the batch's scratch array.
      const event = events[0]
      if (event === undefined) return new InvalidAppend({ streamId, reason: "the batch is empty" })
      const generated = event.eventId === undefined ? generateId(base + 1) : undefined
      const recorded = record(streamId, event, generated, current + 1, base + 1, recordedAt)
      log.push(recorded)
      if (stream === undefined) streams.add(streamId, recorded)
      else if (Array.isArray(stream)) stream.push(recorded)
      // Exact size: pushing onto `[]` would make room for 17 events.
      else streams.replace(streamId, [stream, recorded])
      if (generated === undefined) byEventId.add(recorded.eventId, recorded.position)
    } else {
      const recorded = new Array<RecordedEvent>(count)
      // Batch indices of the events whose ids must go into `byEventId`.
      let indexed: Array<number> | undefined
      // A chosen id shaped like a generated one might be the very id a later event of this
      // batch would get, before it is in the index: such a batch gets random ids instead.
      const forged = batch.chosenIds && events.some((event) => event.eventId !== undefined && event.eventId.startsWith(idPrefix))
      for (let index = 0; index < count; index++) {
        const event = events[index]
        if (event === undefined) continue
        const position = base + index + 1
        const generated = event.eventId === undefined && !forged ? generateId(position) : undefined
        recorded[index] = record(streamId, event, generated, current + index + 1, position, recordedAt)
        if (generated === undefined) (indexed ??= []).push(index)
      }
      // A stream of one event becomes an array here.
      const target = stream === undefined || Array.isArray(stream) ? stream : [stream]
      for (let index = 0; index < count; index++) {
        const each = recorded[index]
        if (each === undefined) continue
        log.push(each)
        target?.push(each)
      }
      // A new stream takes the batch's array as it is, already at its exact size.
      if (target === undefined) streams.add(streamId, recorded)
      else if (target !== stream) streams.replace(streamId, target)
      if (indexed !== undefined) {
        for (const index of indexed) {
          const each = recorded[index]
          if (each !== undefined) byEventId.add(each.eventId, each.position)
        }
      }
    }
    if (wakeUp !== undefined) {
      const waiting = wakeUp
      wakeUp = undefined
      Deferred.doneUnsafe(waiting, Effect.void)
    }
    return { streamId, nextExpectedVersion: current + count, position: base + count }
  }

  const append = (
    streamId: string,
    events: ReadonlyArray<NewEvent>,
    expected: unknown = "any"
  ): Effect.Effect<AppendResult, AppendError> =>
    Effect.clockWith((clock) => {
      const outcome = appendAt(streamId, events, expected, clock.currentTimeMillisUnsafe())
      return "_tag" in outcome ? Effect.fail(outcome) : Effect.succeed(outcome)
    })

  const readStream = (
    streamId: string,
    options: ReadStreamOptions = {}
  ): Stream.Stream<RecordedEvent, InvalidRead> => {
    const problem = Contract.checkReadStream(streamId, options)
    if (problem !== undefined) return Stream.fail(problem)
    const { direction = "forward", from, to, limit } = options

    return Stream.fromPull(Effect.sync(() => {
      const events = streamArray(streams.get(streamId))
      // The read sees the stream as it was when the read started.
      const length = events.length
      const budget = limit ?? Number.POSITIVE_INFINITY
      if (direction === "forward") {
        // Versions are 1-based: index = version - 1. `next` is the next index to emit.
        let next = Math.max((from ?? 1) - 1, 0)
        const end = Math.min(to ?? length, length, next + budget)
        return Effect.suspend((): Pull.Pull<Arr.NonEmptyReadonlyArray<RecordedEvent>> => {
          if (next >= end) return Cause.done()
          const chunk = events.slice(next, Math.min(next + chunkSize, end))
          next += chunk.length
          return Arr.isReadonlyArrayNonEmpty(chunk) ? Effect.succeed(chunk) : Cause.done()
        })
      }
      // Backward: `next` is one past the next index to emit, counting down to `end`.
      let next = Math.min(from ?? length, length)
      const end = Math.max((to ?? 1) - 1, 0, next - budget)
      return Effect.suspend((): Pull.Pull<Arr.NonEmptyReadonlyArray<RecordedEvent>> => {
        if (next <= end) return Cause.done()
        const chunk = events.slice(Math.max(next - chunkSize, end), next).reverse()
        next -= chunk.length
        return Arr.isReadonlyArrayNonEmpty(chunk) ? Effect.succeed(chunk) : Cause.done()
      })
    }))
  }

  // Scans at most `chunkSize` events of the log after `after`, up to `until`.
  const readPage = (
    after: Position,
    until: Position,
    matches: ((event: RecordedEvent) => boolean) | undefined,
    budget: number
  ): Subscription.Page<RecordedEvent> => {
    const end = Math.min(until, after + chunkSize)
    if (end <= after) return { items: [], next: after }
    if (matches === undefined) {
      const items = log.slice(after, Math.min(end, after + budget))
      return { items, next: after + items.length }
    }
    const items: Array<RecordedEvent> = []
    let index = after
    while (index < end && items.length < budget) {
      const event = log[index++]
      if (event !== undefined && matches(event)) items.push(event)
    }
    return { items, next: index }
  }

  const readAll = (options: ReadAllOptions = {}): Stream.Stream<RecordedEvent, InvalidRead> => {
    const problem = Contract.checkReadAll(options)
    if (problem !== undefined) return Stream.fail(problem)
    const { from = 0, filter, limit } = options
    const matches = eventMatcher(filter)
    return Stream.fromPull(Effect.sync(() => {
      // The read sees the log as it was when the read started.
      const until = log.length
      let checkpoint = from
      let remaining = limit ?? Number.POSITIVE_INFINITY
      const pull: Pull.Pull<Arr.NonEmptyReadonlyArray<RecordedEvent>> = Effect.suspend(() => {
        if (checkpoint >= until || remaining <= 0) return Cause.done()
        const page = readPage(checkpoint, until, matches, remaining)
        checkpoint = page.next
        remaining -= page.items.length
        return Arr.isReadonlyArrayNonEmpty(page.items) ? Effect.succeed(page.items) : pull
      })
      return pull
    }))
  }

  const awaitBeyond = (position: Position): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (log.length > position) return Effect.void
      wakeUp ??= Deferred.makeUnsafe<void>()
      return Deferred.await(wakeUp)
    })

  const subscribe = (options: SubscribeOptions = {}): Stream.Stream<RecordedEvent, InvalidRead> => {
    const problem = Contract.checkSubscribe(options)
    if (problem !== undefined) return Stream.fail(problem)
    const { from = 0, filter } = options
    const matches = eventMatcher(filter)
    return Subscription.subscribe(from, {
      readPage: (after) =>
        Effect.sync(() => readPage(after, log.length, matches, Number.POSITIVE_INFINITY)),
      awaitBeyond
    })
  }

  const streamVersion = (streamId: string): Effect.Effect<number> =>
    Effect.sync(() => streamLength(streams.get(streamId)))

  return EventStore.of({ append, readStream, readAll, subscribe, streamVersion })
})

/**
 * The in-memory `EventStore`. Each build of the layer is a new, empty store.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<EventStore> = Layer.effect(EventStore, make)
