// A process running one handler projection over a file store with the file checkpoint
// store: each event it applies appends its position to a read-model file (with a small
// pause, so a kill lands mid-way). Prints "started" once it holds the projection and
// "done" once it has applied everything recorded, then exits.
// Args: <store directory> <checkpoint directory> <read-model file> <pause ms>
import * as fs from "node:fs"
import { Effect, Layer } from "effect"
import { CheckpointStore, EventStore, EventStoreFile, Projector } from "es-kernel"
import * as Tally from "./tally.js"

const [storeDirectory = "", checkpointDirectory = "", readModel = "", pause = "0"] = process.argv.slice(2)

const projection = Projector.handler({
  name: "positions",
  codec: Tally.codec,
  handle: (_event, envelope) =>
    Effect.andThen(Effect.sleep(`${Number(pause)} millis`), Effect.sync(() => fs.appendFileSync(readModel, `${envelope.position}\n`)))
})

const program = Effect.gen(function*() {
  const running = yield* Projector.start(projection)
  console.log("started")
  const store = yield* EventStore.EventStore
  const head = yield* store.streamVersion("counter-a")
  yield* running.waitFor(head)
  console.log("done")
})

const layer = Layer.mergeAll(EventStoreFile.layer({ directory: storeDirectory }), CheckpointStore.layerFile({ directory: checkpointDirectory }))
Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(layer))).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
