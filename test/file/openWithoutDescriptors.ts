/**
 * A child process for the lock tests (run under a small `ulimit -n`): an open of the store
 * in argv[2] that fails after taking the lock because the process ran out of file
 * descriptors (EMFILE) — they are used up before the failing step and stay used up while
 * the open unwinds. Then, with the descriptors back, a second open in the same process.
 * Prints one line of JSON: how each open ended.
 */
import * as fs from "node:fs"
import { Effect, Layer } from "effect"
import { EventStore } from "../../src/EventStore.js"
import { nodeIo } from "../../src/internal/file/io.js"
import { layerWithIo } from "../../src/internal/file/layer.js"
import * as EventStoreFile from "../../src/EventStoreFile.js"

const directory = process.argv[2]
if (directory === undefined) throw new Error("usage: openWithoutDescriptors <directory>")

const exhausted: Array<number> = []
const exhaustDescriptors = (): void => {
  try {
    for (;;) exhausted.push(fs.openSync("/dev/null", "r"))
  } catch {
    // EMFILE: every descriptor is in use.
  }
}

const outcome = (layer: Layer.Layer<EventStore, unknown>) =>
  Effect.runPromise(Effect.exit(Effect.provide(Effect.gen(function*() {
    yield* EventStore
  }), Layer.fresh(layer)))).then((exit) =>
    exit._tag === "Success" ? "opened" : JSON.stringify(exit.cause).includes("FileStoreLocked") ? "FileStoreLocked" : "failed"
  )

const first = await outcome(layerWithIo({ directory }, {
  ...nodeIo,
  syncDirectory: async () => {
    exhaustDescriptors()
    throw Object.assign(new Error("EMFILE: too many open files"), { code: "EMFILE" })
  }
}))
for (const descriptor of exhausted.splice(0)) fs.closeSync(descriptor)
const second = await outcome(EventStoreFile.layer({ directory }))
process.stdout.write(`${JSON.stringify({ first, second })}\n`)
