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
 * Idempotency: when some of a batch's ids are already recorded, they decide the outcome.
 * If the batch is exactly a run of this stream (same ids in the same order, same types)
 * starting where the expected version says (`any`: anywhere), the append succeeds with
 * the run's result and records nothing. Anything else is `EventIdConflict`. Data is not
 * compared. Malformed input is `InvalidAppend` whatever else is wrong.
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
import {
  EventIdConflict,
  EventStore,
  InvalidAppend,
  InvalidRead,
  WrongExpectedVersion
} from "./EventStore.js"
import type {
  AppendError,
  AppendResult,
  EventFilter,
  ExpectedVersion,
  NewEvent,
  Position,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions
} from "./EventStore.js"
import { copyJson, copyMetadata, emptyMetadata, NotJson } from "./internal/json.js"
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

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

const isCount = (value: unknown): value is number =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0

const isExpectedVersion = (value: unknown): value is ExpectedVersion =>
  value === "any" || value === "noStream" || value === "streamExists" || isCount(value)

const describeExpected = (value: unknown): string =>
  typeof value === "number" ? String(value) : typeof value === "string" ? JSON.stringify(value) : typeof value

const invalid = (streamId: string, reason: string) => Effect.fail(new InvalidAppend({ streamId, reason }))

// Why the batch's events are malformed, ignoring their data and metadata, or undefined.
// Cheap enough to run before the expected version is checked.
const malformedShape = (events: ReadonlyArray<NewEvent>): string | undefined => {
  for (let index = 0; index < events.length; index++) {
    const event = events[index]
    if (typeof event !== "object" || event === null) return `event ${index} is not an object`
    const { type, eventId, schemaVersion } = event
    if (typeof type !== "string" || type.length === 0) return `event ${index}: type must be a non-empty string`
    if (eventId !== undefined && (typeof eventId !== "string" || eventId.length === 0)) {
      return `event ${index}: eventId must be a non-empty string when given`
    }
    if (schemaVersion !== undefined && !(isCount(schemaVersion) && schemaVersion >= 1)) {
      return `event ${index}: schemaVersion must be a positive integer, got ${String(schemaVersion)}`
    }
  }
  if (events.length > 1) {
    const seen = new Set<string>()
    for (const { eventId } of events) {
      if (eventId === undefined) continue
      if (seen.has(eventId)) return `event id ${eventId} appears twice in the batch`
      seen.add(eventId)
    }
  }
  return undefined
}

// Why some event's data or metadata is not JSON, or undefined. The append copies them
// anyway when it records the batch; this is for an append refused before that point, so
// that malformed input is reported as such whatever else is wrong.
const malformedJson = (events: ReadonlyArray<NewEvent>): string | undefined => {
  for (let index = 0; index < events.length; index++) {
    const event = events[index]
    const data = copyJson(event?.data, "data")
    if (data instanceof NotJson) return `event ${index}: ${data.message}`
    const metadata = copyMetadata(event?.metadata)
    if (metadata instanceof NotJson) return `event ${index}: ${metadata.message}`
  }
  return undefined
}

// A refusal for a well-formed batch; a malformed one is refused as malformed instead.
const refuse = (
  streamId: string,
  events: ReadonlyArray<NewEvent>,
  error: WrongExpectedVersion | EventIdConflict
): Effect.Effect<never, AppendError> => {
  const malformed = malformedJson(events)
  return malformed === undefined ? Effect.fail(error) : invalid(streamId, malformed)
}

const expectationHolds = (expected: ExpectedVersion, current: number): boolean =>
  expected === "any" ||
  (expected === "noStream" ? current === 0 : expected === "streamExists" ? current > 0 : current === expected)

// Where an idempotent retry's events must already sit for the expected version to have
// held when they were first appended.
const retryStartsAt = (expected: ExpectedVersion, firstVersion: number): boolean =>
  expected === "any" ||
  (expected === "noStream"
    ? firstVersion === 1
    : expected === "streamExists"
    ? firstVersion > 1
    : firstVersion === expected + 1)

const validateFilter = (filter: EventFilter | undefined): string | undefined => {
  if (filter === undefined) return undefined
  const { categories, types } = filter
  if (categories !== undefined && !(Array.isArray(categories) && categories.every((c) => typeof c === "string"))) {
    return "filter.categories must be an array of strings"
  }
  if (types !== undefined && !(Array.isArray(types) && types.every((t) => typeof t === "string"))) {
    return "filter.types must be an array of strings"
  }
  return undefined
}

const validateCheckpoint = (from: unknown): string | undefined =>
  from === undefined || isCount(from) ? undefined : `from must be a non-negative integer position, got ${String(from)}`

const validateLimit = (limit: unknown): string | undefined =>
  limit === undefined || (isCount(limit) && limit >= 1) ? undefined : `limit must be a positive integer, got ${String(limit)}`

/** A predicate over recorded events, or `undefined` when everything matches. */
const matcher = (filter: EventFilter | undefined): ((event: RecordedEvent) => boolean) | undefined => {
  const categories = filter?.categories !== undefined && filter.categories.length > 0
    ? filter.categories
    : undefined
  const types = filter?.types !== undefined && filter.types.length > 0 ? new Set(filter.types) : undefined
  if (categories === undefined && types === undefined) return undefined
  // Comparing prefixes in place avoids allocating each event's category string.
  const inCategory = categories === undefined ? undefined : (streamId: string): boolean => {
    for (const category of categories) {
      if (!streamId.startsWith(category)) continue
      if (streamId.length === category.length) {
        if (!category.includes("-")) return true
      } else if (streamId.charCodeAt(category.length) === 45 && !category.includes("-")) {
        return true
      }
    }
    return false
  }
  return (event) =>
    (types === undefined || types.has(event.type)) && (inCategory === undefined || inCategory(event.streamId))
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

  // The outcome when some of the batch's ids are already recorded: the original result
  // for a faithful retry, a conflict otherwise. `undefined` when none is recorded.
  const retry = (
    streamId: string,
    events: ReadonlyArray<NewEvent>,
    expected: ExpectedVersion
  ): Effect.Effect<AppendResult, AppendError> | undefined => {
    let recorded: Array<string> | undefined
    let first: RecordedEvent | undefined
    for (const { eventId } of events) {
      if (eventId === undefined) continue
      const found = recordedById(eventId)
      if (found === undefined) continue
      first ??= found
      ;(recorded ??= []).push(eventId)
    }
    if (recorded === undefined || first === undefined) return undefined
    const conflict = new EventIdConflict({ streamId, eventIds: recorded })
    const stream = streams.get(streamId)
    const streamEvents = streamArray(stream)
    if (
      recorded.length !== events.length || stream === undefined || first.streamId !== streamId ||
      !retryStartsAt(expected, first.version)
    ) return refuse(streamId, events, conflict)
    let last = first
    for (let index = 0; index < events.length; index++) {
      const event = streamEvents[first.version - 1 + index]
      const retried = events[index]
      if (event === undefined || retried === undefined || event.eventId !== retried.eventId || event.type !== retried.type) {
        return refuse(streamId, events, conflict)
      }
      last = event
    }
    const malformed = malformedJson(events)
    if (malformed !== undefined) return invalid(streamId, malformed)
    return Effect.succeed({ streamId, nextExpectedVersion: last.version, position: last.position })
  }

  // The recorded form of one event, or why its data or metadata is not JSON. Without a
  // chosen or generated id, it gets a random one.
  const record = (
    streamId: string,
    event: NewEvent,
    index: number,
    generatedId: string | undefined,
    version: number,
    position: Position,
    recordedAt: Date
  ): RecordedEvent | string => {
    const data = copyJson(event.data, "data")
    if (data instanceof NotJson) return `event ${index}: ${data.message}`
    const metadata = event.metadata === undefined ? emptyMetadata : copyMetadata(event.metadata)
    if (metadata instanceof NotJson) return `event ${index}: ${metadata.message}`
    return Object.freeze<RecordedEvent>({
      eventId: event.eventId ?? generatedId ?? globalThis.crypto.randomUUID(),
      streamId,
      type: event.type,
      data,
      metadata,
      version,
      position,
      schemaVersion: event.schemaVersion ?? 1,
      recordedAt
    })
  }

  const appendAt = (
    streamId: string,
    events: ReadonlyArray<NewEvent>,
    expected: ExpectedVersion,
    now: number
  ): Effect.Effect<AppendResult, AppendError> => {
    if (typeof streamId !== "string" || streamId.length === 0) {
      return invalid(String(streamId), "the stream id must be a non-empty string")
    }
    if (!Array.isArray(events) || events.length === 0) return invalid(streamId, "the batch must not be empty")
    if (!isExpectedVersion(expected)) {
      return invalid(
        streamId,
        `expected version must be "any", "noStream", "streamExists" or a non-negative integer, got ${
          describeExpected(expected)
        }`
      )
    }
    const malformed = malformedShape(events)
    if (malformed !== undefined) return invalid(streamId, malformed)

    const idempotent = retry(streamId, events, expected)
    if (idempotent !== undefined) return idempotent

    const stream = streams.get(streamId)
    const current = streamLength(stream)
    if (!expectationHolds(expected, current)) {
      return refuse(streamId, events, new WrongExpectedVersion({ streamId, expected, actual: current }))
    }

    // Copy everything before recording anything: a batch is visible whole or not at all.
    const count = events.length
    const base = log.length
    const recordedAt = dateAt(now)
    if (count === 1) {
      // The common case, without the batch's scratch array.
      const event = events[0]
      if (event === undefined) return invalid(streamId, "event 0 is missing")
      const generated = event.eventId === undefined ? generateId(base + 1) : undefined
      const recorded = record(streamId, event, 0, generated, current + 1, base + 1, recordedAt)
      if (typeof recorded === "string") return invalid(streamId, recorded)
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
      const forged = events.some((event) => event.eventId !== undefined && event.eventId.startsWith(idPrefix))
      for (let index = 0; index < count; index++) {
        const event = events[index]
        if (event === undefined) return invalid(streamId, `event ${index} is missing`)
        const position = base + index + 1
        const generated = event.eventId === undefined && !forged ? generateId(position) : undefined
        const each = record(streamId, event, index, generated, current + index + 1, position, recordedAt)
        if (typeof each === "string") return invalid(streamId, each)
        recorded[index] = each
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
    return Effect.succeed({ streamId, nextExpectedVersion: current + count, position: base + count })
  }

  const append = (
    streamId: string,
    events: ReadonlyArray<NewEvent>,
    expected: ExpectedVersion = "any"
  ): Effect.Effect<AppendResult, AppendError> =>
    Effect.clockWith((clock) => appendAt(streamId, events, expected, clock.currentTimeMillisUnsafe()))

  const readStream = (
    streamId: string,
    options: ReadStreamOptions = {}
  ): Stream.Stream<RecordedEvent, InvalidRead> => {
    const { direction = "forward", from, to, limit } = options
    const problem = typeof streamId !== "string" || streamId.length === 0
      ? "the stream id must be a non-empty string"
      : direction !== "forward" && direction !== "backward"
      ? `direction must be "forward" or "backward", got ${String(direction)}`
      : from !== undefined && !isCount(from)
      ? `from must be a non-negative integer version, got ${String(from)}`
      : to !== undefined && !isCount(to)
      ? `to must be a non-negative integer version, got ${String(to)}`
      : validateLimit(limit)
    if (problem !== undefined) return Stream.fail(new InvalidRead({ reason: problem }))

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
    const { from = 0, filter, limit } = options
    const problem = validateCheckpoint(from) ?? validateFilter(filter) ?? validateLimit(limit)
    if (problem !== undefined) return Stream.fail(new InvalidRead({ reason: problem }))
    const matches = matcher(filter)
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
    const { from = 0, filter } = options
    const problem = validateCheckpoint(from) ?? validateFilter(filter)
    if (problem !== undefined) return Stream.fail(new InvalidRead({ reason: problem }))
    const matches = matcher(filter)
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
