/**
 * A child process for the descriptor-limit test: opens the file store in argv[2], reads
 * every event forwards, one stream backwards and a filtered `readAll`, appends one event,
 * and prints `events <count> <appended position>`. Run under a low `ulimit -n`. With
 * argv[3] "readonly" it opens the store read-only, reads the same, and appends nothing
 * (`-` for the position).
 */
import { Effect, Layer, Stream } from "effect"
import { EventStore } from "../../src/EventStore.js"
import * as EventStoreFile from "../../src/EventStoreFile.js"

const [directory, access = "write"] = process.argv.slice(2)
if (directory === undefined) throw new Error("usage: openManySegments <directory>")

const program = Effect.gen(function*() {
  const store = yield* EventStore
  const all = yield* Stream.runCount(store.readAll())
  const backward = yield* Stream.runCount(store.readStream("many-0", { direction: "backward" }))
  const filtered = yield* Stream.runCount(store.readAll({ filter: { categories: ["many"] } }))
  const appended = access === "readonly" ? "-" : (yield* store.append("many-0", [{ type: "Added", data: "last" }])).position
  process.stdout.write(`events ${all} ${backward} ${filtered} ${appended}\n`)
})

const layer = access === "readonly" ? EventStoreFile.layerReadOnly({ directory }) : EventStoreFile.layer({ directory, segmentSize: 64 })
Effect.runPromise(Effect.provide(program, Layer.fresh(layer))).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stdout.write(`failed: ${String(error)}\n`)
    process.exit(1)
  }
)
