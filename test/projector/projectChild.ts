// A process running one projection over a file store with the file checkpoint store.
// - "handler": each event it applies appends its position to a read-model file, one
//   checkpoint per event (at least once).
// - "view": the totals view, its state saved with each checkpoint (exactly once); at the
//   end it prints the state.
// The handler pauses before each event, to leave time to kill it mid-way. Prints "started" once it holds
// the projection, "refused" (exit 3) if another runner holds it, and "done" once it has
// applied everything recorded.
// Args: <handler | view> <store directory> <checkpoint directory> <read-model file> <pause ms> [readonly]
// With "readonly" it opens the store read-only, beside a writer in another process.
import * as fs from "node:fs"
import { Effect, Layer } from "effect"
import { CheckpointStore, EventStore, EventStoreFile, Projector } from "es-kernel"
import * as Tally from "./tally.js"

const [mode = "", storeDirectory = "", checkpointDirectory = "", readModel = "", pause = "0", access = "write"] = process.argv.slice(2)
const wait = Effect.sleep(`${Number(pause)} millis`)

// A view is pure, so it cannot pause: a checkpoint (with its fsyncs) per event slows it instead.
const started = mode === "view"
  ? Projector.start(Projector.view({ name: "totals", codec: Tally.codec, view: Tally.totals, state: Tally.totalsCodec }), { batch: 1 })
  : Projector.start(
    Projector.handler({
      name: "positions",
      codec: Tally.codec,
      handle: (_event, envelope) => Effect.andThen(wait, Effect.sync(() => fs.appendFileSync(readModel, `${envelope.position}\n`)))
    })
  )

const program = Effect.gen(function*() {
  const running = yield* started
  console.log("started")
  const store = yield* EventStore.EventStore
  // Every event is in the one stream counter-a, so its version is the store's last position.
  const head = yield* store.streamVersion("counter-a")
  yield* running.waitFor(head)
  console.log(`done ${JSON.stringify(yield* running.state)} (checkpoint ${yield* running.checkpoint}, head ${head})`)
})

const storeLayer = access === "readonly" ? EventStoreFile.layerReadOnly({ directory: storeDirectory }) : EventStoreFile.layer({ directory: storeDirectory })
const layer = Layer.mergeAll(storeLayer, CheckpointStore.layerFile({ directory: checkpointDirectory }))
Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(layer))).then(
  () => process.exit(0),
  (error: unknown) => {
    const refused = typeof error === "object" && error !== null && "_tag" in error && error._tag === "ProjectionAlreadyRunning"
    console.log(refused ? "refused" : `failed: ${String(error)}`)
    process.exit(refused ? 3 : 1)
  }
)
