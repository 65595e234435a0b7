/**
 * The PostgreSQL snapshot store: the snapshot-store conformance suite, its table created by
 * the store's migrations (also on a schema an older es-kernel created), and a store that
 * cannot be reached is a miss, never a failed load.
 */
import { assert, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { EventStore } from "../../src/EventStore.js"
import * as EventStorePostgres from "../../src/EventStorePostgres.js"
import { schemaVersion } from "../../src/internal/postgres/sql.js"
import { SnapshotStore } from "../../src/SnapshotStore.js"
import type { Lookup } from "../../src/SnapshotStore.js"
import { events } from "../../src/internal/testing/conformance.js"
import { snapshotStoreConformance } from "../snapshot/conformance.js"
import { freshSchema, postgresSuite } from "./server.js"
import { rawPool } from "./writers.js"

postgresSuite("SnapshotStorePostgres", (database) => {
  snapshotStoreConformance("postgres", () => ({ layer: EventStorePostgres.layerSnapshots({ url: database.url(), schema: freshSchema() }) }), {
    numRuns: 50
  })

  it.live("shares the store's schema: the event store and the snapshot store migrate it, in either order, from an older version too", () => {
    const [first, second] = [freshSchema(), freshSchema()]
    const snapshots = (schema: string) => Layer.fresh(EventStorePostgres.layerSnapshots({ url: database.url(), schema }))
    const store = (schema: string) => Layer.fresh(EventStorePostgres.layer({ url: database.url(), schema }))
    const saveAndLoad = SnapshotStore.use((service) =>
      Effect.andThen(service.save({ streamId: "order-1", version: 2, stateVersion: 1, state: { total: 2 } }), service.load("order-1", 1))
    )
    const found: Lookup = { _tag: "Found", snapshot: { streamId: "order-1", version: 2, stateVersion: 1, state: { total: 2 } } }
    return Effect.gen(function*() {
      assert.deepStrictEqual(yield* Effect.provide(saveAndLoad, snapshots(first)), found)
      yield* Effect.provide(EventStore.use((service) => service.append("order-1", events(2))), store(first))

      // A schema as the version before snapshots left it: no es_snapshots (nor the later
      // checkpoint tables), version 1.
      yield* Effect.provide(EventStore.use((service) => service.append("order-1", events(2))), store(second))
      const pool = yield* rawPool(database.url(), 1)
      yield* pool.unsafe(`DROP TABLE ${second}.es_snapshots, ${second}.es_checkpoints, ${second}.es_projection_versions`)
      yield* pool.unsafe(`UPDATE ${second}.es_meta SET value = 1 WHERE key = 'schema_version'`)
      assert.deepStrictEqual(yield* Effect.provide(saveAndLoad, snapshots(second)), found)
      const rows = yield* pool.unsafe<{ readonly value: unknown }>(`SELECT value FROM ${second}.es_meta WHERE key = 'schema_version'`)
      assert.deepStrictEqual(rows.map((row) => Number(row.value)), [schemaVersion])
      assert.strictEqual(yield* Effect.provide(EventStore.use((service) => service.streamVersion("order-1")), store(second)), 2)
    }).pipe(Effect.scoped)
  })

  it.live("a snapshot the database cannot give is a miss with its reason; a save it refuses is a SnapshotError", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      const service = yield* SnapshotStore
      yield* service.save({ streamId: "order-1", version: 2, stateVersion: 1, state: 2 })
      const pool = yield* rawPool(database.url(), 1)
      yield* pool.unsafe(`DROP TABLE ${schema}.es_snapshots`)
      const lookup = yield* service.load("order-1", 1)
      assert.strictEqual(lookup._tag, "Unusable")
      assert.match(lookup._tag === "Unusable" ? lookup.reason : "", /^reading it failed \(.+\)$/)
      const failure = yield* Effect.flip(service.save({ streamId: "order-1", version: 3, stateVersion: 1, state: 3 }))
      assert.strictEqual(failure._tag, "SnapshotError")
      assert.match(failure.message, /snapshot of stream "order-1": saving it in schema s\w+ failed/)
    }).pipe(Effect.provide(EventStorePostgres.layerSnapshots({ url: database.url(), schema })), Effect.scoped)
  })
})
