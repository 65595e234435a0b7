import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Metric, Option, Schedule, Stream, Tracer } from "effect"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as t from "io-ts"
import { CheckpointStore, CommandHandler, EventCodec, EventStore, EventStoreFile, EventStoreMemory, EventStoreTelemetry, Projector } from "es-kernel"
import * as EventStorePostgres from "es-kernel/postgres"
import * as StoreProbe from "../src/internal/storeProbe.js"
import * as Account from "../examples/bank/Account.js"
import { freshSchema, postgresSuite } from "./postgres/server.js"

interface Recorded {
  readonly name: string
  readonly attributes: ReadonlyMap<string, unknown>
  readonly parent: string | undefined
  readonly ended: () => boolean
}

/** A tracer that keeps every span it makes (Effect's native spans, so attributes stay readable). */
const recordingTracer = () => {
  const spans: Array<Recorded> = []
  const tracer = Tracer.make({
    span(options) {
      const span = Tracer.nativeTracer.span(options)
      const parent = Option.getOrUndefined(options.parent)
      spans.push({
        name: span.name,
        attributes: span.attributes,
        parent: parent?._tag === "Span" ? parent.name : undefined,
        ended: () => span.status._tag === "Ended"
      })
      return span
    }
  })
  const named = (name: string) => spans.filter((span) => span.name === name)
  return { tracer, spans, named }
}

const attributesOf = (span: Recorded | undefined) => Object.fromEntries(span?.attributes ?? [])

const event = (n: number): EventStore.NewEvent => ({ type: "Happened", data: { n } })

/** The state of one series of `metric` (created empty when it has none). */
const stateOf = <State>(metric: Metric.Metric<never, State>, attributes: Record<string, string> = {}) =>
  Metric.value(Metric.withAttributes(metric, attributes))

/** Whether the registry holds a series of `metric` with these attributes. */
const hasSeries = (metric: Metric.Metric<never, unknown>, attributes: Record<string, string> = {}) =>
  Effect.map(Metric.snapshot, (snapshots) =>
    snapshots.some((snapshot) =>
      snapshot.id === metric.id && Object.entries(attributes).every(([key, value]) => snapshot.attributes?.[key] === value)
    ))

const { metrics } = EventStoreTelemetry

// Each test gets a registry of its own, so counts start at zero.
const isolated = <A, E>(effect: Effect.Effect<A, E>) => Effect.provideService(effect, Metric.MetricRegistry, new Map())

describe("EventStoreTelemetry", () => {
  it.effect("makes a span for each store operation, with its stream, versions, event count and position", () => {
    const { tracer, named } = recordingTracer()
    return Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* store.append("order-1", [event(1), event(2)], "noStream")
      const conflict = yield* Effect.flip(store.append("order-1", [event(3)], 5))
      expect(conflict._tag).toBe("WrongExpectedVersion")
      yield* store.append("invoice-1", [event(3)])
      yield* Stream.runDrain(store.readStream("order-1", { from: 2 }))
      yield* Stream.runDrain(store.readAll({ filter: { categories: ["order"] } }))
      yield* Stream.runDrain(Stream.take(store.subscribe({ from: 1 }), 2))
      expect(yield* store.streamVersion("order-1")).toBe(2)

      const [appended, refused, other] = named("EventStore.append")
      expect(attributesOf(appended)).toEqual({
        "es_kernel.stream_id": "order-1",
        "es_kernel.expected_version": "noStream",
        "es_kernel.event_count": 2,
        "es_kernel.next_version": 2,
        "es_kernel.position": 2
      })
      expect(attributesOf(refused)).toEqual({
        "es_kernel.stream_id": "order-1",
        "es_kernel.expected_version": 5,
        "es_kernel.event_count": 1,
        "es_kernel.actual_version": 2
      })
      expect(attributesOf(other)).toMatchObject({ "es_kernel.expected_version": "any", "es_kernel.position": 3 })
      expect(attributesOf(named("EventStore.readStream")[0])).toEqual({
        "es_kernel.stream_id": "order-1",
        "es_kernel.direction": "forward",
        "es_kernel.from": 2,
        "es_kernel.event_count": 1,
        "es_kernel.position": 2
      })
      expect(attributesOf(named("EventStore.readAll")[0])).toEqual({
        "es_kernel.from": 0,
        "es_kernel.filter.categories": ["order"],
        "es_kernel.event_count": 2,
        "es_kernel.position": 2
      })
      const [subscription] = named("EventStore.subscribe")
      expect(attributesOf(subscription)).toEqual({ "es_kernel.from": 1, "es_kernel.event_count": 2, "es_kernel.position": 3 })
      expect(subscription?.ended()).toBe(true)
      expect(attributesOf(named("EventStore.streamVersion")[0])).toEqual({ "es_kernel.stream_id": "order-1", "es_kernel.actual_version": 2 })
    }).pipe(
      Effect.provide(EventStoreTelemetry.layer.pipe(Layer.provide(EventStoreMemory.layer))),
      Effect.withTracer(tracer),
      isolated
    )
  })

  it.effect("nests a command's store operations under its CommandHandler.handle span, with the same attribute keys", () => {
    const { tracer, named } = recordingTracer()
    const accounts = CommandHandler.make({ decider: Account.decider, codec: Account.codec, category: "account" })
    return Effect.gen(function*() {
      yield* accounts.handle("ada", { type: "OpenAccount", owner: "Ada", initialBalance: 10 }, { commandId: "open-ada" })
      const [handled] = named("CommandHandler.handle")
      expect(attributesOf(handled)).toMatchObject({
        "es_kernel.category": "account",
        "es_kernel.id": "ada",
        "es_kernel.stream_id": "account-ada",
        "es_kernel.command_id": "open-ada",
        "es_kernel.next_version": 1
      })
      expect(named("EventStore.readStream")[0]?.parent).toBe("CommandHandler.handle")
      expect(named("EventStore.append")[0]?.parent).toBe("CommandHandler.handle")
      expect(attributesOf(named("EventStore.append")[0])).toMatchObject({ "es_kernel.stream_id": "account-ada", "es_kernel.expected_version": 0 })
    }).pipe(
      Effect.provide(EventStoreTelemetry.layer.pipe(Layer.provide(EventStoreMemory.layer))),
      Effect.withTracer(tracer),
      isolated
    )
  })

  it.effect("records every append's latency and outcome, with or without a tracing backend", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* store.append("order-1", [event(1), event(2)])
      yield* store.append("order-2", [event(3)])
      yield* Effect.flip(store.append("order-1", [event(4)], "noStream"))
      expect(yield* stateOf(metrics.appendDuration)).toMatchObject({ count: 3 })
      expect(yield* stateOf(metrics.appendedEvents)).toMatchObject({ count: 3 })
      expect(yield* stateOf(metrics.appendConflicts)).toMatchObject({ count: 1 })
      // The memory layer has no group commit: it reports none.
      expect(yield* hasSeries(metrics.groupCommitEvents)).toBe(false)
    }).pipe(Effect.provide(EventStoreTelemetry.layer.pipe(Layer.provide(EventStoreMemory.layer))), isolated))

  it.live("records each subscription chunk's lag from its last event's recording time", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* store.append("order-1", [event(1)])
      yield* Effect.sleep("30 millis")
      yield* Stream.runDrain(Stream.take(store.subscribe(), 1))
      const lag = yield* stateOf(metrics.subscriptionLag)
      expect(lag).toMatchObject({ count: 1 })
      expect(lag.min).toBeGreaterThanOrEqual(25)
    }).pipe(Effect.provide(EventStoreTelemetry.layer.pipe(Layer.provide(EventStoreMemory.layer))), isolated))

  it.live("counts a handler's conflicts and retries by category, with or without the layer", () => {
    const [first, second] = [1, 2].map(() =>
      CommandHandler.make({ decider: Account.decider, codec: Account.codec, category: "account", retry: Schedule.recurs(3) })
    )
    return Effect.gen(function*() {
      if (first === undefined || second === undefined) return
      yield* first.handle("bo", { type: "OpenAccount", owner: "Bo", initialBalance: 0 })
      yield* second.load("bo")
      yield* first.handle("bo", { type: "Deposit", amount: 1 })
      // `second` remembers version 1: its append meets version 2, reads it and decides again.
      const { state } = yield* second.handle("bo", { type: "Deposit", amount: 2 })
      expect(state).toMatchObject({ balance: 3 })
      expect(yield* stateOf(metrics.commandConflicts, { category: "account" })).toMatchObject({ count: 1 })
      expect(yield* stateOf(metrics.commandRetries, { category: "account" })).toMatchObject({ count: 1 })
    }).pipe(Effect.provide(EventStoreMemory.layer), isolated)
  })

  it.live("reports each projection's lag while it runs, and drops its series when it stops", () => {
    const codec = EventCodec.make({ Happened: EventCodec.io(t.type({ n: t.number })) })
    const projection = Projector.handler({ name: "tally", codec, handle: () => Effect.sleep("20 millis") })
    return Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const runner = yield* Projector.start(projection)
      const { position } = yield* store.append("order-1", [event(1)])
      yield* runner.waitFor(position)
      const lag = yield* stateOf(metrics.projectionLag, { projection: "tally@1" })
      expect(lag.value).toBeGreaterThanOrEqual(15)
      yield* runner.stop
      expect(yield* hasSeries(metrics.projectionLag, { projection: "tally@1" })).toBe(false)
    }).pipe(Effect.scoped, Effect.provide(Layer.merge(EventStoreMemory.layer, CheckpointStore.layerMemory)), isolated)
  })

  describe("on the file layer", () => {
    const withDirectory = <A, E>(body: (directory: string) => Effect.Effect<A, E>) =>
      Effect.acquireUseRelease(
        Effect.promise(() => mkdtemp(join(tmpdir(), "es-kernel-telemetry-"))),
        body,
        (directory) => Effect.promise(() => rm(directory, { recursive: true, force: true }))
      )

    it.live("records one group-commit size and one fsync time per group, not per event", () =>
      withDirectory((directory) =>
        Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          // 20 appends in one turn of the event loop: they share the first group.
          yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) => store.append(`order-${i}`, [event(i), event(i)]), {
            concurrency: "unbounded",
            discard: true
          })
          const appends = yield* stateOf(metrics.groupCommitAppends)
          const events = yield* stateOf(metrics.groupCommitEvents)
          const syncs = yield* stateOf(metrics.fsyncDuration)
          expect(appends.sum).toBe(20)
          expect(events.sum).toBe(40)
          expect(appends.count).toBeLessThan(20)
          expect(syncs.count).toBe(appends.count)
        }).pipe(Effect.provide(EventStoreTelemetry.layer.pipe(Layer.provide(EventStoreFile.layer({ directory })))), isolated)
      ))

    it.live("leaves the store's probe unheard without the layer, and unheard again once the layer closes", () =>
      withDirectory((directory) =>
        Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const probe = StoreProbe.of(store)
          expect(probe).toBeDefined()
          expect(probe?.groupCommitted).toBeUndefined()
          yield* Effect.scoped(Effect.gen(function*() {
            yield* Layer.build(EventStoreTelemetry.layer.pipe(Layer.provide(Layer.succeed(EventStore.EventStore, store))))
            expect(probe?.groupCommitted).toBeDefined()
            expect(probe?.synced).toBeDefined()
          }))
          expect(probe?.groupCommitted).toBeUndefined()
          expect(probe?.synced).toBeUndefined()
          yield* store.append("order-1", [event(1)])
          expect(yield* hasSeries(metrics.groupCommitAppends)).toBe(false)
        }).pipe(Effect.provide(EventStoreFile.layer({ directory })), isolated)
      ))
  })
})

postgresSuite("EventStoreTelemetry on PostgreSQL", (database) => {
  it.live("records the appends and events of each group commit (one statement)", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* Effect.forEach(Array.from({ length: 10 }, (_, i) => i), (i) => store.append(`order-${i}`, [event(i), event(i), event(i)]), {
        concurrency: "unbounded",
        discard: true
      })
      const appends = yield* stateOf(metrics.groupCommitAppends)
      const events = yield* stateOf(metrics.groupCommitEvents)
      expect(appends.sum).toBe(10)
      expect(events.sum).toBe(30)
      expect(appends.count).toBe(events.count)
      expect(yield* hasSeries(metrics.fsyncDuration)).toBe(false)
    }).pipe(
      Effect.provide(EventStoreTelemetry.layer.pipe(Layer.provide(EventStorePostgres.layer({ url: database.url(), schema: freshSchema() })))),
      isolated
    ))
})
