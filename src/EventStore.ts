/**
 * The event store: an append-only log of streams, as an Effect service.
 *
 * This module is the contract only — its data types, its limits, its errors and the
 * promises every layer keeps. The layers live beside it: `EventStoreMemory` (the embedded
 * default) and `EventStoreFile` (the durable log). Every layer checks the same rules in
 * the same place and passes the one conformance suite, `StoreConformance` in
 * `es-kernel/testing`, which any third-party layer can run too.
 *
 * @since 0.1.0
 */
import { Context, Data } from "effect"
import type { Effect, Stream } from "effect"
import { quote, quoteList } from "./internal/text.js"

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

/**
 * A JSON value: what an event's `data` and `metadata` may hold. Every layer stores events
 * as JSON, so `Date`s, `bigint`s, `undefined`, functions and cycles are refused at append.
 *
 * @since 0.1.0
 */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

/**
 * Metadata recorded with an event. `correlationId` ties together everything caused by one
 * request; `causationId` names the message (command or event) that caused this one. Any
 * other key is the user's.
 *
 * @since 0.1.0
 */
export interface Metadata {
  readonly correlationId?: string
  readonly causationId?: string
  readonly [key: string]: Json | undefined
}

/**
 * An event to append. `eventId` is optional: a layer assigns a new one when it is missing
 * (a UUID: of version 7, time-ordered, on the file and PostgreSQL layers; on the memory
 * layer, a per-store prefix and the position), but a caller that wants idempotent retries
 * must provide it.
 * `schemaVersion` defaults to 1; the codec layer sets it to the type's current version.
 *
 * @since 0.1.0
 */
export interface NewEvent {
  readonly type: string
  readonly data: unknown
  readonly metadata?: Metadata
  readonly eventId?: string
  readonly schemaVersion?: number
}

/**
 * An event as the store recorded it.
 *
 * - `version`: 1-based and gapless within its stream.
 * - `position`: its place in the store's global order, strictly increasing (not
 *   necessarily gapless: a layer may skip numbers, never reorder them).
 *
 * @since 0.1.0
 */
export interface RecordedEvent {
  readonly eventId: string
  readonly streamId: string
  readonly type: string
  readonly data: Json
  readonly metadata: Metadata
  readonly version: number
  readonly position: Position
  readonly schemaVersion: number
  readonly recordedAt: Date
}

/**
 * A place in the global order. Positions are totally ordered numbers; `0` is the
 * beginning of the store, before the first event.
 *
 * @since 0.1.0
 */
export type Position = number

/**
 * The beginning of the store: reading or subscribing from it delivers every event.
 *
 * @since 0.1.0
 */
export const start: Position = 0

/**
 * The category of a stream: the part of its id before the first `-` (`order-123` →
 * `order`). A stream id without `-` is its own category.
 *
 * @since 0.1.0
 */
export const categoryOf = (streamId: string): string => {
  const dash = streamId.indexOf("-")
  return dash === -1 ? streamId : streamId.slice(0, dash)
}

// ---------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------

/**
 * What every layer accepts, the same everywhere: an append past any of these is refused
 * with `InvalidAppend` before anything is written, on every layer alike.
 *
 * - `idLength`: stream ids, event ids and event types are 1 to 256 UTF-16 code units
 *   (`string.length`), well-formed (no lone surrogate) and without U+0000. They are
 *   stored as text and compared exactly; these are the strings every layer can store and
 *   give back unchanged.
 * - `depth`: `data` and `metadata` nest objects and arrays at most 64 levels deep.
 * - `eventBytes`: one event's `data` plus `metadata` (`{}` when absent), as UTF-8 JSON
 *   text (`JSON.stringify`), at most 32 MiB.
 * - `batchEvents`, `batchBytes`: one append holds at most 10,000 events and 64 MiB of
 *   JSON text. Append more in several batches (each is atomic on its own).
 * - `schemaVersion`: a positive integer up to 2,147,483,647.
 *
 * Inside `data` and `metadata`, any JSON value round-trips: strings holding U+0000 or
 * lone surrogates, any key order, any number JSON can write. What comes back is
 * deep-equal to what was appended (key order is not part of the promise; `-0` reads back
 * as `0`, because JSON has no negative zero).
 *
 * @since 0.2.0
 */
export const limits = {
  idLength: 256,
  depth: 64,
  eventBytes: 32 * 1024 * 1024,
  batchEvents: 10_000,
  batchBytes: 64 * 1024 * 1024,
  schemaVersion: 2_147_483_647
} as const

// ---------------------------------------------------------------------------
// Appending
// ---------------------------------------------------------------------------

/**
 * What the caller believes about the stream before appending:
 *
 * - `"any"`: no check.
 * - `"noStream"`: the stream has no events yet.
 * - `"streamExists"`: the stream has at least one event.
 * - a number `n`: the stream's current version is exactly `n` (`0` = no events).
 *
 * @since 0.1.0
 */
export type ExpectedVersion = "any" | "noStream" | "streamExists" | number

/**
 * The outcome of a successful append.
 *
 * - `nextExpectedVersion`: the stream's version after the append — pass it as the
 *   expected version of the next append.
 * - `position`: the global position of the last event of the batch (for an idempotent
 *   retry, of the events already recorded).
 *
 * @since 0.1.0
 */
export interface AppendResult {
  readonly streamId: string
  readonly nextExpectedVersion: number
  readonly position: Position
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/**
 * Options for reading one stream.
 *
 * - `direction`: `"forward"` (default) or `"backward"`.
 * - `from`: the first version to deliver, inclusive (default: 1 forward, the last
 *   version backward).
 * - `to`: the last version to deliver, inclusive (default: the end in that direction).
 * - `limit`: deliver at most this many events.
 * - `asOf`: time travel — read the stream as it was at this instant: only events
 *   recorded at or before it (`recordedAt <= asOf`). Since `recordedAt` never goes
 *   backwards within a store, these are a prefix of the stream, so folding them gives
 *   the state as of `asOf`. Backward, the read starts at the last such event.
 *
 * @since 0.1.0
 */
export interface ReadStreamOptions {
  readonly direction?: "forward" | "backward"
  readonly from?: number
  readonly to?: number
  readonly limit?: number
  /** @since 0.2.0 */
  readonly asOf?: Date
}

/**
 * A half-open range of recording times: events with `from <= recordedAt < before`.
 * Either end may be absent (unbounded on that side). Times compare to the millisecond,
 * as `Date`s do.
 *
 * @since 0.2.0
 */
export interface TimeRange {
  /** The earliest recording time delivered, inclusive. */
  readonly from?: Date
  /** The first recording time no longer delivered, exclusive. */
  readonly before?: Date
}

/**
 * Which events of the global log to deliver. Every condition given must hold (they are
 * combined with AND); within one list, any entry may match (OR). An empty or absent list
 * means "all".
 *
 * - `categories`: the stream's category (`categoryOf`) is one of these.
 * - `types`: the event's type is one of these.
 * - `correlationIds`: the event's `metadata.correlationId` is one of these, compared
 *   exactly: everything one request caused, across streams. Events without a
 *   correlation id never match a non-empty list.
 * - `recordedAt`: the event was recorded within this range.
 *
 * @since 0.1.0
 */
export interface EventFilter {
  readonly categories?: ReadonlyArray<string>
  readonly types?: ReadonlyArray<string>
  /** @since 0.2.0 */
  readonly correlationIds?: ReadonlyArray<string>
  /** @since 0.2.0 */
  readonly recordedAt?: TimeRange
}

/**
 * Options for reading the global log.
 *
 * - `from`: a checkpoint — deliver events strictly after this position (default `start`).
 * - `filter`: keep only the events the filter matches (see `EventFilter`).
 * - `limit`: deliver at most this many (matching) events.
 *
 * @since 0.1.0
 */
export interface ReadAllOptions {
  readonly from?: Position
  readonly filter?: EventFilter
  readonly limit?: number
}

/**
 * Options for a subscription: catch-up from `from` (exclusive), then live, delivering
 * only what `filter` matches (see `EventFilter`; a `recordedAt` range with a `before`
 * makes a subscription that falls silent once the log passes it).
 *
 * @since 0.1.0
 */
export interface SubscribeOptions {
  readonly from?: Position
  readonly filter?: EventFilter
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/**
 * The stream was not at the version the caller expected. Nothing was appended.
 * `actual` is the stream's current version (`0` when it has no events).
 *
 * @since 0.1.0
 */
export class WrongExpectedVersion extends Data.TaggedError("WrongExpectedVersion")<{
  readonly streamId: string
  readonly expected: ExpectedVersion
  readonly actual: number
}> {
  override get message(): string {
    return `stream ${quote(this.streamId)}: expected version ${
      typeof this.expected === "number" ? this.expected : quote(this.expected)
    }, but the stream is at version ${this.actual}. Another writer appended first: read the stream again and decide again (CommandHandler does this for you).`
  }
}

/**
 * A retried append whose event ids match the recorded events only in part (or in a
 * different order, in another stream, or with different content at the same place). Event
 * ids are unique store-wide: reusing one in another stream is this error too. A full
 * match — same ids, same order, same type, data, metadata and schema version, where the
 * expected version says — is an idempotent success, never this error. Nothing was
 * appended.
 *
 * @since 0.1.0
 */
export class EventIdConflict extends Data.TaggedError("EventIdConflict")<{
  readonly streamId: string
  readonly eventIds: ReadonlyArray<string>
}> {
  override get message(): string {
    return `stream ${quote(this.streamId)}: event ids ${
      quoteList(this.eventIds)
    } are already recorded, but not as this batch (another stream, another place, or other content). An event id names one event store-wide: give new events new ids, or retry exactly the batch that was appended.`
  }
}

/**
 * The append was malformed or past a limit (see `limits`): an empty or malformed stream
 * id, event id or type, an empty batch, a negative or fractional expected version, data
 * or metadata that is not JSON, a non-string `correlationId` / `causationId`. `reason`
 * says which event and what to do. Nothing was appended.
 *
 * @since 0.1.0
 */
export class InvalidAppend extends Data.TaggedError("InvalidAppend")<{
  readonly streamId: string
  readonly reason: string
}> {
  override get message(): string {
    return `invalid append to stream ${quote(this.streamId)}: ${this.reason}. Nothing was appended.`
  }
}

/**
 * The read options were malformed (a negative `from`, a non-positive `limit`, a filter
 * list that is not an array of strings, a time that is not a valid `Date`, a time range
 * whose `from` is after its `before`, …). `reason` says which option and what to pass
 * instead. Nothing was read.
 *
 * @since 0.1.0
 */
export class InvalidRead extends Data.TaggedError("InvalidRead")<{
  readonly reason: string
}> {
  override get message(): string {
    return `invalid read: ${this.reason}`
  }
}

/**
 * The storage underneath failed (I/O, a corrupt record, a lost connection). For a durable
 * layer this may be fatal: see that layer's documentation.
 *
 * @since 0.1.0
 */
export class StorageError extends Data.TaggedError("StorageError")<{
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `event store storage failed: ${this.reason}`
  }
}

/**
 * Every way `append` can fail.
 *
 * @since 0.1.0
 */
export type AppendError = WrongExpectedVersion | EventIdConflict | InvalidAppend | StorageError

/**
 * Every way a read can fail.
 *
 * @since 0.1.0
 */
export type ReadError = InvalidRead | StorageError

// ---------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------

/**
 * The event store. Every layer keeps these promises:
 *
 * - `append` is atomic: the whole batch is recorded, or none of it. It fails with
 *   `WrongExpectedVersion` when `expected` does not hold. Re-appending the same event ids
 *   at the same expected version is an idempotent success; a partial overlap is
 *   `EventIdConflict`. Its cost is proportional to the events appended.
 * - `readStream` and `readAll` are lazy `Stream`s: stopping early is cheap and nothing
 *   loads the whole store into memory.
 * - `subscribe` delivers every matching event strictly after `from` — first those already
 *   recorded, then live ones — in global order, never skipping an event that commits
 *   later with a lower position. Delivery is at-least-once across restarts: resume from
 *   the last position you processed.
 * - `streamVersion` is the stream's current version, `0` when it has no events.
 * - `recordedAt` never goes backwards within a store: in global order (position), each
 *   event's `recordedAt` is at or after the one before it, even when the clock steps
 *   back or several processes append at once. Time ranges and `asOf` rely on it.
 * - Filters (`EventFilter`) and `asOf` mean the same on every layer.
 *
 * @since 0.1.0
 */
export class EventStore extends Context.Service<EventStore, {
  readonly append: (
    streamId: string,
    events: ReadonlyArray<NewEvent>,
    expected?: ExpectedVersion
  ) => Effect.Effect<AppendResult, AppendError>
  readonly readStream: (streamId: string, options?: ReadStreamOptions) => Stream.Stream<RecordedEvent, ReadError>
  readonly readAll: (options?: ReadAllOptions) => Stream.Stream<RecordedEvent, ReadError>
  readonly subscribe: (options?: SubscribeOptions) => Stream.Stream<RecordedEvent, ReadError>
  readonly streamVersion: (streamId: string) => Effect.Effect<number, StorageError>
}>()("es-kernel/EventStore") {}
