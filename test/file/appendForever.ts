/**
 * A child process for the read-only tests: opens the file store in argv[2] (segments of
 * argv[3] bytes) and appends one event at a time to stream "writer-<pid>" until it is
 * killed, printing "ack <position>" once each append is acknowledged (durable).
 */
import { Effect, Layer } from "effect"
import { EventStore } from "../../src/EventStore.js"
import * as EventStoreFile from "../../src/EventStoreFile.js"

const [directory, segmentSize = "16777216"] = process.argv.slice(2)
if (directory === undefined) throw new Error("usage: appendForever <directory> [segmentSize]")

const program = Effect.gen(function*() {
  const store = yield* EventStore
  process.stdout.write("ready\n")
  for (let index = 0;; index++) {
    const { position } = yield* store.append(`writer-${process.pid}`, [{ type: "Added", data: { index } }])
    process.stdout.write(`ack ${position}\n`)
  }
})

Effect.runPromise(Effect.provide(program, Layer.fresh(EventStoreFile.layer({ directory, segmentSize: Number(segmentSize) })))).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stdout.write(`failed: ${String(error)}\n`)
    process.exit(1)
  }
)
