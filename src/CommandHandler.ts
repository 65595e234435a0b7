/**
 * The command handler: runs a decider against an event store.
 *
 * `handle(id, command)` decides the command against the state of the stream `category-id`
 * and appends the new events with the version that state was at as the expected version.
 * The handler remembers each stream's latest state (see `cachedStreams`), so a command for
 * a stream it has seen costs deciding plus appending: it appends at the remembered version
 * without reading first. If another writer got there first, the append fails with
 * `WrongExpectedVersion`; the handler then reads only the events it missed and decides
 * again, under a bounded, configurable `Schedule`. A rejection is a typed failure and
 * appends nothing.
 *
 * Commands for the same stream from one handler never race each other: they queue per
 * stream. While one append to a stream is in flight, the commands that arrive for it wait;
 * then they are decided one after another, each against the state the ones before it lead
 * to, and appended together in one append. Each keeps its own outcome: a rejected command
 * appends nothing and fails alone, its neighbours go ahead. So version conflicts come only
 * from other processes (or other handler instances) writing the same stream — what happens
 * then is described under `defaultRetry`.
 *
 * Give a command a `commandId` and it becomes idempotent: the event ids are derived from
 * it, so a retried command (after a timeout, a crash, a redelivery) finds its own events
 * already in the stream and returns them instead of deciding twice.
 *
 * Made with `snapshots`, the handler loads a stream it holds no state of from its latest
 * snapshot and the events after it, and saves snapshots on a policy (see `make`).
 *
 * @since 0.1.0
 */
import { Data, Effect, Exit, Metric, Schedule, Stream, Tracer } from "effect"
import * as Either from "fp-ts/lib/Either.js"
import type { Decider } from "./Decider.js"
import type { DecodeError, EncodedEvent, EncodeFailed, Skipped, StoredEvent } from "./EventCodec.js"
import { isSkipped } from "./EventCodec.js"
import type { AppendError, AppendResult, Json, Position, ReadError, RecordedEvent, StorageError } from "./EventStore.js"
import { EventStore } from "./EventStore.js"
import * as CommandBatch from "./internal/commandBatch.js"
import type { Start } from "./internal/snapshotting.js"
import { startOf } from "./internal/snapshotting.js"
import type { Cached } from "./internal/stateCache.js"
import * as StateCache from "./internal/stateCache.js"
import * as StreamLanes from "./internal/streamLanes.js"
import { attribute, metrics } from "./internal/telemetry.js"
import { quote } from "./internal/text.js"
import type { Policy, StateCodec } from "./Snapshot.js"
import { save as saveSnapshotOf } from "./Snapshot.js"
import type { SnapshotError } from "./SnapshotStore.js"
import { SnapshotStore } from "./SnapshotStore.js"

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
 *   `defaultRetry`).
 * - `cachedStreams`: how many streams' latest state to keep in memory (default 10,000;
 *   `0` turns the cache off). A cached stream loads by reading only the events after the
 *   cached version — safe because a stream only grows — and a command appends at the
 *   cached version without reading at all, so a handler's cost per command stays flat as
 *   streams get long. The cache is per store: one handler used with two stores never
 *   mixes them up. Without a cached state, a command reads the whole stream first.
 * - `traced`: wrap every command in a tracing span `CommandHandler.handle` whenever a
 *   tracing backend is installed (a `Tracer` other than Effect's native one, which exports
 *   nothing). Its attributes use the keys of `EventStoreTelemetry`'s spans: category, id,
 *   stream id and command id; once handled, the event count, the stream's version, the
 *   append's position and whether it was already handled; after a conflict the retries
 *   could not settle, the expected and actual versions. Default `true`; `false`: never.
 *   On the memory store a span is about a quarter of a command's time. (Conflicts and
 *   retries are counted in `EventStoreTelemetry.metrics` either way.)
 *
 * @since 0.1.0
 */
export interface Options<C, S, E, R> {
  readonly decider: Decider<C, S, E, R>
  readonly codec: Codec<E>
  readonly category: string
  readonly retry?: Schedule.Schedule<unknown>
  readonly cachedStreams?: number
  readonly traced?: boolean
}

/**
 * Snapshots for a handler's streams (see `make`).
 *
 * - `state`: the state codec; its `version` keys the snapshots (bump it whenever the
 *   state's shape or `evolve`'s meaning changes: older snapshots are then never read).
 * - `policy`: when to save one after a command or a load — `Snapshot.every(n)`, or
 *   `Snapshot.never` to save only on demand with `saveSnapshot`.
 *
 * @since 0.2.0
 */
export interface Snapshots<S> {
  readonly state: StateCodec<S>
  readonly policy: Policy
}

/**
 * How to run one decider with snapshots: `Options` plus `snapshots`.
 *
 * @since 0.2.0
 */
export interface SnapshotOptions<C, S, E, R> extends Options<C, S, E, R> {
  readonly snapshots: Snapshots<S>
}

/**
 * Eight retries, waiting about 5 ms, 10 ms, 20 ms … 640 ms (jittered): about 1.3 s in all.
 *
 * Within one handler, commands for a stream never conflict with each other (they queue
 * and are appended in batches), so a conflict means another process — or another handler
 * instance — appended to the same stream between this handler's last look and its
 * append. The handler then reads the events it missed, decides its whole batch again
 * against the newer state (a command accepted before may now be rejected, and the other
 * way round), and appends again. Each round some writer wins, and each writer's whole
 * queue goes in one append, so a handful of processes hammering one stream settle in a
 * few rounds; the back-off spreads them apart. When the retries run out, every command of
 * the batch fails with `WrongExpectedVersion` and nothing of it was appended: a stream
 * that hot needs one writer (route its commands to one process) rather than more retries.
 *
 * @since 0.1.0
 */
export const defaultRetry: Schedule.Schedule<unknown> = Schedule.max([
  Schedule.jittered(Schedule.exponential("5 millis", 2)),
  Schedule.recurs(8)
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
 * - `position`: the global position of the append that recorded the events: its last
 *   event, which is this command's last event or, when commands for the stream were
 *   appended together, a later one (absent when nothing was appended).
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
 * The decider rejected the command. Nothing was appended for it (commands appended in the
 * same batch are not affected).
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
 * A load or storage failure fails every command of the batch it hit.
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
export const eventIdFor: (commandId: string, index: number) => string = CommandBatch.eventIdFor

// ---------------------------------------------------------------------------
// The handler
// ---------------------------------------------------------------------------

/**
 * A decider bound to a codec and a category, ready to run on any `EventStore` layer.
 *
 * @since 0.1.0
 */
export interface CommandHandler<C, S, E, R, Env = EventStore> {
  readonly streamIdOf: (id: string) => string
  readonly load: (id: string, upTo?: LoadOptions) => Effect.Effect<Loaded<S>, LoadError, Env>
  readonly handle: (id: string, command: C, options?: CommandOptions) => Effect.Effect<Handled<S, E>, HandleError<R>, Env>
}

/**
 * A handler made with `snapshots`: it needs a `SnapshotStore` beside the `EventStore`.
 *
 * `saveSnapshot(id)` saves a snapshot of the stream as it is now, whatever the policy
 * (on demand), and returns the state it saved; unlike a save on the policy, a failed save
 * is its error.
 *
 * @since 0.2.0
 */
export interface SnapshottingHandler<C, S, E, R> extends CommandHandler<C, S, E, R, EventStore | SnapshotStore> {
  readonly saveSnapshot: (id: string) => Effect.Effect<Loaded<S>, LoadError | SnapshotError, EventStore | SnapshotStore>
}

type Store = EventStore["Service"]

/** At most this many queued commands of one stream are decided and appended together. */
const maxBatch = 256

interface Folded<S> extends Cached<S> {
  readonly skipped: ReadonlyArray<Skipped>
}

/** Reads the events after `from` (all of them without it, or up to `upTo`) and folds them onto it. */
const readOnto = <C, S, E, R>(
  decider: Decider<C, S, E, R>,
  codec: Codec<E>,
  store: Store,
  streamId: string,
  from: Cached<S> | undefined,
  upTo: LoadOptions = {}
): Effect.Effect<Folded<S>, LoadError> =>
  Effect.suspend(() => {
    let state = from?.state ?? decider.initialState
    let version = from?.version ?? 0
    const commandIds = from?.commandIds ?? new Set<string>()
    const skipped: Array<Skipped> = []
    const apply = (recorded: RecordedEvent): DecodeError | undefined => {
      const decoded = codec.decode(recorded)
      if (Either.isLeft(decoded)) return decoded.left
      version = recorded.version
      const event = decoded.right
      if (isSkipped(event)) {
        skipped.push(event)
        return undefined
      }
      const recordedCommand = recorded.metadata.commandId
      if (typeof recordedCommand === "string") commandIds.add(recordedCommand)
      state = decider.evolve(state, event)
      return undefined
    }
    const { at } = upTo
    const range = upTo.version !== undefined ? { to: upTo.version } : from === undefined ? {} : { from: from.version + 1 }
    // The store reads the stream as of `at`: recording times never go backwards, so that
    // is the stream up to the last event recorded at or before it.
    const events = store.readStream(streamId, at === undefined ? range : { ...range, asOf: at })
    return events.pipe(
      Stream.runForEachArray((chunk) => {
        for (const recorded of chunk) {
          const failure = apply(recorded)
          if (failure !== undefined) return Effect.fail(failure)
        }
        return Effect.void
      }),
      Effect.map((): Folded<S> =>
        from?.snapshots === undefined
          ? { version, state, commandIds, skipped }
          : { version, state, commandIds, skipped, snapshots: from.snapshots }
      )
    )
  })

/** What the cache keeps of a fold (not its skipped events). */
const remembered = <S>({ commandIds, snapshots, state, version }: Folded<S>): Cached<S> =>
  snapshots === undefined ? { version, state, commandIds } : { version, state, commandIds, snapshots }

// ---------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------

/**
 * What the handler does with snapshots, needing the services `Env` (`SnapshotStore`): a
 * handler made without snapshots has none of this, and pays nothing for it.
 */
interface SnapshotUse<S, Env> {
  readonly policy: Policy
  readonly start: (store: Store, streamId: string) => Effect.Effect<Start<S>, StorageError, Env>
  readonly save: (streamId: string, version: number, state: S) => Effect.Effect<void, SnapshotError, Env>
}

const snapshotUse = <S>(snapshots: Snapshots<S>, initialState: S): SnapshotUse<S, SnapshotStore> => ({
  policy: snapshots.policy,
  start: (store, streamId) => SnapshotStore.use((service) => startOf(service, store, snapshots.state, initialState, streamId)),
  save: (streamId, version, state) => saveSnapshotOf(snapshots.state, { streamId, version, state })
})

/**
 * Folds a stream the handler has no state of from its latest usable snapshot (else from
 * the start). A snapshot found but not used is a warning, never a failure.
 */
const readFromSnapshot = <C, S, E, R, Env>(
  decider: Decider<C, S, E, R>,
  codec: Codec<E>,
  use: SnapshotUse<S, Env>,
  store: Store,
  streamId: string
): Effect.Effect<Folded<S>, LoadError, Env> =>
  Effect.flatMap(use.start(store, streamId), ({ ignored, state, version }) => {
    const from: Cached<S> = {
      version,
      state,
      commandIds: new Set(),
      snapshots: { saved: version === 0 ? undefined : version, unseen: version }
    }
    const read = readOnto(decider, codec, store, streamId, from)
    return ignored === undefined ? read : Effect.andThen(Effect.logWarning(`snapshot of stream ${quote(streamId)} ignored: ${ignored}`), read)
  })

/**
 * `start` with every command id recorded before its snapshot added (read from the
 * stream's first events): what a command whose id may be recorded there is decided against.
 */
const withEveryCommandId = <S>(store: Store, streamId: string, start: Cached<S>): Effect.Effect<Cached<S>, ReadError> =>
  Effect.suspend(() => {
    const { commandIds, snapshots } = start
    if (snapshots === undefined || snapshots.unseen === 0) return Effect.succeed(start)
    return store.readStream(streamId, { to: snapshots.unseen }).pipe(
      Stream.runForEachArray((chunk) => {
        for (const recorded of chunk) {
          const recordedCommand = recorded.metadata.commandId
          if (typeof recordedCommand === "string") commandIds.add(recordedCommand)
        }
        return Effect.void
      }),
      Effect.as({ ...start, snapshots: { saved: snapshots.saved, unseen: 0 } })
    )
  })

const idsUnseen = <S>(start: Cached<S> | undefined): start is Cached<S> => (start?.snapshots?.unseen ?? 0) > 0

/** The events an earlier run of `commandId` appended (their ids follow from the command id). */
const previousEvents = <E>(codec: Codec<E>, store: Store, streamId: string, commandId: string): Effect.Effect<ReadonlyArray<E>, LoadError> =>
  Effect.suspend(() => {
    const previous: Array<E> = []
    let nextId = eventIdFor(commandId, 0)
    return store.readStream(streamId).pipe(
      Stream.runForEachArray((chunk) => {
        for (const recorded of chunk) {
          if (recorded.eventId !== nextId) continue
          const decoded = codec.decode(recorded)
          if (Either.isLeft(decoded)) return Effect.fail(decoded.left)
          if (!isSkipped(decoded.right)) previous.push(decoded.right)
          nextId = eventIdFor(commandId, previous.length)
        }
        return Effect.void
      }),
      Effect.as(previous)
    )
  })

/** A command's outcome from its verdict, once its batch is appended (`appended`) or needed no append. */
const outcomeOfVerdict = <S, E, R>(
  streamId: string,
  plan: CommandBatch.Plan<S, E, R>,
  version: number,
  appended: AppendResult | undefined,
  verdict: Exclude<CommandBatch.Verdict<S, E, R>, { readonly _tag: "Recorded" }>
): Exit.Exit<Handled<S, E>, Rejected<R> | EncodeFailed> => {
  // The append's position goes with every command whose events it carried.
  const handled = (events: ReadonlyArray<E>, state: S, atVersion: number, alreadyHandled: boolean): Handled<S, E> =>
    appended === undefined || events.length === 0
      ? { streamId, events, state, version: atVersion, alreadyHandled }
      : { streamId, events, state, version: atVersion, position: appended.position, alreadyHandled }
  switch (verdict._tag) {
    case "Accepted":
      return Exit.succeed(handled(verdict.events, verdict.state, verdict.version, false))
    case "Rejected":
      return Exit.fail(new Rejected({ streamId, rejection: verdict.rejection }))
    case "EncodeFailed":
      return Exit.fail(verdict.error)
    case "Repeated":
      return Exit.succeed(handled(verdict.events, plan.state, version, true))
  }
}

const spanAttributes = (category: string, id: string, options: CommandOptions): Record<string, unknown> => {
  const attributes: Record<string, unknown> = {
    [attribute.category]: category,
    [attribute.id]: id,
    [attribute.streamId]: `${category}-${id}`
  }
  if (options.commandId !== undefined) attributes[attribute.commandId] = options.commandId
  return attributes
}

const annotateHandled = <S, E>(handled: Handled<S, E>): Effect.Effect<void> =>
  Effect.annotateCurrentSpan({
    [attribute.eventCount]: handled.events.length,
    [attribute.nextVersion]: handled.version,
    [attribute.alreadyHandled]: handled.alreadyHandled,
    ...(handled.position === undefined ? {} : { [attribute.position]: handled.position })
  })

const annotateFailure = <R>(error: HandleError<R>): Effect.Effect<void> =>
  error._tag === "WrongExpectedVersion"
    ? Effect.annotateCurrentSpan({ [attribute.expectedVersion]: error.expected, [attribute.actualVersion]: error.actual })
    : Effect.void

/**
 * Each command's outcome once its batch is appended (or needed no append). Only a command
 * recorded before this batch needs the store again: its events are read back.
 */
const outcomesOf = <S, E, R>(
  codec: Codec<E>,
  store: Store,
  streamId: string,
  plan: CommandBatch.Plan<S, E, R>,
  version: number,
  appended: AppendResult | undefined
): Effect.Effect<ReadonlyArray<Exit.Exit<Handled<S, E>, HandleError<R>>>> => {
  type Outcome = Exit.Exit<Handled<S, E>, HandleError<R>>
  const outcomeOf = (verdict: Exclude<CommandBatch.Verdict<S, E, R>, { readonly _tag: "Recorded" }>): Outcome =>
    outcomeOfVerdict(streamId, plan, version, appended, verdict)
  const outcomes: Array<Outcome> = []
  for (const verdict of plan.verdicts) {
    if (verdict._tag === "Recorded") {
      return Effect.forEach(plan.verdicts, (each): Effect.Effect<Outcome> =>
        each._tag === "Recorded"
          ? Effect.exit(Effect.map(previousEvents(codec, store, streamId, each.commandId), (events): Handled<S, E> => ({
            streamId,
            events,
            state: plan.state,
            version,
            alreadyHandled: true
          })))
          : Effect.succeed(outcomeOf(each)))
    }
    outcomes.push(outcomeOf(verdict))
  }
  return Effect.succeed(outcomes)
}

/**
 * The handler, needing `Env` besides the `EventStore` for its snapshots (`never` without).
 */
const build = <C, S, E, R, Env>(options: Options<C, S, E, R>, use: SnapshotUse<S, Env> | undefined) => {
  const { codec, decider } = options
  const retry = options.retry ?? defaultRetry
  const streamIdOf = (id: string): string => `${options.category}-${id}`
  const cache = StateCache.make<S>(options.cachedStreams ?? 10_000)
  const conflicts = Metric.withAttributes(metrics.commandConflicts, { category: options.category })
  const retries = Metric.withAttributes(metrics.commandRetries, { category: options.category })
  type Outcome = Exit.Exit<Handled<S, E>, HandleError<R>>

  /**
   * Remembers a stream's state; with snapshots, also saves one if the policy says so (a
   * failed save is a warning: a snapshot is a cache). Nothing to run: `undefined`.
   */
  const remember = (store: Store, streamId: string, entry: Cached<S>): Effect.Effect<void, never, Env> | undefined => {
    const mark = entry.snapshots
    if (use === undefined || mark === undefined || !use.policy({ version: entry.version, snapshotVersion: mark.saved })) {
      cache.offer(store, streamId, entry)
      return undefined
    }
    cache.offer(store, streamId, { ...entry, snapshots: { saved: entry.version, unseen: mark.unseen } })
    return Effect.catch(use.save(streamId, entry.version, entry.state), (error) => Effect.logWarning(error.message))
  }

  /** Each command's outcome (see `outcomesOf`), after remembering the stream's new state. */
  const settle = (
    store: Store,
    streamId: string,
    start: Cached<S>,
    plan: CommandBatch.Plan<S, E, R>,
    appended: AppendResult | undefined
  ): Effect.Effect<ReadonlyArray<Outcome>, never, Env> => {
    const version = appended?.nextExpectedVersion ?? plan.version
    const { commandIds, snapshots } = start
    for (const commandId of plan.commandIds) commandIds.add(commandId)
    const saving = remember(
      store,
      streamId,
      snapshots === undefined ? { version, state: plan.state, commandIds } : { version, state: plan.state, commandIds, snapshots }
    )
    const outcomes = outcomesOf(codec, store, streamId, plan, version, appended)
    return saving === undefined ? outcomes : Effect.andThen(saving, outcomes)
  }

  /** When a batch fails as a whole (after any retries): the same failure for each command. */
  const failBatch = (
    store: Store,
    streamId: string,
    requests: ReadonlyArray<CommandBatch.Request<C>>,
    error: LoadError | AppendError
  ): Effect.Effect<ReadonlyArray<Outcome>, never, Env> =>
    // Refused as a whole (a malformed event, an id recorded elsewhere): one command at a
    // time instead, so the fault stays with the command that has it.
    requests.length > 1 && (error._tag === "InvalidAppend" || error._tag === "EventIdConflict")
      ? Effect.map(Effect.forEach(requests, (request) => runBatch(store, streamId, [request])), (outcomes) => outcomes.flat())
      : Effect.succeed(requests.map(() => Exit.fail(error)))

  /**
   * Decides the batch against `from`, else the cached state, else the stream read (from
   * its latest snapshot, with snapshots) and appends it. A conflict reads what was missed
   * and decides again, under `retry`. The schedule sees the first conflict as its first
   * failure, so `Schedule.recurs(n)` means n retries.
   *
   * On a state loaded from a snapshot, the command ids recorded before the snapshot are
   * unknown: a command with an id that appends nothing, or whose events' ids the store
   * finds recorded (`EventIdConflict`), may be a retry of one recorded there. The batch is
   * then decided again once those ids are read, so a retry is recognised as on a full read.
   */
  const runBatch = (
    store: Store,
    streamId: string,
    requests: ReadonlyArray<CommandBatch.Request<C>>,
    from?: Cached<S>
  ): Effect.Effect<ReadonlyArray<Outcome>, never, Env> => {
    let latest: Cached<S> | undefined = from ?? cache.get(store, streamId)
    const attempt = (start: Cached<S>) => {
      latest = start
      const plan = CommandBatch.decide(decider, codec, start, requests)
      if (idsUnseen(start) && CommandBatch.appendsNothingForAnId(plan, requests)) return againWithEveryId(store, streamId, requests, start)
      if (plan.events.length === 0) return settle(store, streamId, start, plan, undefined)
      return Effect.flatMap(store.append(streamId, plan.events, start.version), (appended) => settle(store, streamId, start, plan, appended))
    }
    const first = latest !== undefined
      ? attempt(latest)
      : Effect.flatMap(use === undefined ? readOnto(decider, codec, store, streamId, undefined) : readFromSnapshot(decider, codec, use, store, streamId), attempt)
    return Effect.catch(first, (error) => {
      const giveUp = (final: LoadError | AppendError) =>
        final._tag === "EventIdConflict" && idsUnseen(latest)
          ? againWithEveryId(store, streamId, requests, latest)
          : failBatch(store, streamId, requests, final)
      if (error._tag !== "WrongExpectedVersion") return giveUp(error)
      let replayed = false
      const again = Effect.suspend(() => {
        if (!replayed) {
          replayed = true
          return Effect.fail(error)
        }
        return Effect.andThen(Metric.update(retries, 1), Effect.flatMap(readOnto(decider, codec, store, streamId, latest), attempt))
      })
      return Effect.andThen(
        Metric.update(conflicts, 1),
        Effect.retry(again, { schedule: retry, while: (failure) => failure._tag === "WrongExpectedVersion" })
      ).pipe(Effect.catch(giveUp))
    })
  }

  /** Decides the batch again once the command ids before `start`'s snapshot are read. */
  const againWithEveryId = (
    store: Store,
    streamId: string,
    requests: ReadonlyArray<CommandBatch.Request<C>>,
    start: Cached<S>
  ): Effect.Effect<ReadonlyArray<Outcome>, never, Env> =>
    withEveryCommandId(store, streamId, start).pipe(
      Effect.matchEffect({
        onFailure: (error) => failBatch(store, streamId, requests, error),
        onSuccess: (complete) => runBatch(store, streamId, requests, complete)
      })
    )

  const lanes = StreamLanes.make<Store, CommandBatch.Request<C>, Handled<S, E>, HandleError<R>, Env>({ maxBatch, run: runBatch })

  /** The stream as it is now: the cached state and the events after it, else the stream read (from its latest snapshot). */
  const current = (store: Store, streamId: string): Effect.Effect<Folded<S>, LoadError, Env> => {
    const cached = cache.get(store, streamId)
    return cached !== undefined || use === undefined
      ? readOnto(decider, codec, store, streamId, cached)
      : readFromSnapshot(decider, codec, use, store, streamId)
  }

  const load = (id: string, upTo: LoadOptions = {}) =>
    EventStore.use((store) => {
      const streamId = streamIdOf(id)
      const loaded = (folded: Folded<S>): Loaded<S> => ({ streamId, state: folded.state, version: folded.version, skipped: folded.skipped })
      if (upTo.at !== undefined || upTo.version !== undefined) return Effect.map(readOnto(decider, codec, store, streamId, undefined, upTo), loaded)
      return Effect.flatMap(current(store, streamId), (folded) => {
        const saving = remember(store, streamId, remembered(folded))
        return saving === undefined ? Effect.succeed(loaded(folded)) : Effect.as(saving, loaded(folded))
      })
    })

  /** The stream as it is now, saved as a snapshot whatever the policy. */
  const saveSnapshot = (id: string) =>
    EventStore.use((store) => {
      const streamId = streamIdOf(id)
      return Effect.flatMap(current(store, streamId), (folded): Effect.Effect<Loaded<S>, SnapshotError, Env> => {
        const loaded: Loaded<S> = { streamId, state: folded.state, version: folded.version, skipped: folded.skipped }
        const { commandIds, snapshots, state, version } = folded
        cache.offer(store, streamId, { version, state, commandIds, snapshots: { saved: version, unseen: snapshots?.unseen ?? 0 } })
        return use === undefined ? Effect.succeed(loaded) : Effect.as(use.save(streamId, version, state), loaded)
      })
    })

  const submit = (id: string, command: C, commandOptions: CommandOptions = {}) =>
    EventStore.use((store) => lanes.submit(store, streamIdOf(id), { command, options: commandOptions }))
  // A span without a captured stack trace (Effect.fn's call site, or withSpan's own): the
  // capture alone cost a third of a command on the memory store. Without a tracing backend
  // (Effect's native tracer exports nothing) the span would be built and dropped unseen,
  // at a quarter of a command: then there is none.
  const handle = options.traced === false ? submit : (id: string, command: C, commandOptions: CommandOptions = {}) =>
    Effect.withFiber((fiber) =>
      fiber.getRef(Tracer.Tracer) === Tracer.nativeTracer
        ? submit(id, command, commandOptions)
        : submit(id, command, commandOptions).pipe(
          Effect.tap(annotateHandled),
          Effect.tapError(annotateFailure),
          Effect.withSpan("CommandHandler.handle", { attributes: spanAttributes(options.category, id, commandOptions) }, { captureStackTrace: false })
        )
    )

  return { streamIdOf, load, handle, saveSnapshot }
}

/**
 * Binds a decider to a codec and a stream category.
 *
 * With `snapshots` (see `Snapshots`), the handler needs a `SnapshotStore` beside the
 * `EventStore`. A stream it holds no state of is loaded from its latest usable snapshot
 * and the events after it (else read whole, as without snapshots), and after a command
 * or a load the policy decides whether to save a snapshot of the new state. Such a save
 * runs before the commands of its batch complete, and a failed save is logged as a
 * warning, never the commands' failure. A snapshot found but unusable (ahead of the
 * stream, a state that does not decode, a damaged file) is logged and the stream read
 * whole. Idempotency holds as without snapshots: a retried command whose events lie
 * before the snapshot is recognised by reading the stream's command ids up to the
 * snapshot, which the handler does only when such a command appends nothing or the store
 * finds its event ids already recorded. Time travel (`load` with `version` or `at`)
 * always reads the stream from the start.
 *
 * Without `snapshots`, none of this runs: a command costs what it always did.
 *
 * @since 0.1.0
 */
export function make<C, S, E, R>(options: SnapshotOptions<C, S, E, R>): SnapshottingHandler<C, S, E, R>
/**
 * Binds a decider to a codec and a stream category (without snapshots).
 *
 * @since 0.1.0
 */
export function make<C, S, E, R>(options: Options<C, S, E, R>): CommandHandler<C, S, E, R>
export function make<C, S, E, R>(
  options: Options<C, S, E, R> | SnapshotOptions<C, S, E, R>
): CommandHandler<C, S, E, R> | SnapshottingHandler<C, S, E, R> {
  if ("snapshots" in options) return build(options, snapshotUse(options.snapshots, options.decider.initialState))
  const { handle, load, streamIdOf } = build<C, S, E, R, never>(options, undefined)
  return { streamIdOf, load, handle }
}
