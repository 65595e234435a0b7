/**
 * The command handler: runs a decider against an event store.
 *
 * `handle(id, command)` loads the stream `category-id` (decoded and upcast by the codec),
 * folds it into the current state, decides, and appends the new events with the loaded
 * version as the expected version. If another writer got there first, the append fails
 * with `WrongExpectedVersion`; the handler then reloads and decides again, under a
 * bounded, configurable `Schedule`. A rejection is a typed failure and appends nothing.
 *
 * Give a command a `commandId` and it becomes idempotent: the event ids are derived from
 * it, so a retried command (after a timeout, a crash, a redelivery) finds its own events
 * already in the stream and returns them instead of deciding twice.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import { Data, Effect, Schedule, Stream } from "effect"
import * as Either from "fp-ts/lib/Either.js"
import type { Decider } from "./Decider.js"
import { fold } from "./Decider.js"
import type { DecodeError, EncodedEvent, EncodeFailed, Skipped, StoredEvent } from "./EventCodec.js"
import { isSkipped } from "./EventCodec.js"
import type { AppendError, Json, Metadata, NewEvent, Position, ReadError, RecordedEvent } from "./EventStore.js"
import { EventStore, WrongExpectedVersion } from "./EventStore.js"

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/**
 * What the handler and projections need of a codec: an `EventCodec` is one.
 * `storedTypes`, the type names it reads, lets a projection filter the global log.
 *
 * @since 0.1.0
 */
export interface Codec<E> {
  readonly encode: (event: E) => Either.Either<EncodeFailed, EncodedEvent>
  readonly decode: (recorded: StoredEvent) => Either.Either<DecodeError, E | Skipped>
  readonly storedTypes?: ReadonlyArray<string>
}

/**
 * How to run one decider.
 *
 * - `category`: streams are named `category-id` (`account-42`).
 * - `retry`: how often and how fast to retry after a version conflict (default:
 *   `defaultRetry`, ten retries with a short jittered exponential back-off).
 * - `cachedStreams`: how many streams' latest state to keep in memory (default 10,000;
 *   `0` turns the cache off). A cached stream loads by reading only the events after the
 *   cached version — safe because a stream only grows — so a handler's cost per command
 *   stays flat as streams get long. The cache is per store: one handler used with two
 *   stores never mixes them up.
 *
 * @since 0.1.0
 */
export interface Options<C, S, E, R> {
  readonly decider: Decider<C, S, E, R>
  readonly codec: Codec<E>
  readonly category: string
  readonly retry?: Schedule.Schedule<unknown>
  readonly cachedStreams?: number
}

/**
 * Ten retries, waiting 1 ms, 1.5 ms, 2.25 ms … with jitter: enough to ride out a burst of
 * writers on one stream, bounded so that a hot stream surfaces as an error, not a hang.
 *
 * @since 0.1.0
 */
export const defaultRetry: Schedule.Schedule<unknown> = Schedule.max([
  Schedule.jittered(Schedule.exponential("1 millis", 1.5)),
  Schedule.recurs(10)
])

/**
 * Per-command context.
 *
 * - `commandId`: makes the command idempotent (event ids are derived from it) and becomes
 *   the events' `causationId`.
 * - `correlationId`: ties everything one request caused together (default: the command id).
 * - `metadata`: user keys recorded with every event.
 *
 * @since 0.1.0
 */
export interface CommandOptions {
  readonly commandId?: string
  readonly correlationId?: string
  readonly causationId?: string
  readonly metadata?: { readonly [key: string]: Json }
}

// ---------------------------------------------------------------------------
// Results and errors
// ---------------------------------------------------------------------------

/**
 * A stream folded into state.
 *
 * - `version`: the stream's version (0 when it has no events).
 * - `skipped`: events of unknown types the codec skipped (under its `"skip"` policy) in
 *   what this load read — with the state cache, only the events after the cached version.
 *
 * @since 0.1.0
 */
export interface Loaded<S> {
  readonly streamId: string
  readonly state: S
  readonly version: number
  readonly skipped: ReadonlyArray<Skipped>
}

/**
 * Time travel: load the state as it was at a version, or at a moment (every event recorded
 * at or before `at`). Both may be given; the earlier bound wins. Default: now.
 *
 * @since 0.1.0
 */
export interface LoadOptions {
  readonly version?: number
  readonly at?: Date
}

/**
 * A handled command.
 *
 * - `events`: the events it appended — or, with `alreadyHandled`, the events an earlier
 *   run of the same `commandId` appended.
 * - `state`, `version`: the stream after those events (for `alreadyHandled`, the stream
 *   as it is now).
 * - `position`: the global position of the last event appended (absent when none was).
 *
 * @since 0.1.0
 */
export interface Handled<S, E> {
  readonly streamId: string
  readonly events: ReadonlyArray<E>
  readonly state: S
  readonly version: number
  readonly position?: Position
  readonly alreadyHandled: boolean
}

/**
 * The decider rejected the command. Nothing was appended.
 *
 * @since 0.1.0
 */
export class Rejected<R> extends Data.TaggedError("Rejected")<{
  readonly streamId: string
  readonly rejection: R
}> {
  override get message(): string {
    return `command rejected on ${this.streamId}: ${JSON.stringify(this.rejection)}`
  }
}

/**
 * Every way loading a stream can fail.
 *
 * @since 0.1.0
 */
export type LoadError = ReadError | DecodeError

/**
 * Every way handling a command can fail. `WrongExpectedVersion` means the retries ran out.
 *
 * @since 0.1.0
 */
export type HandleError<R> = Rejected<R> | LoadError | EncodeFailed | AppendError

// ---------------------------------------------------------------------------
// Event ids
// ---------------------------------------------------------------------------

/**
 * The id of the `index`-th event a command appends: a name-based UUID (version 8, SHA-256)
 * of the command id, so every retry of the command proposes the same ids.
 *
 * @since 0.1.0
 */
export const eventIdFor = (commandId: string, index: number): string => {
  const hex = createHash("sha256").update(`${commandId}\u0000${index}`).digest("hex")
  const variant = ((parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

// ---------------------------------------------------------------------------
// The handler
// ---------------------------------------------------------------------------

/**
 * A decider bound to a codec and a category, ready to run on any `EventStore` layer.
 *
 * @since 0.1.0
 */
export interface CommandHandler<C, S, E, R> {
  readonly streamIdOf: (id: string) => string
  readonly load: (id: string, upTo?: LoadOptions) => Effect.Effect<Loaded<S>, LoadError, EventStore>
  readonly handle: (id: string, command: C, options?: CommandOptions) => Effect.Effect<Handled<S, E>, HandleError<R>, EventStore>
}

interface Replayed<S, E> extends Loaded<S> {
  /** The events a previous run of this command appended, found while loading. */
  readonly previous: ReadonlyArray<E>
  readonly commandIds: Set<string>
}

/**
 * A stream's state at a version, and every command id recorded in it up to there (so that
 * a retried command is recognised without reading the whole stream again). The set only
 * grows, and only with ids really recorded, so sharing it between entries is safe.
 */
interface Cached<S> {
  readonly version: number
  readonly state: S
  readonly commandIds: Set<string>
}

/** Least recently used first: a `Map` iterates in insertion order, and a hit re-inserts. */
const makeStateCache = <S>(capacity: number) => {
  const byStore = new WeakMap<object, Map<string, Cached<S>>>()
  const streamsOf = (store: object) => {
    const existing = byStore.get(store)
    if (existing !== undefined) return existing
    const created = new Map<string, Cached<S>>()
    byStore.set(store, created)
    return created
  }
  return {
    get: (store: object, streamId: string): Cached<S> | undefined => {
      const streams = streamsOf(store)
      const entry = streams.get(streamId)
      if (entry !== undefined) {
        streams.delete(streamId)
        streams.set(streamId, entry)
      }
      return entry
    },
    /** Keeps the newer of the cached and the offered entry: concurrent loads may finish out of order. */
    offer: (store: object, streamId: string, entry: Cached<S>): void => {
      if (capacity <= 0) return
      const streams = streamsOf(store)
      const current = streams.get(streamId)
      if (current !== undefined && current.version >= entry.version) return
      streams.delete(streamId)
      streams.set(streamId, entry)
      if (streams.size > capacity) {
        const oldest = streams.keys().next()
        if (oldest.done !== true) streams.delete(oldest.value)
      }
    }
  }
}

/**
 * Binds a decider to a codec and a stream category.
 *
 * @since 0.1.0
 */
export const make = <C, S, E, R>(options: Options<C, S, E, R>): CommandHandler<C, S, E, R> => {
  const { codec, decider } = options
  const retry = options.retry ?? defaultRetry
  const streamIdOf = (id: string): string => `${options.category}-${id}`
  const cache = makeStateCache<S>(options.cachedStreams ?? 10_000)

  const replay = (
    streamId: string,
    commandId: string | undefined,
    upTo: LoadOptions = {}
  ): Effect.Effect<Replayed<S, E>, LoadError, EventStore> =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const { at } = upTo
      const timeTravel = at !== undefined || upTo.version !== undefined
      // A command already recorded before the cached version needs the whole stream, to
      // hand back the events it appended.
      const cached = timeTravel ? undefined : cache.get(store, streamId)
      const start = cached !== undefined && (commandId === undefined || !cached.commandIds.has(commandId)) ? cached : undefined
      let state = start?.state ?? decider.initialState
      let version = start?.version ?? 0
      const commandIds = start?.commandIds ?? new Set<string>()
      const skipped: Array<Skipped> = []
      const previous: Array<E> = []
      let nextOwnId = commandId === undefined ? undefined : eventIdFor(commandId, 0)
      const apply = (recorded: RecordedEvent): DecodeError | undefined => {
        const decoded = codec.decode(recorded)
        if (Either.isLeft(decoded)) return decoded.left
        version = recorded.version
        const event = decoded.right
        if (isSkipped(event)) {
          skipped.push(event)
          return undefined
        }
        if (recorded.eventId === nextOwnId && commandId !== undefined) {
          previous.push(event)
          nextOwnId = eventIdFor(commandId, previous.length)
        }
        const recordedCommand = recorded.metadata.commandId
        if (typeof recordedCommand === "string") commandIds.add(recordedCommand)
        state = decider.evolve(state, event)
        return undefined
      }
      const events = store.readStream(
        streamId,
        upTo.version !== undefined ? { to: upTo.version } : start === undefined ? {} : { from: start.version + 1 }
      )
      yield* (at === undefined ? events : Stream.takeWhile(events, (recorded) => recorded.recordedAt <= at)).pipe(
        Stream.runForEachArray((chunk) => {
          for (const recorded of chunk) {
            const failure = apply(recorded)
            if (failure !== undefined) return Effect.fail(failure)
          }
          return Effect.void
        })
      )
      if (!timeTravel) cache.offer(store, streamId, { version, state, commandIds })
      return { streamId, state, version, skipped, previous, commandIds }
    })

  const load = (id: string, upTo: LoadOptions = {}) =>
    Effect.map(replay(streamIdOf(id), undefined, upTo), ({ state, streamId, version, skipped }) => ({ streamId, state, version, skipped }))

  const metadataFor = (commandOptions: CommandOptions): Metadata => {
    const { commandId, metadata } = commandOptions
    const correlationId = commandOptions.correlationId ?? commandId
    const causationId = commandOptions.causationId ?? commandId
    return {
      ...metadata,
      ...(correlationId === undefined ? {} : { correlationId }),
      ...(causationId === undefined ? {} : { causationId }),
      ...(commandId === undefined ? {} : { commandId })
    }
  }

  const encodeAll = (events: ReadonlyArray<E>, commandOptions: CommandOptions): Either.Either<EncodeFailed, ReadonlyArray<NewEvent>> => {
    const metadata = metadataFor(commandOptions)
    const { commandId } = commandOptions
    const encoded: Array<NewEvent> = []
    for (const [index, event] of events.entries()) {
      const result = codec.encode(event)
      if (Either.isLeft(result)) return result
      const { type, data, schemaVersion } = result.right
      encoded.push(
        commandId === undefined
          ? { type, data, schemaVersion, metadata }
          : { type, data, schemaVersion, metadata, eventId: eventIdFor(commandId, index) }
      )
    }
    return Either.right(encoded)
  }

  const attempt = (id: string, command: C, commandOptions: CommandOptions) =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const streamId = streamIdOf(id)
      const loaded = yield* replay(streamId, commandOptions.commandId)
      if (loaded.previous.length > 0) {
        const handled: Handled<S, E> = { streamId, events: loaded.previous, state: loaded.state, version: loaded.version, alreadyHandled: true }
        return handled
      }
      const decision = decider.decide(command, loaded.state)
      if (Either.isLeft(decision)) return yield* new Rejected({ streamId, rejection: decision.left })
      const events = decision.right
      if (events.length === 0) {
        const handled: Handled<S, E> = { streamId, events, state: loaded.state, version: loaded.version, alreadyHandled: false }
        return handled
      }
      const encoded = encodeAll(events, commandOptions)
      if (Either.isLeft(encoded)) return yield* Effect.fail(encoded.left)
      const appended = yield* store.append(streamId, encoded.right, loaded.version)
      const state = fold(decider, events, loaded.state)
      const { commandId } = commandOptions
      if (commandId !== undefined) loaded.commandIds.add(commandId)
      cache.offer(store, streamId, { version: appended.nextExpectedVersion, state, commandIds: loaded.commandIds })
      const handled: Handled<S, E> = {
        streamId,
        events,
        state,
        version: appended.nextExpectedVersion,
        position: appended.position,
        alreadyHandled: false
      }
      return handled
    })

  // A span per command, without Effect.fn's call-site capture: that capture alone cost a
  // third of a command's time on the memory store.
  const handle = (id: string, command: C, commandOptions: CommandOptions = {}) =>
    attempt(id, command, commandOptions).pipe(
      Effect.retry({ schedule: retry, while: (error) => error instanceof WrongExpectedVersion }),
      Effect.withSpan("CommandHandler.handle", { attributes: { category: options.category, id } })
    )

  return { streamIdOf, load, handle }
}
