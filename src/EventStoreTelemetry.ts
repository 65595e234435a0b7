/**
 * Tracing and metrics for any event store: one layer that decorates the `EventStore` it is
 * given, whatever its layer — memory, file, PostgreSQL or your own.
 *
 * ```ts
 * const store = EventStoreTelemetry.layer.pipe(Layer.provide(EventStoreFile.layer({ directory })))
 * ```
 *
 * - Spans: `EventStore.append`, `EventStore.readStream`, `EventStore.readAll`,
 *   `EventStore.subscribe` (open as long as the subscription) and `EventStore.streamVersion`,
 *   each with the stream id, versions, event count and position it concerns (attribute keys
 *   under `es_kernel.`). Like `CommandHandler`'s span, they are made only when a tracing
 *   backend is installed (a `Tracer` other than Effect's native one, which exports nothing).
 * - Metrics, in Effect's `Metric` registry (any Effect metrics exporter reads them): the
 *   latency of every append, events appended, append conflicts, the lag of subscriptions;
 *   and from the file and PostgreSQL layers, the size of each group commit and (file) the
 *   time of each `fdatasync`. `metrics` lists them.
 *
 * A program that does not provide this layer pays nothing: the stores record nothing of
 * their own accord, apart from `CommandHandler`'s conflict and retry counters and each
 * projection's lag gauge, which cost nothing until a conflict happens or an exporter reads
 * them.
 *
 * @since 0.3.0
 */
import { Effect, Exit, Layer, Option, Stream, Tracer } from "effect"
import type { Context, Fiber } from "effect"
import type { AppendError, AppendResult, EventFilter, ExpectedVersion, NewEvent, ReadAllOptions, ReadStreamOptions, RecordedEvent, SubscribeOptions } from "./EventStore.js"
import { EventStore } from "./EventStore.js"
import * as StoreProbe from "./internal/storeProbe.js"
import { attribute, metrics as allMetrics } from "./internal/telemetry.js"

type Service = EventStore["Service"]

/**
 * Every metric es-kernel records, as Effect `Metric`s (read one with `Metric.value`).
 * Durations and lags are in milliseconds (a `unit` attribute says so to exporters).
 *
 * - `appendDuration` (histogram, `es_kernel.append.duration`): each append call, from
 *   call to outcome, successful or not.
 * - `appendedEvents` (counter, `es_kernel.append.events`): events in successful appends.
 * - `appendConflicts` (counter, `es_kernel.append.conflicts`): appends refused with
 *   `WrongExpectedVersion`.
 * - `groupCommitAppends`, `groupCommitEvents` (histograms, `es_kernel.group_commit.appends`
 *   and `.events`): per group commit of the file layer (one write and one sync) or the
 *   PostgreSQL layer (one statement), the appends and events it made durable.
 * - `fsyncDuration` (histogram, `es_kernel.fsync.duration`): each group commit's sync on
 *   the file layer: the write itself where the platform syncs writes (`O_DSYNC`), the
 *   `fdatasync` after it elsewhere (none with `sync: "none"`).
 * - `subscriptionLag` (histogram, `es_kernel.subscription.lag`): per chunk a subscription
 *   delivers, how long ago its last event was recorded.
 * - `commandConflicts`, `commandRetries` (counters, `es_kernel.command.conflicts` and
 *   `.retries`, attribute `category`): recorded by `CommandHandler` — with or without this
 *   layer — for batches of commands that met another writer's append, and for each time it
 *   decided such a batch again.
 * - `projectionLag` (gauge, `es_kernel.projection.lag`, attribute `projection`: the
 *   `name@version` key): recorded by `Projector` for each running projection — while a
 *   batch is being applied, the age of its first event; between batches, how old the last
 *   applied event was when it was applied.
 *
 * @since 0.3.0
 */
export const metrics = allMetrics

const isTraced = (fiber: Fiber.Fiber<unknown, unknown>): boolean => fiber.getRef(Tracer.Tracer) !== Tracer.nativeTracer

// No captured stack trace: capturing one costs more than the rest of the span.
const spanOptions = (attributes: Record<string, unknown>): Tracer.SpanOptions => ({ attributes, kind: "client", captureStackTrace: false })

const filterAttributes = (attributes: Record<string, unknown>, filter: EventFilter | undefined): void => {
  if (filter?.categories !== undefined && filter.categories.length > 0) attributes[attribute.categories] = filter.categories
  if (filter?.types !== undefined && filter.types.length > 0) attributes[attribute.types] = filter.types
}

/**
 * A stream in a span that lasts as long as it runs, counting the events it delivers and
 * the position of the last; `onChunk` sees each chunk, traced or not.
 */
const tracedStream = <E>(
  name: string,
  attributes: Record<string, unknown>,
  stream: Stream.Stream<RecordedEvent, E>,
  onChunk: ((chunk: ReadonlyArray<RecordedEvent>, context: Context.Context<never>) => void) | undefined
) =>
  Effect.withFiber((fiber) => {
    const { context } = fiber
    const observed = onChunk === undefined ? stream : Stream.mapArray(stream, (chunk) => {
      onChunk(chunk, context)
      return chunk
    })
    if (!isTraced(fiber)) return Effect.succeed(observed)
    return Effect.map(Effect.makeSpanScoped(name, spanOptions({ ...attributes, [attribute.eventCount]: 0 })), (span) => {
      let count = 0
      return Stream.mapArray(observed, (chunk) => {
        const last = chunk[chunk.length - 1]
        count += chunk.length
        span.attribute(attribute.eventCount, count)
        if (last !== undefined) span.attribute(attribute.position, last.position)
        return chunk
      }).pipe(Stream.provideService(Tracer.ParentSpan, span))
    })
  })

const isConflict = (exit: Exit.Exit<unknown, AppendError>): boolean => {
  const error = Exit.findErrorOption(exit)
  return Option.isSome(error) && error.value._tag === "WrongExpectedVersion"
}

const decorate = (store: Service): Service => {
  const append = (streamId: string, events: ReadonlyArray<NewEvent>, expected: ExpectedVersion = "any") =>
    Effect.withFiber((fiber) => {
      const { context } = fiber
      const began = performance.now()
      const measured = Effect.onExit(store.append(streamId, events, expected), (exit) =>
        Effect.sync(() => {
          allMetrics.appendDuration.updateUnsafe(performance.now() - began, context)
          if (Exit.isSuccess(exit)) allMetrics.appendedEvents.updateUnsafe(events.length, context)
          else if (isConflict(exit)) allMetrics.appendConflicts.updateUnsafe(1, context)
        }))
      if (!isTraced(fiber)) return measured
      const annotated = measured.pipe(
        Effect.tap((result: AppendResult) =>
          Effect.annotateCurrentSpan({ [attribute.nextVersion]: result.nextExpectedVersion, [attribute.position]: result.position })
        ),
        Effect.tapError((error) =>
          error._tag === "WrongExpectedVersion" ? Effect.annotateCurrentSpan(attribute.actualVersion, error.actual) : Effect.void
        )
      )
      return Effect.withSpan(annotated, "EventStore.append", spanOptions({
        [attribute.streamId]: streamId,
        [attribute.expectedVersion]: expected,
        [attribute.eventCount]: events.length
      }))
    })

  const readStream = (streamId: string, options: ReadStreamOptions = {}) => {
    const attributes: Record<string, unknown> = { [attribute.streamId]: streamId, [attribute.direction]: options.direction ?? "forward" }
    if (options.from !== undefined) attributes[attribute.from] = options.from
    if (options.to !== undefined) attributes[attribute.to] = options.to
    if (options.limit !== undefined) attributes[attribute.limit] = options.limit
    return Stream.unwrap(tracedStream("EventStore.readStream", attributes, store.readStream(streamId, options), undefined))
  }

  const globalAttributes = (options: ReadAllOptions | SubscribeOptions, limit: number | undefined) => {
    const attributes: Record<string, unknown> = { [attribute.from]: options.from ?? 0 }
    filterAttributes(attributes, options.filter)
    if (limit !== undefined) attributes[attribute.limit] = limit
    return attributes
  }

  const readAll = (options: ReadAllOptions = {}) =>
    Stream.unwrap(tracedStream("EventStore.readAll", globalAttributes(options, options.limit), store.readAll(options), undefined))

  const subscribe = (options: SubscribeOptions = {}) =>
    Stream.unwrap(Effect.clockWith((clock) =>
      tracedStream("EventStore.subscribe", globalAttributes(options, undefined), store.subscribe(options), (chunk, context) => {
        const last = chunk[chunk.length - 1]
        if (last !== undefined) allMetrics.subscriptionLag.updateUnsafe(Math.max(0, clock.currentTimeMillisUnsafe() - last.recordedAt.getTime()), context)
      })))

  const streamVersion = (streamId: string) =>
    Effect.withFiber((fiber) => {
      const version = store.streamVersion(streamId)
      if (!isTraced(fiber)) return version
      return Effect.withSpan(
        Effect.tap(version, (actual) => Effect.annotateCurrentSpan(attribute.actualVersion, actual)),
        "EventStore.streamVersion",
        spanOptions({ [attribute.streamId]: streamId })
      )
    })

  return EventStore.of({ append, readStream, readAll, subscribe, streamVersion })
}

/** Turns the store's group commits and syncs into metrics while the layer lives. */
const listen = (probe: StoreProbe.StoreProbe, context: Context.Context<never>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const previous = { groupCommitted: probe.groupCommitted, synced: probe.synced }
      probe.groupCommitted = (appends, events) => {
        allMetrics.groupCommitAppends.updateUnsafe(appends, context)
        allMetrics.groupCommitEvents.updateUnsafe(events, context)
      }
      probe.synced = (millis) => allMetrics.fsyncDuration.updateUnsafe(millis, context)
      return previous
    }),
    (previous) =>
      Effect.sync(() => {
        probe.groupCommitted = previous.groupCommitted
        probe.synced = previous.synced
      })
  )

/**
 * Decorates the `EventStore` it is given with spans and metrics (see the module's
 * description), and provides the decorated one. Provide the store to it:
 * `EventStoreTelemetry.layer.pipe(Layer.provide(EventStoreMemory.layer))`.
 *
 * @since 0.3.0
 */
export const layer: Layer.Layer<EventStore, never, EventStore> = Layer.effect(
  EventStore,
  Effect.gen(function*() {
    const store = yield* EventStore
    const probe = StoreProbe.of(store)
    if (probe !== undefined) yield* listen(probe, yield* Effect.context<never>())
    return decorate(store)
  })
)
