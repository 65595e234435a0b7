// A process running one handler projection over the PostgreSQL store, with its checkpoints
// on PostgreSQL: each event it applies inserts its position into the table `applied`
// (and its process id) through the checkpoint store's client, so rows and checkpoint
// commit together.
// The handler pauses before each event, inside the batch's transaction, to leave time to
// kill it mid-batch. Prints "started" once it holds the projection, "refused <message>"
// (exit 3) if another runner holds it, and "done" once it has applied everything recorded.
// Args: <database url> <schema> <pause ms> <batch>
import { Effect, Layer, Option, Stream } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import { EventStore, Projector } from "es-kernel"
import * as EventStorePostgres from "es-kernel/postgres"
import * as Tally from "../projector/tally.js"

const [url = "", schema = "", pause = "0", batch = "1"] = process.argv.slice(2)

const positions = Projector.handler({
  name: "positions",
  codec: Tally.codec,
  handle: (_event, envelope) =>
    Effect.gen(function*() {
      yield* Effect.sleep(`${Number(pause)} millis`)
      const sql = yield* SqlClient.SqlClient
      yield* Effect.orDie(sql.unsafe(`INSERT INTO "${schema}".applied (position, pid) VALUES ($1, $2)`, [envelope.position, process.pid]))
    })
})

const program = Effect.gen(function*() {
  const running = yield* Projector.start(positions, { batch: Number(batch) })
  console.log("started")
  const store = yield* EventStore.EventStore
  const head = yield* Stream.runLast(store.readAll())
  if (Option.isSome(head)) yield* running.waitFor(head.value.position)
  console.log(`done (checkpoint ${yield* running.checkpoint})`)
})

const layer = Layer.mergeAll(
  EventStorePostgres.layer({ url, schema, maxConnections: 3 }),
  EventStorePostgres.layerCheckpoints({ url, schema, maxConnections: 3 })
)
Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(layer))).then(
  () => process.exit(0),
  (error: unknown) => {
    const refused = typeof error === "object" && error !== null && "_tag" in error && error._tag === "ProjectionAlreadyRunning"
    console.log(refused ? `refused ${String(error instanceof Error ? error.message : error)}` : `failed: ${String(error)}`)
    process.exit(refused ? 3 : 1)
  }
)
