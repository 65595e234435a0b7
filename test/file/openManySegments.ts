/**
 * A child process for the descriptor-limit test: opens the file store in argv[2], reads
 * every event forwards, one stream backwards and a filtered `readAll`, appends one event,
 * and prints `events <count> <appended position>`. Run under a low `ulimit -n`.
 */
import { Effect, Layer, Stream } from "effect"
import { EventStore } from "../../src/EventStore.js"
import * as EventStoreFile from "../../src/EventStoreFile.js"

const directory = process.argv[2]
if (directory === undefined) throw new Error("usage: openManySegments <directory>")

const program = Effect.gen(function*() {
  const store = yield* EventStore
  const all = yield* Stream.runCount(store.readAll())
  const backward = yield* Stream.runCount(store.readStream("many-0", { direction: "backward" }))
  const filtered = yield* Stream.runCount(store.readAll({ filter: { categories: ["many"] } }))
  const appended = yield* store.append("many-0", [{ type: "Added", data: "last" }])
  process.stdout.write(`events ${all} ${backward} ${filtered} ${appended.position}\n`)
})

Effect.runPromise(Effect.provide(program, Layer.fresh(EventStoreFile.layer({ directory, segmentSize: 64 })))).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stdout.write(`failed: ${String(error)}\n`)
    process.exit(1)
  }
)
