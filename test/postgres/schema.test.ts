/**
 * The schema the layer owns: migrations, the tutorial's view, several stores in one
 * database, and the refusal to start when positions would go backwards.
 */
import { assert, it } from "@effect/vitest"
import { Effect, Exit, Layer, Stream } from "effect"
import { CheckpointStore } from "../../src/CheckpointStore.js"
import { EventStore } from "../../src/EventStore.js"
import { SnapshotStore } from "../../src/SnapshotStore.js"
import * as EventStorePostgres from "../../src/EventStorePostgres.js"
import { events } from "../../src/internal/testing/conformance.js"
import { freshSchema, postgresSuite } from "./server.js"
import { rawPool } from "./writers.js"

postgresSuite("EventStorePostgres schema", (database) => {
  const storeLayer = (schema: string) => Layer.fresh(EventStorePostgres.layer({ url: database.url(), schema }))
  const withStore = <A, E>(schema: string, program: Effect.Effect<A, E, EventStore>) =>
    Effect.provide(program, storeLayer(schema))

  it.live("a second start finds the schema migrated and keeps the history", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      yield* withStore(schema, EventStore.use((store) => store.append("order-1", events(2))))
      const version = yield* withStore(schema, EventStore.use((store) => store.append("order-1", events(1), 2)))
      assert.strictEqual(version.nextExpectedVersion, 3)
    })
  })

  it.live("stores in two schemas of one database are independent", () => {
    const [first, second] = [freshSchema(), freshSchema()]
    return Effect.gen(function*() {
      yield* withStore(first, EventStore.use((store) => store.append("order-1", events(2))))
      assert.strictEqual(yield* withStore(second, EventStore.use((store) => store.streamVersion("order-1"))), 0)
    })
  })

  it.live("the events view answers the tutorial's query", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      yield* withStore(schema, EventStore.use((store) =>
        store.append("order-42", [
          { type: "OrderCreated", data: { customerId: "c-1", note: "a\u0000b" } },
          { type: "ItemAdded", data: { sku: "apple", quantity: 2 } }
        ])
      ))
      // One connection, so the search path set first holds for the query, as in psql.
      const pool = yield* rawPool(database.url(), 1)
      yield* pool.unsafe(`SET search_path TO ${schema}`)
      const rows = yield* pool.unsafe<{ readonly event_type: string; readonly version: number; readonly data: unknown; readonly timestamp: unknown }>(
        "SELECT event_type, version, data, timestamp FROM events WHERE aggregate_id = 'order-42' ORDER BY version"
      )
      assert.deepStrictEqual(rows.map((row) => [row.event_type, row.version]), [["OrderCreated", 1], ["ItemAdded", 2]])
      assert.deepStrictEqual(rows[0]?.data, { customerId: "c-1", note: "a\u0000b" })
      assert.instanceOf(rows[0]?.timestamp, Date)
      const quantity = yield* pool.unsafe<{ readonly quantity: string }>(
        `SELECT data->>'quantity' AS quantity FROM ${schema}.events WHERE event_type = 'ItemAdded'`
      )
      assert.strictEqual(quantity[0]?.quantity, "2")
    }).pipe(Effect.scoped)
  })

  it.live("refuses to start when positions would go backwards, and starts once the offset is raised", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      const before = yield* withStore(schema, EventStore.use((store) => store.append("order-1", events(1))))
      const pool = yield* rawPool(database.url(), 1)
      // What a restore into a cluster with lower transaction ids looks like to the store.
      yield* pool.unsafe(`UPDATE ${schema}.es_meta SET value = value - 1000000000 WHERE key = 'xid_offset'`)
      const refused = yield* Effect.exit(withStore(schema, EventStore.use((store) => store.streamVersion("order-1"))))
      const error = Exit.findErrorOption(refused)
      assert.isTrue(error._tag === "Some" && error.value._tag === "PositionsWouldGoBackwards")
      const message = error._tag === "Some" ? error.value.message : ""
      const fix = /UPDATE .* WHERE key = 'xid_offset'/.exec(message)?.[0]
      assert.isDefined(fix)
      yield* pool.unsafe(fix ?? "")
      const after = yield* withStore(schema, EventStore.use((store) =>
        Effect.andThen(store.append("order-1", events(1)), Stream.runCollect(store.readAll()))
      ))
      assert.strictEqual(after.length, 2)
      assert.isTrue((after[1]?.position ?? 0) > before.position)
    }).pipe(Effect.scoped)
  })

  it.live("refuses a schema migrated by a newer es-kernel", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      yield* withStore(schema, EventStore.use((store) => store.streamVersion("order-1")))
      const pool = yield* rawPool(database.url(), 1)
      yield* pool.unsafe(`UPDATE ${schema}.es_meta SET value = 99 WHERE key = 'schema_version'`)
      const refused = yield* Effect.exit(withStore(schema, EventStore.use((store) => store.streamVersion("order-1"))))
      const error = Exit.findErrorOption(refused)
      assert.isTrue(error._tag === "Some" && error.value._tag === "SchemaTooNew")
    }).pipe(Effect.scoped)
  })

  it.live("an append after the layer's scope ended fails with StorageError instead of waiting forever", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      const escaped = yield* withStore(schema, EventStore.use(Effect.succeed))
      const exit = yield* Effect.exit(escaped.append("order-1", events(1)))
      const error = Exit.findErrorOption(exit)
      assert.isTrue(error._tag === "Some" && error.value._tag === "StorageError")
    })
  })

  it.live("an application role with the grants docs/POSTGRESQL.md lists runs a store, its checkpoints and snapshots", () => {
    const schema = freshSchema()
    const role = `app_${schema}`
    const asRole = new URL(database.url())
    asRole.username = role
    return Effect.gen(function*() {
      yield* withStore(schema, EventStore.use((store) => store.append("order-1", events(1))))
      const pool = yield* rawPool(database.url(), 1)
      yield* pool.unsafe(`CREATE ROLE ${role} LOGIN`)
      yield* Effect.addFinalizer(() => Effect.ignore(pool.unsafe(`DROP OWNED BY ${role}; DROP ROLE ${role}`)))
      yield* pool.unsafe(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`)
      yield* pool.unsafe(`GRANT SELECT, INSERT ON ${schema}.es_events TO ${role}`)
      yield* pool.unsafe(`GRANT SELECT ON ${schema}.es_meta, ${schema}.events TO ${role}`)
      yield* pool.unsafe(`GRANT SELECT, INSERT, UPDATE ON ${schema}.es_checkpoints, ${schema}.es_projection_versions TO ${role}`)
      yield* pool.unsafe(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${schema}.es_snapshots TO ${role}`)
      const read = yield* Effect.provide(
        EventStore.use((store) =>
          Effect.andThen(store.append("order-1", events(1), 1), Stream.runCollect(Stream.take(store.subscribe(), 2)))
        ),
        Layer.fresh(EventStorePostgres.layer({ url: asRole.href, schema }))
      )
      assert.deepStrictEqual(read.map((event) => event.version), [1, 2])
      const checkpoint = yield* Effect.provide(
        Effect.scoped(Effect.gen(function*() {
          const checkpoints = yield* CheckpointStore
          yield* checkpoints.claim("tally@1")
          yield* checkpoints.save("tally@1", { position: 7 })
          yield* checkpoints.activate("tally", 1)
          return yield* checkpoints.load("tally@1")
        })),
        Layer.fresh(EventStorePostgres.layerCheckpoints({ url: asRole.href, schema }))
      )
      assert.strictEqual(checkpoint?.position, 7)
      const snapshot = yield* Effect.provide(
        Effect.gen(function*() {
          const snapshots = yield* SnapshotStore
          yield* snapshots.save({ streamId: "order-1", version: 2, stateVersion: 1, state: { total: 2 } })
          yield* snapshots.save({ streamId: "order-1", version: 2, stateVersion: 1, state: { total: 2 } })
          return yield* snapshots.load("order-1", 1)
        }),
        Layer.fresh(EventStorePostgres.layerSnapshots({ url: asRole.href, schema }))
      )
      assert.strictEqual(snapshot._tag, "Found")
      // Creating a store is another matter: that needs CREATE on the database.
      const refused = yield* Effect.exit(Effect.provide(
        EventStore.use((store) => store.streamVersion("order-1")),
        Layer.fresh(EventStorePostgres.layer({ url: asRole.href, schema: freshSchema() }))
      ))
      assert.isTrue(Exit.isFailure(refused))
    }).pipe(Effect.scoped)
  })

  it.live("refuses a schema name that is not a plain identifier", () =>
    Effect.gen(function*() {
      const refused = yield* Effect.exit(withStore("Robert'); DROP TABLE x;--", EventStore.use((store) => store.streamVersion("a"))))
      assert.isTrue(Exit.isFailure(refused))
    }))
})
