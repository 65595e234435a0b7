/**
 * The gap tests: a subscriber must never skip an event whose transaction took its position
 * before another's but committed after it. Writers outside the layer run the layer's own
 * append statement in transactions held open on real connections.
 */
import { assert, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Random, Stream } from "effect"
import { EventStore } from "../../src/EventStore.js"
import type { RecordedEvent } from "../../src/EventStore.js"
import * as EventStorePostgres from "../../src/EventStorePostgres.js"
import { events } from "../../src/internal/testing/conformance.js"
import { freshSchema, postgresSuite } from "./server.js"
import { holdAppend, oneEvent, rawPool } from "./writers.js"

const positions = (recorded: ReadonlyArray<RecordedEvent>) => recorded.map((e) => e.position)

postgresSuite("EventStorePostgres gaps", (database) => {
  const storeLayer = (schema: string) =>
    Layer.fresh(EventStorePostgres.layer({ url: database.url(), schema, pollInterval: "50 millis" }))

  it.live("delivers an event whose transaction commits after a later one, in position order", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      const store = yield* EventStore
      const pool = yield* rawPool(database.url(), 2)
      yield* store.append("seed-1", events(1))
      // A takes its position, then stalls before committing.
      const held = yield* holdAppend(pool, schema, oneEvent("late-1", "late-event"))
      assert.strictEqual((yield* held.inserted)._tag, "Appended")
      // B commits after A took its position, so B's position is higher.
      yield* store.append("early-1", events(1))
      const seen: Array<RecordedEvent> = []
      const threeArrived = yield* Deferred.make<void>()
      const fiber = yield* Effect.forkChild(
        store.subscribe().pipe(
          Stream.tap((event) =>
            Effect.sync(() => {
              seen.push(event)
              if (seen.length === 3) Deferred.doneUnsafe(threeArrived, Effect.void)
            })
          ),
          Stream.take(3),
          Stream.runCollect
        )
      )
      // The subscriber polls several times while A is open: it must not move past A.
      yield* Effect.sleep("400 millis")
      assert.deepStrictEqual(seen.map((e) => e.streamId), ["seed-1"])
      yield* held.finish("commit")
      const delivered = yield* Fiber.join(fiber)
      assert.deepStrictEqual(delivered.map((e) => e.streamId), ["seed-1", "late-1", "early-1"])
      const [, late, early] = delivered
      assert.isTrue((late?.position ?? 0) < (early?.position ?? 0))
      // readAll agrees once A has committed.
      const all = yield* Stream.runCollect(store.readAll())
      assert.deepStrictEqual(all.map((e) => e.eventId), delivered.map((e) => e.eventId))
    }).pipe(Effect.scoped, Effect.provide(storeLayer(schema)))
  })

  it.live("a transaction open elsewhere in the cluster does not hold readers back", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      const store = yield* EventStore
      const pool = yield* rawPool(database.url(), 1)
      const release = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      // Takes a transaction id (as any writing transaction does) and stays open.
      const other = yield* Effect.forkChild(
        pool.withTransaction(
          Effect.andThen(
            pool.unsafe("SELECT pg_current_xact_id()"),
            Effect.andThen(Deferred.succeed(started, undefined), Deferred.await(release))
          )
        )
      )
      yield* Deferred.await(started)
      yield* store.append("order-1", events(2))
      assert.strictEqual((yield* Stream.runCollect(store.readAll())).length, 2)
      const lag = yield* EventStorePostgres.PostgresStore.use((report) => report.lag)
      assert.strictEqual(lag.heldBack, 0)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(other)
    }).pipe(Effect.scoped, Effect.provide(storeLayer(schema)))
  })

  it.live("lag reports the events a stalled writer holds back", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      const store = yield* EventStore
      const pool = yield* rawPool(database.url(), 1)
      const held = yield* holdAppend(pool, schema, oneEvent("late-1", "late-event"))
      yield* held.inserted
      yield* store.append("early-1", events(3))
      const report = yield* EventStorePostgres.PostgresStore
      const during = yield* report.lag
      assert.strictEqual(during.heldBack, 3)
      assert.isTrue(during.head >= during.horizon)
      yield* held.finish("commit")
      const after = yield* report.lag
      assert.strictEqual(after.heldBack, 0)
    }).pipe(Effect.scoped, Effect.provide(storeLayer(schema)))
  })

  it.live("20 writers pausing between insert and commit: the subscriber misses nothing", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      const store = yield* EventStore
      const pool = yield* rawPool(database.url(), 20)
      const delivered: Array<RecordedEvent> = []
      const subscriber = yield* Effect.forkChild(
        store.subscribe().pipe(Stream.runForEach((event) => Effect.sync(() => delivered.push(event))))
      )
      const deadline = Date.now() + 3_000
      let rolledBack = 0
      const writer = (writer: number) =>
        Effect.gen(function*() {
          for (let round = 0; Date.now() < deadline; round++) {
            const held = yield* holdAppend(pool, schema, oneEvent(`writer-${writer}`, `w${writer}-${round}`))
            yield* held.inserted
            yield* Effect.sleep(`${yield* Random.nextIntBetween(0, 4)} millis`)
            const rollback = (yield* Random.nextIntBetween(0, 20)) === 0
            if (rollback) rolledBack++
            yield* held.finish(rollback ? "rollback" : "commit")
          }
        }).pipe(Effect.scoped)
      // The layer's own appends race the held ones too.
      const layerWriter = Effect.gen(function*() {
        while (Date.now() < deadline) yield* store.append(`layer-${yield* Random.nextIntBetween(0, 5)}`, events(1))
      })
      yield* Effect.all([...Array.from({ length: 20 }, (_, n) => writer(n)), layerWriter], { concurrency: "unbounded" })
      const all = yield* Stream.runCollect(store.readAll())
      // Give the subscriber time to drain what was committed last.
      for (let wait = 0; wait < 100 && delivered.length < all.length; wait++) yield* Effect.sleep("50 millis")
      yield* Fiber.interrupt(subscriber)
      assert.isTrue(all.length > 200, `only ${all.length} events were written`)
      assert.isTrue(rolledBack > 0 || all.length < 400)
      const deliveredIds = delivered.map((e) => e.eventId)
      const missed = all.filter((e) => !deliveredIds.includes(e.eventId))
      assert.strictEqual(missed.length, 0, `missed ${missed.length} of ${all.length}`)
      assert.deepStrictEqual(deliveredIds, all.map((e) => e.eventId))
      const sorted = [...positions(delivered)].sort((a, b) => a - b)
      assert.deepStrictEqual(positions(delivered), sorted)
    }).pipe(Effect.scoped, Effect.provide(storeLayer(schema)))
  }, 60_000)
})
