/**
 * Projections that stay current: a runner that follows the store's subscription from a
 * stored checkpoint and keeps a read model up to date, across restarts.
 *
 * A projection is a name, a version and one of two kinds:
 *
 * - `view`: a pure `View`, whose state is saved with the checkpoint in one atomic write
 *   (a `StateCodec` turns it into JSON). State and checkpoint never disagree, so every
 *   event is applied exactly once, even across a crash. Keep such states small: the whole
 *   state is written at each checkpoint.
 * - `handler`: an effect per event that updates a read model kept elsewhere (a table, a
 *   file, a search index). The checkpoint is saved only after the handler has succeeded,
 *   so delivery is at-least-once: after a crash, the events applied since the last saved
 *   checkpoint — at most `batch` events, one by default — are applied again. Make the
 *   handler idempotent for those (upsert by event id or by stream version). Each batch
 *   runs inside `CheckpointStore.transaction`: on PostgreSQL one transaction with its
 *   checkpoint, so a handler writing through that store's client is applied exactly once.
 *
 * `start` claims the projection (one live runner per key, across processes on the file
 * and PostgreSQL checkpoint stores), loads its checkpoint and follows `EventStore.subscribe` from there.
 * Each batch is applied and checkpointed without interruption: stopping (`stop`, or
 * closing the scope) waits for the batch in flight, so the stored checkpoint is always
 * the last event applied. A decode or handler failure stops the runner; `status` and
 * `await` report it, and a restart retries from the stored checkpoint.
 *
 * Versions and rebuilds: the key is `name@version`, so a new version starts from an
 * empty checkpoint and builds beside the live one; `takeOver` waits until it has caught
 * up with the store, records it as the active version and stops the old runner.
 *
 * @since 0.2.0
 */
import { Cause, Clock, Data, Effect, Exit, Fiber, Metric, Option, Ref, Scope, Semaphore, Stream } from "effect"
import * as Either from "fp-ts/lib/Either.js"
import type { Checkpoint, CheckpointError, ProjectionAlreadyRunning } from "./CheckpointStore.js"
import { CheckpointStore } from "./CheckpointStore.js"
import type { Codec } from "./CommandHandler.js"
import type { DecodeError } from "./EventCodec.js"
import { isSkipped } from "./EventCodec.js"
import type { EventFilter, Json, Position, ReadError, RecordedEvent } from "./EventStore.js"
import { EventStore, start as storeStart } from "./EventStore.js"
import * as Contract from "./internal/contract.js"
import { metrics } from "./internal/telemetry.js"
import { quote } from "./internal/text.js"
import type { Envelope, View } from "./View.js"

// ---------------------------------------------------------------------------
// Definitions
// ---------------------------------------------------------------------------

/**
 * A view's state to and from JSON. An io-ts `Type<S, Json>` is one.
 *
 * @since 0.2.0
 */
export interface StateCodec<S> {
  readonly encode: (state: S) => Json
  readonly decode: (json: Json) => Either.Either<unknown, S>
}

interface Common<E> {
  /** Letters, digits, `.`, `_`, `-`; the checkpoint key is `name@version`. */
  readonly name: string
  /** Default 1. A new version is a new read model, built from the start of the store. */
  readonly version?: number
  readonly codec: Codec<E>
  /** Default: the codec's stored types. */
  readonly filter?: EventFilter
}

/**
 * A pure view kept with its checkpoint (exactly once).
 *
 * @since 0.2.0
 */
export interface ViewProjection<S, E> extends Common<E> {
  readonly _tag: "View"
  readonly view: View<S, E>
  readonly state: StateCodec<S>
}

/**
 * An effectful handler: at least once, or exactly once for what it writes inside the
 * checkpoint store's transaction (on PostgreSQL, through that store's client).
 *
 * @since 0.2.0
 */
export interface HandlerProjection<E, Err, R> extends Common<E> {
  readonly _tag: "Handler"
  readonly handle: (event: E, envelope: Envelope) => Effect.Effect<void, Err, R>
}

/**
 * A projection of either kind.
 *
 * @since 0.2.0
 */
export type Projection<S, E, Err, R> = ViewProjection<S, E> | HandlerProjection<E, Err, R>

/**
 * Defines a view projection.
 *
 * @since 0.2.0
 */
export const view = <S, E>(options: Omit<ViewProjection<S, E>, "_tag">): ViewProjection<S, E> => ({ _tag: "View", ...options })

/**
 * Defines a handler projection.
 *
 * @since 0.2.0
 */
export const handler = <E, Err = never, R = never>(
  options: Omit<HandlerProjection<E, Err, R>, "_tag">
): HandlerProjection<E, Err, R> => ({ _tag: "Handler", ...options })

/**
 * The checkpoint key of a projection: `name@version`.
 *
 * @since 0.2.0
 */
export const keyOf = (projection: { readonly name: string; readonly version?: number }): string =>
  `${projection.name}@${projection.version ?? 1}`

// ---------------------------------------------------------------------------
// Errors and status
// ---------------------------------------------------------------------------

/** Causes come from user code: shown, but cut short. */
const cut = (text: string): string => text.length <= 300 ? text : `${text.slice(0, 300)}… (${text.length} chars)`

/**
 * The runner stopped on a failure: an event it could not decode, a handler that failed,
 * a read or checkpoint that failed, or a stored state the codec could not read.
 * `position` is the checkpoint it stopped at; restarting retries from there.
 *
 * @since 0.2.0
 */
export class ProjectionFailed extends Data.TaggedError("ProjectionFailed")<{
  readonly key: string
  readonly position: Position
  readonly cause: unknown
}> {
  override get message(): string {
    const detail = cut(this.cause instanceof Error ? this.cause.message : String(this.cause))
    return `projection ${quote(this.key)} stopped after position ${this.position}: ${detail}. Fix the cause, then start it again: it resumes from that position.`
  }
}

/**
 * Where a runner stands.
 *
 * - `phase`: `"catching-up"` (events it will apply are recorded), `"live"` (none are),
 *   `"stopped"`, or `"failed"` (see `failure`).
 * - `checkpoint`: the last position applied and saved.
 * - `head`: the position of the last event in the store.
 * - `behind`: how many events of the projection's filter are recorded after the checkpoint.
 * - `lagMs`: how long ago the oldest of those was recorded (0 when none is).
 *
 * @since 0.2.0
 */
export interface Status {
  readonly key: string
  readonly phase: "catching-up" | "live" | "stopped" | "failed"
  readonly checkpoint: Position
  readonly head: Position
  readonly behind: number
  readonly lagMs: number
  readonly failure?: ProjectionFailed
}

/**
 * A started projection.
 *
 * - `state`: the view's current state (for a handler projection, `undefined`).
 * - `checkpoint`: the last position applied and saved.
 * - `status`: computed on demand by reading the store after the checkpoint, so its cost
 *   grows with how far behind the runner is. When none of the projection's events lie
 *   after its checkpoint, it also moves the checkpoint to the head, so that a filtered
 *   projection does not read the events it skipped again after a restart.
 * - `waitFor(position)`: completes once every event of the filter up to `position` is
 *   applied (read-your-writes: pass an `AppendResult.position`); fails if the runner fails.
 * - `stop`: drains the batch in flight, saves its checkpoint and releases the claim.
 * - `await`: completes when the runner stops, fails with its failure.
 *
 * @since 0.2.0
 */
export interface Running<S> {
  readonly key: string
  readonly name: string
  readonly version: number
  readonly state: Effect.Effect<S>
  readonly checkpoint: Effect.Effect<Position>
  readonly status: Effect.Effect<Status, ReadError>
  readonly waitFor: (position: Position) => Effect.Effect<void, ProjectionFailed | ReadError>
  readonly stop: Effect.Effect<void>
  readonly await: Effect.Effect<void, ProjectionFailed>
}

/**
 * Runner options. `batch`: the most events applied between two checkpoints (default: 1
 * for a handler, so at most one event is applied twice after a crash; 500 for a view).
 *
 * @since 0.2.0
 */
export interface StartOptions {
  readonly batch?: number
}

// ---------------------------------------------------------------------------
// The runner
// ---------------------------------------------------------------------------

type Phase = { readonly _tag: "running" } | { readonly _tag: "stopped" } | { readonly _tag: "failed"; readonly failure: ProjectionFailed }

const filterOf = <E>(projection: Common<E>): EventFilter => ({
  ...(projection.codec.storedTypes === undefined ? {} : { types: projection.codec.storedTypes }),
  ...projection.filter
})

const envelopeOf = (recorded: RecordedEvent): Envelope => {
  const { data: _data, type: _type, ...envelope } = recorded
  return envelope
}

/** How one kind of projection holds its state and applies a batch (saving its checkpoint). */
interface Applier<S, R> {
  readonly state: Effect.Effect<S>
  readonly apply: (events: ReadonlyArray<RecordedEvent>, last: Position) => Effect.Effect<void, unknown, R>
}

const decodeAll = <E>(
  codec: Codec<E>,
  events: ReadonlyArray<RecordedEvent>,
  each: (event: E, recorded: RecordedEvent) => void
): DecodeError | undefined => {
  for (const recorded of events) {
    const decoded = codec.decode(recorded)
    if (Either.isLeft(decoded)) return decoded.left
    if (!isSkipped(decoded.right)) each(decoded.right, recorded)
  }
  return undefined
}

const viewApplier = <S, E>(
  projection: ViewProjection<S, E>,
  checkpoints: CheckpointStore["Service"],
  key: string,
  stored: Checkpoint | undefined
): Effect.Effect<Applier<S, never>, ProjectionFailed> =>
  Effect.map(storedState(projection, key, stored), (initial) => {
    let state = initial
    return {
      state: Effect.sync(() => state),
      apply: (events, last) => {
        let next = state
        const failure = decodeAll(projection.codec, events, (event, recorded) => {
          next = projection.view.evolve(next, event, envelopeOf(recorded))
        })
        if (failure !== undefined) return Effect.fail(failure)
        return Effect.map(checkpoints.save(key, { position: last, state: projection.state.encode(next) }), () => {
          state = next
        })
      }
    }
  })

const handlerApplier = <E, Err, R>(
  projection: HandlerProjection<E, Err, R>,
  checkpoints: CheckpointStore["Service"],
  key: string
): Applier<undefined, R> => ({
  state: Effect.succeed(undefined),
  // One transaction where the checkpoint store has them (PostgreSQL): the handler's writes
  // through its client and the checkpoint commit together.
  apply: (events, last) =>
    checkpoints.transaction(
      key,
      Effect.gen(function*() {
        for (const recorded of events) {
          const decoded = projection.codec.decode(recorded)
          if (Either.isLeft(decoded)) return yield* Effect.fail(decoded.left)
          if (!isSkipped(decoded.right)) yield* projection.handle(decoded.right, envelopeOf(recorded))
        }
        yield* checkpoints.save(key, { position: last })
      })
    )
})

/**
 * A projection's name, version or options are malformed. Nothing was started.
 *
 * @since 0.2.0
 */
export class InvalidProjection extends Data.TaggedError("InvalidProjection")<{
  readonly name: string
  readonly reason: string
}> {
  override get message(): string {
    return `projection ${quote(this.name)}: ${this.reason}`
  }
}

/** What `start` may fail with. @since 0.2.0 */
export type StartError = InvalidProjection | ProjectionAlreadyRunning | CheckpointError | ProjectionFailed

const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/

const isPositiveInteger = (value: unknown): boolean => typeof value === "number" && Number.isSafeInteger(value) && value > 0

/** The batch size, or why the projection cannot start. */
const checkProjection = (projection: { readonly name: string; readonly version?: number }, options: StartOptions, defaultBatch: number): number | InvalidProjection => {
  const { name } = projection
  const invalid = (reason: string) => new InvalidProjection({ name, reason })
  if (typeof name !== "string" || !namePattern.test(name)) {
    return invalid("the name must be 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit")
  }
  if (projection.version !== undefined && !isPositiveInteger(projection.version)) return invalid("the version must be a positive integer")
  if (options.batch !== undefined && !isPositiveInteger(options.batch)) return invalid("batch must be a positive integer")
  return options.batch ?? defaultBatch
}

/**
 * Claims, loads and starts a projection; it runs until `stop`, a failure, or the end of
 * the scope.
 *
 * @since 0.2.0
 */
export function start<S, E>(
  projection: ViewProjection<S, E>,
  options?: StartOptions
): Effect.Effect<Running<S>, StartError, EventStore | CheckpointStore | Scope.Scope>
export function start<E, Err, R>(
  projection: HandlerProjection<E, Err, R>,
  options?: StartOptions
): Effect.Effect<Running<undefined>, StartError, EventStore | CheckpointStore | Scope.Scope | R>
export function start<S, E, Err, R>(
  projection: Projection<S, E, Err, R>,
  options: StartOptions = {}
): Effect.Effect<Running<S | undefined>, StartError, EventStore | CheckpointStore | Scope.Scope | R> {
  return Effect.gen(function*() {
    const batch = checkProjection(projection, options, projection._tag === "View" ? 500 : 1)
    if (batch instanceof InvalidProjection) return yield* batch
    const checkpoints = yield* CheckpointStore
    const key = keyOf(projection)
    // The claim lives in a scope of its own, closed when the runner ends for any reason.
    const claim = yield* Scope.fork(yield* Effect.scope)
    return yield* Effect.gen(function*() {
      yield* Scope.provide(claim)(checkpoints.claim(key))
      const stored = yield* checkpoints.load(key)
      const applier: Applier<S | undefined, R> = projection._tag === "View"
        ? yield* viewApplier(projection, checkpoints, key, stored)
        : handlerApplier(projection, checkpoints, key)
      return yield* run(projection, key, claim, stored?.position ?? storeStart, applier, batch)
    }).pipe(Effect.tapError(() => Scope.close(claim, Exit.void)))
  })
}

const run = <S, E, R>(
  projection: Common<E>,
  key: string,
  claim: Scope.Closeable,
  from: Position,
  applier: Applier<S, R>,
  batch: number
): Effect.Effect<Running<S>, never, EventStore | Scope.Scope | R> =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const checkpoint = yield* Ref.make(from)
    const phase = yield* Ref.make<Phase>({ _tag: "running" })
    const filter = filterOf(projection)

    const failure = (cause: unknown) => Effect.map(Ref.get(checkpoint), (position) => new ProjectionFailed({ key, position, cause }))

    // Batches and idle checkpoint moves (below) take turns.
    const turn = yield* Semaphore.make(1)
    const context = yield* Effect.context<R>()

    const lag = yield* trackLag(key)

    const applyBatch = (events: ReadonlyArray<RecordedEvent>) => {
      const first = events[0]
      const last = events[events.length - 1]
      if (first === undefined || last === undefined) return Effect.void
      return Effect.sync(() => lag.applying(first)).pipe(
        Effect.andThen(applier.apply(events, last.position)),
        Effect.andThen(Ref.set(checkpoint, last.position)),
        Effect.andThen(Effect.sync(() => lag.applied(last))),
        Effect.uninterruptible,
        turn.withPermits(1)
      )
    }

    // A filtered projection's checkpoint only moves when one of its events is applied. When
    // nothing of its filter lies between its checkpoint and the head, it may move to the head
    // (with the unchanged state), so a restart does not read those events again — unless a
    // batch moved the checkpoint in the meantime.
    const advanceIdle = (scannedFrom: Position, head: Position) =>
      Effect.gen(function*() {
        if ((yield* Ref.get(checkpoint)) !== scannedFrom) return
        yield* applier.apply([], head)
        yield* Ref.set(checkpoint, head)
      }).pipe(Effect.uninterruptible, turn.withPermits(1), Effect.ignore, Effect.provideContext(context))

    const fiber = yield* store.subscribe({ from, filter }).pipe(
      Stream.runForEachArray((page) => Effect.forEach(chunksOf(page, batch), applyBatch, { discard: true })),
      // A throwing view or handler is a failure like any other, never a silent stall.
      Effect.catchCause((cause) =>
        Cause.hasInterruptsOnly(cause)
          ? Effect.failCause(cause)
          : Effect.flatMap(failure(Cause.squash(cause)), (failed) =>
            Effect.andThen(Ref.set(phase, { _tag: "failed", failure: failed }), Effect.fail(failed)))
      ),
      Effect.ensuring(Effect.andThen(Effect.sync(lag.remove), Scope.close(claim, Exit.void))),
      Effect.forkScoped
    )

    const markStopped = Ref.update(phase, (current): Phase => current._tag === "running" ? { _tag: "stopped" } : current)
    // Closing the caller's scope stops the runner too (the fiber was forked into it).
    yield* Effect.addFinalizer(() => markStopped)

    // Interrupting waits for the batch in flight: each one is applied and saved uninterruptibly.
    // The claim is released here too, for a runner interrupted before it began.
    const stop = Effect.andThen(markStopped, Effect.andThen(Fiber.interrupt(fiber), Scope.close(claim, Exit.void)))

    const awaitStop: Effect.Effect<void, ProjectionFailed> = Effect.andThen(
      Fiber.await(fiber),
      Effect.flatMap(Ref.get(phase), (current) => current._tag === "failed" ? Effect.fail(current.failure) : Effect.void)
    )

    const status = Effect.gen(function*() {
      const position = yield* Ref.get(checkpoint)
      const current = yield* Ref.get(phase)
      const behind = yield* measureBehind(store, position, filter)
      if (current._tag === "running" && behind.count === 0 && behind.head > position) yield* advanceIdle(position, behind.head)
      const base = { key, checkpoint: yield* Ref.get(checkpoint), head: behind.head, behind: behind.count, lagMs: behind.lagMs }
      if (current._tag === "failed") return { ...base, phase: "failed", failure: current.failure } satisfies Status
      const running: Status["phase"] = current._tag === "stopped" ? "stopped" : behind.count === 0 ? "live" : "catching-up"
      return { ...base, phase: running } satisfies Status
    })

    const waitFor = (position: Position) =>
      Effect.gen(function*() {
        const reached = yield* Ref.get(checkpoint)
        if (reached >= position) return
        // The last event of the filter at or before `position`: the runner has to reach it.
        const target = yield* store.readAll({ from: reached, filter }).pipe(
          Stream.takeWhile((recorded) => recorded.position <= position),
          Stream.runLast
        )
        if (Option.isNone(target)) return
        const goal = target.value.position
        while ((yield* Ref.get(checkpoint)) < goal) {
          const current = yield* Ref.get(phase)
          if (current._tag === "failed") return yield* Effect.fail(current.failure)
          if (current._tag === "stopped") return yield* Effect.fail(yield* failure("the runner was stopped before it got there"))
          yield* Effect.sleep("2 millis")
        }
      })

    const running: Running<S> = {
      key,
      name: projection.name,
      version: projection.version ?? 1,
      state: applier.state,
      checkpoint: Ref.get(checkpoint),
      status,
      waitFor,
      stop,
      await: awaitStop
    }
    return running
  })

/**
 * The projection's series of `es_kernel.projection.lag`, computed only when an exporter
 * reads it: a batch costs two assignments and a clock read.
 */
const trackLag = (key: string) =>
  Effect.gen(function*() {
    const clock = yield* Effect.clockWith(Effect.succeed)
    const context = yield* Effect.context<never>()
    let applyingSince: number | undefined
    let lastLag = 0
    const registration = Metric.registerUnsafe(Metric.withAttributes(metrics.projectionLag, { projection: key }), context, {
      get: () => ({ value: applyingSince === undefined ? lastLag : Math.max(0, clock.currentTimeMillisUnsafe() - applyingSince) }),
      update: () => undefined,
      modify: () => undefined
    })
    return {
      applying: (first: RecordedEvent) => {
        applyingSince = first.recordedAt.getTime()
      },
      applied: (last: RecordedEvent) => {
        applyingSince = undefined
        lastLag = Math.max(0, clock.currentTimeMillisUnsafe() - last.recordedAt.getTime())
      },
      remove: () => registration.remove()
    }
  })

const chunksOf = <A>(items: ReadonlyArray<A>, size: number): ReadonlyArray<ReadonlyArray<A>> => {
  if (items.length <= size) return [items]
  const chunks: Array<ReadonlyArray<A>> = []
  for (let index = 0; index < items.length; index += size) chunks.push(items.slice(index, index + size))
  return chunks
}

const storedState = <S, E>(
  projection: ViewProjection<S, E>,
  key: string,
  stored: Checkpoint | undefined
): Effect.Effect<S, ProjectionFailed> => {
  if (stored === undefined) return Effect.succeed(projection.view.initialState)
  const rebuild = "give the projection a new version to rebuild it from the start of the store"
  if (stored.state === undefined) {
    return Effect.fail(new ProjectionFailed({ key, position: stored.position, cause: `the checkpoint holds no state for this view: ${rebuild}` }))
  }
  const decoded = projection.state.decode(stored.state)
  return Either.isRight(decoded)
    ? Effect.succeed(decoded.right)
    : Effect.fail(
      new ProjectionFailed({ key, position: stored.position, cause: `the stored state does not decode with the view's state codec: ${rebuild}` })
    )
}

interface Behind {
  readonly head: Position
  readonly count: number
  readonly oldest: Date | undefined
}

const measureBehind = (store: EventStore["Service"], from: Position, filter: EventFilter) => {
  const matching = Contract.recordedMatcher(filter) ?? (() => true)
  return store.readAll({ from }).pipe(
    Stream.runFold(
      (): Behind => ({ head: from, count: 0, oldest: undefined }),
      (acc, recorded): Behind => {
        const hit = matching(recorded)
        return {
          head: recorded.position,
          count: acc.count + (hit ? 1 : 0),
          oldest: acc.oldest ?? (hit ? recorded.recordedAt : undefined)
        }
      }
    ),
    Effect.flatMap((acc) =>
      Effect.map(Clock.currentTimeMillis, (now) => ({
        head: acc.head,
        count: acc.count,
        lagMs: acc.oldest === undefined ? 0 : Math.max(0, now - acc.oldest.getTime())
      }))
    )
  )
}

// ---------------------------------------------------------------------------
// Rebuilds
// ---------------------------------------------------------------------------

/**
 * Blue/green: waits until `next` (a new version built beside `current`) has applied
 * everything recorded when the call started, records `next`'s version as the active one,
 * then stops `current`. Readers that switch on `CheckpointStore.active` (or hold the
 * runner returned by this call) never see a half-built read model.
 *
 * @since 0.2.0
 */
export const takeOver = <S1, S2>(
  current: Running<S1>,
  next: Running<S2>
): Effect.Effect<Running<S2>, ProjectionFailed | ReadError | CheckpointError, EventStore | CheckpointStore> =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const checkpoints = yield* CheckpointStore
    const head = yield* store.readAll({ from: yield* next.checkpoint }).pipe(Stream.runLast)
    if (Option.isSome(head)) yield* next.waitFor(head.value.position)
    yield* checkpoints.activate(next.name, next.version)
    yield* current.stop
    return next
  })
