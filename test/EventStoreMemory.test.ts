import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Latch, Stream } from "effect"
import { TestClock } from "effect/testing"
import { EventStore } from "../src/EventStore.js"
import * as EventStoreMemory from "../src/EventStoreMemory.js"
import { events } from "../src/internal/testing/conformance.js"
import * as StoreConformance from "../src/testing/StoreConformance.js"

StoreConformance.register({ describe, it }, "memory", () => EventStoreMemory.layer)

describe("EventStoreMemory", () => {
  it.effect("stamps recordedAt with the Effect clock", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      yield* TestClock.setTime(Date.UTC(2024, 0, 1))
      yield* store.append("order-1", events(1))
      yield* TestClock.adjust("1 hour")
      yield* store.append("order-1", events(1))
      const recorded = yield* Stream.runCollect(store.readStream("order-1"))
      assert.deepStrictEqual(recorded.map((e) => e.recordedAt.toISOString()), [
        "2024-01-01T00:00:00.000Z",
        "2024-01-01T01:00:00.000Z"
      ])
    }).pipe(Effect.provide(EventStoreMemory.layer)))

  it.effect("recordedAt never goes backwards when the clock steps back", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      yield* TestClock.setTime(Date.UTC(2024, 0, 1, 12))
      yield* store.append("order-1", events(1))
      yield* TestClock.setTime(Date.UTC(2024, 0, 1, 11))
      yield* store.append("order-2", events(2))
      yield* TestClock.setTime(Date.UTC(2024, 0, 1, 13))
      yield* store.append("order-1", events(1))
      const recorded = yield* Stream.runCollect(store.readAll())
      assert.deepStrictEqual(recorded.map((e) => e.recordedAt.toISOString()), [
        "2024-01-01T12:00:00.000Z",
        "2024-01-01T12:00:00.000Z",
        "2024-01-01T12:00:00.000Z",
        "2024-01-01T13:00:00.000Z"
      ])
    }).pipe(Effect.provide(EventStoreMemory.layer)))

  it.effect("each build of the layer is a new, empty store", () =>
    Effect.gen(function*() {
      yield* EventStore.use((store) => store.append("order-1", events(1))).pipe(Effect.provide(EventStoreMemory.layer))
      const version = yield* EventStore.use((store) => store.streamVersion("order-1")).pipe(
        Effect.provide(EventStoreMemory.layer)
      )
      assert.strictEqual(version, 0)
    }))

  it.effect("stored events are frozen and readers share them instead of copies", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      yield* store.append("order-1", [{ type: "OrderPlaced", data: { lines: [{ sku: "a" }] } }])
      const [fromStream] = yield* Stream.runCollect(store.readStream("order-1"))
      const [fromLog] = yield* Stream.runCollect(store.readAll())
      assert.isDefined(fromStream)
      assert.strictEqual(fromStream, fromLog)
      assert.isTrue(Object.isFrozen(fromStream))
      assert.isTrue(Object.isFrozen(fromStream.data))
      assert.isTrue(Object.isFrozen(fromStream.metadata))
    }).pipe(Effect.provide(EventStoreMemory.layer)))

  it.live("a stalled subscriber neither blocks writers nor holds copies, and catches up in order", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const delivered: Array<unknown> = []
      // The subscriber takes one event and then stops pulling until released.
      const release = yield* Latch.make(false)
      const fiber = yield* Effect.forkChild(
        store.subscribe().pipe(
          Stream.tap((event) => Effect.sync(() => delivered.push(event))),
          Stream.tap(() => release.await),
          Stream.take(10_001),
          Stream.runDrain
        )
      )
      yield* store.append("order-0", events(1))
      yield* Effect.yieldNow
      for (let stream = 1; stream <= 100; stream++) yield* store.append(`order-${stream}`, events(100))
      // Every append completed although the subscriber has not pulled since the first.
      assert.strictEqual((yield* Stream.runCollect(store.readAll())).length, 10_001)
      assert.isAtMost(delivered.length, 1)
      yield* release.open
      yield* Fiber.join(fiber)
      const all = yield* Stream.runCollect(store.readAll())
      assert.strictEqual(delivered.length, all.length)
      // The very same objects: the subscription buffered no copies of its own.
      assert.isTrue(delivered.every((event, index) => event === all[index]))
    }).pipe(Effect.provide(EventStoreMemory.layer)))

  it.effect("an append is refused with InvalidAppend when data is a Map", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const error = yield* Effect.flip(store.append("order-1", [{ type: "A", data: new Map([["a", 1]]) }]))
      assert.strictEqual(error._tag, "InvalidAppend")
      if (error._tag === "InvalidAppend") assert.include(error.reason, "Map")
    }).pipe(Effect.provide(EventStoreMemory.layer)))

  it.effect("a caller-chosen id shaped like a later generated id never yields a duplicate", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      yield* store.append("order-1", events(1))
      const [first] = yield* Stream.runCollect(store.readAll())
      assert.isDefined(first)
      assert.match(first.eventId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      // The id the store would generate for position 3, taken at position 2.
      const forged = first.eventId.slice(0, 24) + "000000000003"
      yield* store.append("order-1", [{ type: "Forged", data: {}, eventId: forged }])
      yield* store.append("order-1", events(2))
      const all = yield* Stream.runCollect(store.readAll())
      assert.strictEqual(new Set(all.map((e) => e.eventId)).size, 4)
      assert.strictEqual(all[1]?.eventId, forged)
      // A retry of the forged append is still recognised as one.
      const retried = yield* store.append("order-1", [{ type: "Forged", data: {}, eventId: forged }], 1)
      assert.deepStrictEqual(retried, { streamId: "order-1", nextExpectedVersion: 2, position: all[1]?.position })
      // Within one batch too: the id forged for the batch's second position stays unique.
      const next = first.eventId.slice(0, 24) + (all.length + 2).toString(16).padStart(12, "0")
      yield* store.append("order-2", [{ type: "Forged", data: {}, eventId: next }, { type: "Plain", data: {} }])
      const grown = yield* Stream.runCollect(store.readAll())
      assert.strictEqual(new Set(grown.map((e) => e.eventId)).size, grown.length)
      // A generated id is recognised too when a caller re-appends a recorded event.
      const copy = all[2]
      assert.isDefined(copy)
      const again = yield* store.append("order-1", [{ type: copy.type, data: copy.data, eventId: copy.eventId }], 2)
      assert.deepStrictEqual(again, { streamId: "order-1", nextExpectedVersion: 3, position: copy.position })
    }).pipe(Effect.provide(EventStoreMemory.layer)))
})
