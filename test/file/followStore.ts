/**
 * A child process for the read-only tests: opens the file store in argv[2] read-only,
 * prints "ready", then subscribes from the start and prints "<position> <streamId>
 * <version>" for each event, until an event of type "Stop": then it prints "stopped" and
 * exits.
 */
import { Effect, Layer, Stream } from "effect"
import { EventStore } from "../../src/EventStore.js"
import * as EventStoreFile from "../../src/EventStoreFile.js"

const directory = process.argv[2]
if (directory === undefined) throw new Error("usage: followStore <directory>")

const program = Effect.gen(function*() {
  const store = yield* EventStore
  process.stdout.write("ready\n")
  yield* store.subscribe().pipe(
    Stream.takeUntil((event) => event.type === "Stop"),
    Stream.runForEach((event) => Effect.sync(() => process.stdout.write(`${event.position} ${event.streamId} ${event.version}\n`)))
  )
  process.stdout.write("stopped\n")
})

Effect.runPromise(Effect.provide(program, Layer.fresh(EventStoreFile.layerReadOnly({ directory })))).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stdout.write(`failed: ${String(error)}\n`)
    process.exit(1)
  }
)
