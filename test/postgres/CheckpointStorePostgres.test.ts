/**
 * The PostgreSQL checkpoint store in one process: checkpoints and active versions in the
 * store's schema, the advisory-lock claim, the fencing token, and handler batches that
 * commit their read-model writes with the checkpoint or roll both back, and a rebuild
 * taking over from the live version.
 */
import { assert, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Option, Scope, Stream } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import { CheckpointStore } from "../../src/CheckpointStore.js"
import { EventStore } from "../../src/EventStore.js"
import * as EventStorePostgres from "../../src/EventStorePostgres.js"
import * as Projector from "../../src/Projector.js"
import * as Tally from "../projector/tally.js"
import { freshSchema, postgresSuite } from "./server.js"
import { holdAppend, oneEvent, rawPool } from "./writers.js"

const totals = Projector.view({ name: "totals", codec: Tally.codec, view: Tally.totals, state: Tally.totalsCodec })

postgresSuite("CheckpointStore on PostgreSQL", (database) => {
  const checkpointsLayer = (schema: string) => Layer.fresh(EventStorePostgres.layerCheckpoints({ url: database.url(), schema, maxConnections: 6 }))
  const storeLayer = (schema: string) => Layer.fresh(EventStorePostgres.layer({ url: database.url(), schema, pollInterval: "50 millis" }))
  const both = (schema: string) => Layer.merge(storeLayer(schema), checkpointsLayer(schema))
  // A layer of its own (its own pool), open until the test's scope closes.
  const service = (schema: string) => Effect.map(Layer.build(checkpointsLayer(schema)), (context) => Context.get(context, CheckpointStore))

  it.live("saves need a claim; a saved checkpoint, its state and the active version survive a new layer", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      const first = yield* service(schema)
      assert.strictEqual(yield* first.load("totals@1"), undefined)
      const unclaimed = yield* Effect.flip(first.save("totals@1", { position: 7 }))
      assert.include(unclaimed.message, "claim it before saving its checkpoint")
      yield* Effect.scoped(Effect.gen(function*() {
        yield* first.claim("totals@1")
        // Claimed, nothing applied yet: still no checkpoint.
        assert.strictEqual(yield* first.load("totals@1"), undefined)
        yield* first.save("totals@1", { position: 7, state: { "counter-a": 3 } })
        yield* first.save("totals@1", { position: 2 ** 40 + 9, state: { "counter-a": 4, note: "é\u00a0" } })
      }))
      yield* first.activate("totals", 2)
      const second = yield* service(schema)
      assert.deepStrictEqual(yield* second.load("totals@1"), { position: 2 ** 40 + 9, state: { "counter-a": 4, note: "é\u00a0" } })
      assert.strictEqual(yield* second.active("totals"), 2)
      assert.strictEqual(yield* second.active("other"), undefined)
      const bad = yield* Effect.flip(second.load("../escape"))
      assert.include(bad.reason, "the key must be 1 to 128 letters")
    }).pipe(Effect.scoped)
  })

  it.live("a claim is exclusive across connections, says who holds it, and is released with its scope", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      const first = yield* service(schema)
      const second = yield* service(schema)
      const scope = yield* Scope.make()
      yield* Scope.provide(scope)(first.claim("solo@1"))
      for (const checkpoints of [first, second]) {
        const refused = yield* Effect.flip(Effect.scoped(checkpoints.claim("solo@1")))
        assert.strictEqual(refused._tag, "ProjectionAlreadyRunning")
        assert.include(refused.message, "is already running in this process (it holds the PostgreSQL advisory lock")
        assert.include(refused.message, "Stop that runner first")
      }
      // Another key is not held.
      yield* Effect.scoped(second.claim("other@1"))
      yield* Scope.close(scope, Exit.void)
      yield* Effect.scoped(second.claim("solo@1"))
    }).pipe(Effect.scoped)
  })

  it.live("the server releases the lock when the holder's connection dies, and the old holder can no longer save", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      const first = yield* service(schema)
      const second = yield* service(schema)
      yield* first.claim("fenced@1")
      yield* first.save("fenced@1", { position: 5 })
      // Kill the session holding the lock, as a dropped connection or a dead process would.
      const pool = yield* rawPool(database.url(), 1)
      const killed = yield* pool.unsafe<{ readonly killed: boolean }>(
        "SELECT pg_terminate_backend(pid) AS killed FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
      )
      assert.deepStrictEqual(killed.map((row) => row.killed), [true])
      // The lock is free: a new runner takes over, from the checkpoint the first one saved.
      yield* Effect.eventually(second.claim("fenced@1"))
      assert.deepStrictEqual(yield* second.load("fenced@1"), { position: 5 })
      // The first runner still thinks it holds the key; its save is refused and changes nothing.
      const refused = yield* Effect.flip(first.save("fenced@1", { position: 6 }))
      assert.include(refused.reason, "another runner claimed the projection after this one")
      yield* second.save("fenced@1", { position: 7 })
      assert.deepStrictEqual(yield* first.load("fenced@1"), { position: 7 })
    }).pipe(Effect.scoped)
  })

  const rowsTable = (schema: string) => `"${schema}".applied`

  /** A handler projection writing one row per event through the checkpoint store's client; it fails on `failAt`. */
  const recording = (schema: string, failAt: { position: number }) =>
    Projector.handler({
      name: "recorded",
      codec: Tally.codec,
      handle: (_event, envelope) =>
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* Effect.orDie(sql.unsafe(`INSERT INTO ${rowsTable(schema)} (position) VALUES ($1)`, [envelope.position]))
          if (envelope.position === failAt.position) return yield* Effect.fail("the read model refused this event")
        })
    })

  it.live("a handler's writes and its checkpoint commit together: a failing batch leaves neither, a restart applies each event once", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      const store = yield* EventStore
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe(`CREATE TABLE ${rowsTable(schema)} (position bigint NOT NULL)`)
      for (let index = 0; index < 5; index++) yield* store.append("counter-a", [Tally.added(1), Tally.added(2), Tally.taken(1)])
      const positions = yield* Effect.map(
        sql.unsafe<{ readonly position: string }>(`SELECT position::text AS position FROM "${schema}".es_events ORDER BY position`),
        (rows) => rows.map((row) => Number(row.position))
      )
      const failAt = { position: positions[7] ?? 0 }
      // Batches of 4: the second batch (events 5 to 8) fails at its last event, after writing its rows.
      const running = yield* Projector.start(recording(schema, failAt), { batch: 4 })
      const failure = yield* Effect.flip(running.await)
      assert.strictEqual(failure.position, positions[3])
      const applied = () =>
        Effect.map(sql.unsafe<{ readonly position: string }>(`SELECT position::text AS position FROM ${rowsTable(schema)} ORDER BY position`), (rows) =>
          rows.map((row) => Number(row.position)))
      assert.deepStrictEqual(yield* applied(), positions.slice(0, 4))
      failAt.position = -1
      const again = yield* Projector.start(recording(schema, failAt), { batch: 4 })
      yield* again.waitFor(positions[positions.length - 1] ?? 0)
      assert.deepStrictEqual(yield* applied(), positions)
      yield* again.stop
    }).pipe(Effect.scoped, Effect.provide(both(schema)))
  })

  it.live("a view keeps its state in the checkpoint row and resumes from it", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      const store = yield* EventStore
      const seeded = yield* store.append("counter-a", [Tally.added(5), Tally.taken(2)])
      const first = yield* Projector.start(totals)
      yield* first.waitFor(seeded.position ?? 0)
      assert.deepStrictEqual(yield* first.state, { "counter-a": 3 })
      yield* first.stop
      const appended = yield* store.append("counter-b", [Tally.added(4)])
      const second = yield* Projector.start(totals)
      yield* second.waitFor(appended.position ?? 0)
      assert.deepStrictEqual(yield* second.state, { "counter-a": 3, "counter-b": 4 })
    }).pipe(Effect.scoped, Effect.provide(both(schema)))
  })

  it.live("status on PostgreSQL shows the events behind and those a stalled writer holds back", () => {
    const schema = freshSchema()
    return Effect.gen(function*() {
      const store = yield* EventStore
      const appended = yield* store.append("counter-a", [Tally.added(1), Tally.added(1)])
      const running = yield* Projector.start(totals)
      yield* running.waitFor(appended.position ?? 0)
      const pool = yield* rawPool(database.url(), 1)
      const held = yield* holdAppend(pool, schema, oneEvent("late-1", "late-event"))
      yield* held.inserted
      yield* store.append("counter-a", [Tally.added(1), Tally.added(1), Tally.added(1)])
      yield* Effect.sleep("50 millis")
      const during = yield* EventStorePostgres.projectionStatus(running)
      // The runner sees nothing it has not applied, but three committed events wait behind the open writer.
      assert.strictEqual(during.behind, 0)
      assert.strictEqual(during.phase, "live")
      assert.strictEqual(during.heldBack, 3)
      assert.isTrue(during.heldBackMs >= 50)
      assert.isTrue(during.committedHead > during.head)
      yield* held.finish("commit")
      const after = yield* EventStorePostgres.projectionStatus(running)
      assert.strictEqual(after.heldBack, 0)
      assert.strictEqual(after.heldBackMs, 0)
      assert.strictEqual(after.committedHead, after.head)
    }).pipe(Effect.scoped, Effect.provide(both(schema)))
  })

  it.live("a rebuild takes over with no gap in answers: a reader of the active version's checkpoint always gets the whole answer", () => {
    const schema = freshSchema()
    const version = (v: number) => Projector.view({ name: "totals", version: v, codec: Tally.codec, view: Tally.totals, state: Tally.totalsCodec })
    return Effect.gen(function*() {
      const store = yield* EventStore
      const checkpoints = yield* CheckpointStore
      for (let index = 0; index < 10; index++) yield* store.append("counter-a", Array.from({ length: 50 }, () => Tally.added(1)))
      const last = yield* Effect.map(Stream.runLast(store.readAll()), (event) => Option.getOrThrow(event).position)
      const v1 = yield* Projector.start(version(1))
      yield* v1.waitFor(last)
      yield* checkpoints.activate("totals", 1)
      // A reader, as another process would read: the active version, then its checkpoint row.
      const answers: Array<number | undefined> = []
      const read = Effect.gen(function*() {
        const active = yield* checkpoints.active("totals")
        const saved = yield* checkpoints.load(`totals@${active ?? 0}`)
        const state = saved?.state
        answers.push(typeof state === "object" && state !== null && !Array.isArray(state) && "counter-a" in state ? Number(state["counter-a"]) : undefined)
      })
      const reader = yield* Effect.forkChild(Effect.forever(Effect.andThen(read, Effect.sleep("1 millis"))))
      // v2 rebuilds from the start beside v1, one event per checkpoint, then takes over.
      const v2 = yield* Projector.start(version(2), { batch: 1 })
      const current = yield* Projector.takeOver(v1, v2)
      yield* Effect.sleep("50 millis")
      yield* Fiber.interrupt(reader)
      assert.strictEqual(yield* checkpoints.active("totals"), 2)
      assert.deepStrictEqual(yield* current.state, { "counter-a": 500 })
      assert.isTrue(answers.length > 10, `only ${answers.length} answers`)
      assert.deepStrictEqual(answers.filter((answer) => answer !== 500), [], "an answer was missing or partial")
      const v1Status = yield* v1.status
      assert.strictEqual(v1Status.phase, "stopped")
    }).pipe(Effect.scoped, Effect.provide(both(schema)))
  })
})
