/**
 * A child process for the lock tests: opens the file store in argv[2], prints "ready",
 * and keeps it open until stdin closes.
 */
import { Effect, Layer } from "effect"
import * as EventStoreFile from "../../src/EventStoreFile.js"

const directory = process.argv[2]
if (directory === undefined) throw new Error("usage: holdStore <directory>")

const program = Effect.gen(function*() {
  process.stdout.write("ready\n")
  yield* Effect.callback<void>((resume) => {
    process.stdin.on("end", () => resume(Effect.void))
    process.stdin.resume()
  })
})

Effect.runPromise(Effect.provide(program, Layer.fresh(EventStoreFile.layer({ directory })))).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stdout.write(`failed: ${String(error)}\n`)
    process.exit(1)
  }
)
