/**
 * The crash test's victim: opens the file store in argv[2] and runs 100 concurrent
 * appenders until it is killed. Each acknowledged event is printed as
 * `ack <streamId> <eventId> <version>` right after its append succeeded, so every line
 * the parent reads is a promise the store made.
 *
 * Appenders 0–79 own a stream each and append with the exact expected version;
 * appenders 80–99 share five streams with `"any"`, racing each other.
 */
import { Effect, Layer } from "effect"
import { EventStore } from "../../src/EventStore.js"
import type { AppendResult, ExpectedVersion, NewEvent } from "../../src/EventStore.js"
import * as EventStoreFile from "../../src/EventStoreFile.js"

const directory = process.argv[2]
const runId = process.argv[3] ?? String(process.pid)
if (directory === undefined) throw new Error("usage: appender <directory> <runId>")

const appender = (index: number) =>
  Effect.gen(function*() {
    const store = yield* EventStore
    const owned = index < 80
    const streamId = owned ? `crash-${index}` : `shared-${index % 5}`
    let expected: ExpectedVersion = owned ? yield* store.streamVersion(streamId) : "any"
    for (let sequence = 0;; sequence++) {
      const size = 1 + ((index + sequence) % 3)
      const batch: Array<NewEvent> = Array.from({ length: size }, (_, k) => ({
        type: "Appended",
        eventId: `${runId}-${index}-${sequence}-${k}`,
        data: { index, sequence, k, padding: "x".repeat((index * 7 + sequence) % 200) }
      }))
      const result: AppendResult = yield* store.append(streamId, batch, expected)
      if (owned) expected = result.nextExpectedVersion
      let lines = ""
      for (let k = 0; k < size; k++) {
        lines += `ack ${streamId} ${batch[k]?.eventId ?? ""} ${result.nextExpectedVersion - size + 1 + k}\n`
      }
      process.stdout.write(lines)
    }
  })

const program = Effect.gen(function*() {
  process.stdout.write("ready\n")
  yield* Effect.all(Array.from({ length: 100 }, (_, index) => appender(index)), { concurrency: "unbounded" })
})

Effect.runPromise(
  Effect.provide(program, Layer.fresh(EventStoreFile.layer({ directory, segmentSize: 256 * 1024 })))
).catch((error: unknown) => {
  process.stdout.write(`failed: ${String(error)}\n`)
  process.exit(1)
})
