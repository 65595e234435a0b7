/**
 * Group-commit isolation: appends that share a statement keep their own outcomes, and a
 * group the server aborts is re-run one append at a time, so only the guilty append fails.
 */
import { assert, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Stream } from "effect"
import { EventStore } from "../../src/EventStore.js"
import type { AppendError, AppendResult, ExpectedVersion, NewEvent } from "../../src/EventStore.js"
import * as EventStorePostgres from "../../src/EventStorePostgres.js"
import type { PgClient } from "@effect/sql-pg/PgClient"
import { events } from "../../src/internal/testing/conformance.js"
import { freshSchema, postgresSuite } from "./server.js"
import { holdAppend, oneEvent, rawPool } from "./writers.js"

// Waits until some backend waits for another transaction's row lock or id.
const untilSomeoneWaits = (pool: PgClient) =>
  Effect.gen(function*() {
    for (let attempt = 0; attempt < 200; attempt++) {
      const rows = yield* pool.unsafe<{ readonly waiting: unknown }>(
        "SELECT count(*) AS waiting FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'"
      )
      if (Number(rows[0]?.waiting ?? 0) > 0) return
      yield* Effect.sleep("10 millis")
    }
    return yield* Effect.die(new Error("no append ever waited"))
  })

const tagOf = (exit: Exit.Exit<AppendResult, AppendError>): string =>
  Exit.isSuccess(exit) ? "ok" : Exit.findErrorOption(exit).pipe((found) => found._tag === "Some" ? found.value._tag : "defect")

postgresSuite("EventStorePostgres group commit", (database) => {
  const storeLayer = (schema: string) =>
    Layer.fresh(EventStorePostgres.layer({ url: database.url(), schema, lanes: 1 }))

  it.live("a wrong expected version in a group fails only that append", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      const store = yield* EventStore
      yield* store.append("account-3", events(2))
      const appends: ReadonlyArray<readonly [string, ExpectedVersion]> = [
        ["account-1", "noStream"],
        ["account-2", 0],
        ["account-3", 5],
        ["account-4", "any"],
        ["account-3x", "streamExists"]
      ]
      const exits = yield* Effect.forEach(
        appends,
        ([streamId, expected]) => Effect.exit(store.append(streamId, events(1), expected)),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(exits.map(tagOf), ["ok", "ok", "WrongExpectedVersion", "ok", "WrongExpectedVersion"])
      assert.strictEqual((yield* Stream.runCollect(store.readAll())).length, 5)
    }).pipe(Effect.provide(storeLayer(schema)))
  })

  it.live("a group aborted by another process's race re-runs its appends one by one", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      const store = yield* EventStore
      const pool = yield* rawPool(database.url(), 4)
      // Another process: R1 holds stream "hot", R2 holds stream "race" and the id "dup-id".
      const r1 = yield* holdAppend(pool, schema, oneEvent("hot", "r1-event"))
      yield* r1.inserted
      const r2 = yield* holdAppend(pool, schema, oneEvent("race", "dup-id"))
      yield* r2.inserted
      // The only lane blocks on R1's row.
      const hot = yield* Effect.forkChild(Effect.exit(store.append("hot", events(1), 0)))
      yield* untilSomeoneWaits(pool)
      // These queue up behind it and go as one group.
      const batch: ReadonlyArray<readonly [string, ReadonlyArray<NewEvent>, ExpectedVersion]> = [
        ["innocent-1", events(2), "noStream"],
        ["race", events(1), 0],
        ["innocent-2", events(1), "any"],
        ["other", [{ type: "Retried", data: {}, eventId: "dup-id" }], "any"],
        ["innocent-3", events(1), 7]
      ]
      const group = yield* Effect.forkChild(
        Effect.forEach(batch, ([streamId, batchEvents, expected]) => Effect.exit(store.append(streamId, batchEvents, expected)), {
          concurrency: "unbounded"
        })
      )
      yield* Effect.sleep("50 millis")
      yield* r1.finish("commit")
      assert.strictEqual(tagOf(yield* Fiber.join(hot)), "WrongExpectedVersion")
      // The group now waits on R2's uncommitted keys; R2's commit aborts its statement.
      yield* untilSomeoneWaits(pool)
      yield* r2.finish("commit")
      const exits = yield* Fiber.join(group)
      assert.deepStrictEqual(exits.map(tagOf), ["ok", "WrongExpectedVersion", "ok", "EventIdConflict", "WrongExpectedVersion"])
      const versions = (streamId: string) => Effect.map(Stream.runCollect(store.readStream(streamId)), (read) => read.map((e) => e.version))
      assert.deepStrictEqual(yield* versions("innocent-1"), [1, 2])
      assert.deepStrictEqual(yield* versions("innocent-2"), [1])
      assert.deepStrictEqual(yield* versions("race"), [1])
      assert.deepStrictEqual(yield* versions("other"), [])
    }).pipe(Effect.scoped, Effect.provide(storeLayer(schema)))
  })

  it.live("an idempotent retry racing its first attempt in another process succeeds with the first result", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      const store = yield* EventStore
      const pool = yield* rawPool(database.url(), 2)
      const first = yield* holdAppend(pool, schema, oneEvent("order-1", "retry-id"))
      yield* first.inserted
      const retry = yield* Effect.forkChild(store.append("order-1", [{ type: "Raced", data: { eventId: "retry-id" }, eventId: "retry-id" }], 0))
      const innocent = yield* Effect.forkChild(store.append("order-2", events(1), 0))
      yield* untilSomeoneWaits(pool)
      yield* first.finish("commit")
      const result = yield* Fiber.join(retry)
      assert.strictEqual(result.nextExpectedVersion, 1)
      assert.strictEqual((yield* Fiber.join(innocent)).nextExpectedVersion, 1)
      assert.strictEqual((yield* Stream.runCollect(store.readStream("order-1"))).length, 1)
    }).pipe(Effect.scoped, Effect.provide(storeLayer(schema)))
  })
})
