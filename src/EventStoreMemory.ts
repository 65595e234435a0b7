/**
 * The in-memory event store: the embedded default for tests, examples and anything that
 * does not need to survive a restart.
 *
 * Layout: one global array of recorded events (position `p` is at index `p - 1`), one
 * array per stream (version `v` is at index `v - 1`) and an index from event id to the
 * recorded event. An append costs O(events appended) whatever the size of the stream or
 * the store; `streamVersion` is O(1); reads slice the stored arrays in chunks.
 *
 * Stored events are frozen deep copies of what was appended (see `internal/json.ts`), so
 * readers share them without copying and nobody can change history by mutating an
 * object.
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
  Json,
  Metadata,
  NewEvent,
  Position,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions
} from "./EventStore.js"
import { copyJson, copyMetadata, NotJson } from "./internal/json.js"
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
  // Only for keys not yet present: entries are never replaced.
  add(key: string, value: V): void {
    if (this.current.size >= shardCapacity) {
      this.current = new Map()
      this.shards.push(this.current)
    }
    this.current.set(key, value)
  }
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

const isCount = (value: unknown): value is number =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0

const isExpectedVersion = (value: unknown): value is ExpectedVersion =>
  value === "any" || value === "noStream" || value === "streamExists" || isCount(value)

const describeExpected = (value: unknown): string =>
  typeof value === "number" ? String(value) : typeof value === "string" ? JSON.stringify(value) : typeof value

/** An event that passed validation, not yet placed in the log. */
interface Draft {
  readonly eventId: string | undefined
  readonly type: string
  readonly data: Json
  readonly metadata: Metadata
  readonly schemaVersion: number
}

const invalid = (streamId: string, reason: string) => Effect.fail(new InvalidAppend({ streamId, reason }))

// Returns the drafts, or the reason the batch is malformed.
const draftBatch = (events: ReadonlyArray<NewEvent>): Array<Draft> | string => {
  const drafts = new Array<Draft>(events.length)
  for (let index = 0; index < events.length; index++) {
    const event = events[index]
    const at = `event ${index}`
    if (typeof event !== "object" || event === null) return `${at} is not an object`
    const { type, eventId, schemaVersion } = event
    if (typeof type !== "string" || type.length === 0) return `${at}: type must be a non-empty string`
    if (eventId !== undefined && (typeof eventId !== "string" || eventId.length === 0)) {
      return `${at}: eventId must be a non-empty string when given`
    }
    if (schemaVersion !== undefined && !(isCount(schemaVersion) && schemaVersion >= 1)) {
      return `${at}: schemaVersion must be a positive integer, got ${String(schemaVersion)}`
    }
    const data = copyJson(event.data, "data")
    if (data instanceof NotJson) return `${at}: ${data.message}`
    const metadata = copyMetadata(event.metadata)
    if (metadata instanceof NotJson) return `${at}: ${metadata.message}`
    drafts[index] = { eventId, type, data, metadata, schemaVersion: schemaVersion ?? 1 }
  }
  if (drafts.length > 1) {
    const seen = new Set<string>()
    for (const draft of drafts) {
      if (draft.eventId === undefined) continue
      if (seen.has(draft.eventId)) return `event id ${draft.eventId} appears twice in the batch`
      seen.add(draft.eventId)
    }
  }
  return drafts
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
  const streams = new ShardedMap<Array<RecordedEvent>>()
  const byEventId = new ShardedMap<RecordedEvent>()
  // Created only when a subscriber has caught up and waits; completed and dropped by the
  // next append, so appends with nobody waiting pay nothing for it.
  let wakeUp: Deferred.Deferred<void> | undefined

  const retry = (
    streamId: string,
    drafts: ReadonlyArray<Draft>,
    expected: ExpectedVersion
  ): Effect.Effect<AppendResult, AppendError> | undefined => {
    let recorded: Array<string> | undefined
    for (const draft of drafts) {
      if (draft.eventId !== undefined && byEventId.get(draft.eventId) !== undefined) {
        ;(recorded ??= []).push(draft.eventId)
      }
    }
    if (recorded === undefined) return undefined
    const conflict = Effect.fail(new EventIdConflict({ streamId, eventIds: recorded }))
    if (recorded.length !== drafts.length) return conflict
    const firstId = recorded[0]
    const first = firstId === undefined ? undefined : byEventId.get(firstId)
    const stream = streams.get(streamId)
    if (first === undefined || stream === undefined || first.streamId !== streamId) return conflict
    if (!retryStartsAt(expected, first.version)) return conflict
    let last = first
    for (let index = 0; index < drafts.length; index++) {
      const event = stream[first.version - 1 + index]
      const draft = drafts[index]
      if (event === undefined || draft === undefined || event.eventId !== draft.eventId || event.type !== draft.type) {
        return conflict
      }
      last = event
    }
    return Effect.succeed({ streamId, nextExpectedVersion: last.version, position: last.position })
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
    const drafts = draftBatch(events)
    if (typeof drafts === "string") return invalid(streamId, drafts)

    const idempotent = retry(streamId, drafts, expected)
    if (idempotent !== undefined) return idempotent

    const stream = streams.get(streamId)
    const current = stream === undefined ? 0 : stream.length
    if (!expectationHolds(expected, current)) {
      return Effect.fail(new WrongExpectedVersion({ streamId, expected, actual: current }))
    }

    // Nothing below can fail, so the batch becomes visible whole or not at all.
    const target = stream ?? []
    if (stream === undefined) streams.add(streamId, target)
    let recorded: RecordedEvent | undefined
    for (let index = 0; index < drafts.length; index++) {
      const draft = drafts[index]
      if (draft === undefined) continue
      recorded = Object.freeze<RecordedEvent>({
        eventId: draft.eventId ?? globalThis.crypto.randomUUID(),
        streamId,
        type: draft.type,
        data: draft.data,
        metadata: draft.metadata,
        version: current + index + 1,
        position: log.length + 1,
        schemaVersion: draft.schemaVersion,
        recordedAt: new Date(now)
      })
      log.push(recorded)
      target.push(recorded)
      byEventId.add(recorded.eventId, recorded)
    }
    if (wakeUp !== undefined) {
      const waiting = wakeUp
      wakeUp = undefined
      Deferred.doneUnsafe(waiting, Effect.void)
    }
    return Effect.succeed({
      streamId,
      nextExpectedVersion: current + drafts.length,
      position: recorded === undefined ? log.length : recorded.position
    })
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
      const events = streams.get(streamId) ?? []
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
    Effect.sync(() => streams.get(streamId)?.length ?? 0)

  return EventStore.of({ append, readStream, readAll, subscribe, streamVersion })
})

/**
 * The in-memory `EventStore`. Each build of the layer is a new, empty store.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<EventStore> = Layer.effect(EventStore, make)
