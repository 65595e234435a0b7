/**
 * History queries on PostgreSQL beyond the shared conformance suite: a store created by
 * the first schema version upgrades, and its rows answer correlation and time queries
 * like new ones.
 */
import { assert, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { EventStore } from "../../src/EventStore.js"
import * as EventStorePostgres from "../../src/EventStorePostgres.js"
import { statements } from "../../src/internal/postgres/sql.js"
import { freshSchema, postgresSuite } from "./server.js"
import { rawPool } from "./writers.js"

postgresSuite("EventStorePostgres history queries", (database) => {
  it.live("a store of schema version 1 upgrades: correlation ids filled in, recording times made monotone", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      // The store as the first schema version left it, with rows whose recording times
      // go backwards (clocks of two machines) and whose metadata PostgreSQL cannot take apart.
      const pool = yield* rawPool(database.url(), 1)
      const old = statements(schema)
      for (const statement of old.createMeta.split(";")) yield* pool.unsafe(statement).unprepared
      for (const statement of old.migrations[0] ?? []) yield* pool.unsafe(statement).unprepared
      yield* pool.unsafe(old.writeSchemaVersion, [1]).unprepared
      const rows: ReadonlyArray<readonly [number, string, string, string]> = [
        [1, "order-1", `{"correlationId":"r-1"}`, "2024-01-01T00:00:10.000Z"],
        [2, "payment-1", `{"correlationId":"r-1","note":"a\\u0000b"}`, "2024-01-01T00:00:05.250Z"],
        [3, "order-2", `{"correlationId":"c-\\u0000-\\ud83d"}`, "2024-01-01T00:00:20.000Z"],
        [4, "order-1", `{}`, "2024-01-01T00:00:30.000Z"]
      ]
      for (const [index, streamId, metadata, at] of rows) {
        yield* pool.unsafe(
          `INSERT INTO "${schema}".es_events (position, stream_id, version, event_id, type, schema_version, data, metadata, recorded_at)
           VALUES ($1, $2, $3, $4, 'Happened', 1, '{}', $5::text::json, $6::timestamptz)`,
          [(1 << 14) + index, streamId, streamId === "order-1" && index === 4 ? 2 : 1, `e-${index}`, metadata, at]
        ).unprepared
      }

      const answers = yield* Effect.gen(function*() {
        const store = yield* EventStore
        const ids = (events: ReadonlyArray<{ readonly eventId: string }>) => events.map((event) => event.eventId)
        const caused = yield* Stream.runCollect(store.readAll({ filter: { correlationIds: ["r-1"] } }))
        const awkward = yield* Stream.runCollect(store.readAll({ filter: { correlationIds: ["c-\u0000-\uD83D"] } }))
        const all = yield* Stream.runCollect(store.readAll())
        const since = yield* Stream.runCollect(store.readAll({ filter: { recordedAt: { from: new Date("2024-01-01T00:00:10.000Z") } } }))
        yield* store.append("order-3", [{ type: "Placed", data: {}, metadata: { correlationId: "r-1" } }])
        const later = yield* Stream.runCollect(store.readAll({ filter: { correlationIds: ["r-1"] } }))
        return {
          caused: ids(caused),
          awkward: ids(awkward),
          times: all.map((event) => event.recordedAt.toISOString()),
          since: ids(since),
          later: later.length
        }
      }).pipe(Effect.provide(Layer.fresh(EventStorePostgres.layer({ url: database.url(), schema }))))

      assert.deepStrictEqual(answers.caused, ["e-1", "e-2"])
      assert.deepStrictEqual(answers.awkward, ["e-3"])
      assert.deepStrictEqual(answers.times, [
        "2024-01-01T00:00:10.000Z",
        "2024-01-01T00:00:10.000Z",
        "2024-01-01T00:00:20.000Z",
        "2024-01-01T00:00:30.000Z"
      ])
      assert.deepStrictEqual(answers.since, ["e-1", "e-2", "e-3", "e-4"])
      assert.strictEqual(answers.later, 3)
      const indexes = yield* pool.unsafe<{ readonly indexname: string }>(
        `SELECT indexname FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname`,
        [schema]
      )
      const names = indexes.map((row) => row.indexname)
      for (const name of ["es_events_category", "es_events_correlation", "es_events_recorded_at", "es_events_type"]) {
        assert.isTrue(names.includes(name), `no index ${name} in ${names.join(", ")}`)
      }
    }).pipe(Effect.scoped)
  }, 60_000)
})
