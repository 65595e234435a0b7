/**
 * A writer process for the command-line tests: opens the file store in argv[2] (the
 * writer's lock held all along) and obeys one command per stdin line, answering each on
 * stdout:
 *
 * - `fill <streams> <perStream> <batch>`: appends `streams × perStream` events, `batch`
 *   per append, the streams taking turns (`order-0`, `order-1`, … `cart-0` for every
 *   tenth), types `Placed` / `Paid`; answers `ok <events>`.
 * - `append <stream> <type>`: appends one event; answers `ok <position>`.
 *
 * Prints `ready` once open; closes the store and exits when stdin ends.
 */
import { createInterface } from "node:readline"
import { Effect, Layer } from "effect"
import { EventStore } from "../../src/EventStore.js"
import type { NewEvent } from "../../src/EventStore.js"
import * as EventStoreFile from "../../src/EventStoreFile.js"

const directory = process.argv[2]
if (directory === undefined) throw new Error("usage: writer <directory>")

const streamName = (index: number) => index % 10 === 9 ? `cart-${index}` : `order-${index}`

const fill = (store: EventStore["Service"], streams: number, perStream: number, batch: number) =>
  Effect.gen(function*() {
    let written = 0
    for (let round = 0; round * batch < perStream; round++) {
      for (let stream = 0; stream < streams; stream++) {
        const events: Array<NewEvent> = []
        for (let k = round * batch; k < Math.min(perStream, (round + 1) * batch); k++) {
          events.push({ type: k % 2 === 0 ? "Placed" : "Paid", data: { stream, k, note: "ü€" }, metadata: { correlationId: `c-${stream}-${k}`, user: "tester" } })
        }
        yield* store.append(streamName(stream), events)
        written += events.length
      }
    }
    return written
  })

const program = Effect.gen(function*() {
  const store = yield* EventStore
  process.stdout.write("ready\n")
  const lines = createInterface({ input: process.stdin })
  for (;;) {
    const line = yield* Effect.promise(() => new Promise<string | undefined>((resolve) => {
      lines.once("line", resolve)
      lines.once("close", () => resolve(undefined))
    }))
    if (line === undefined) return
    const [command, ...args] = line.split(" ")
    if (command === "fill") {
      const [streams = 1, perStream = 1, batch = 1] = args.map(Number)
      process.stdout.write(`ok ${yield* fill(store, streams, perStream, batch)}\n`)
    } else if (command === "append") {
      const result = yield* store.append(args[0] ?? "order-x", [{ type: args[1] ?? "Placed", data: { live: true } }])
      process.stdout.write(`ok ${result.position}\n`)
    }
  }
})

Effect.runPromise(Effect.provide(program, Layer.fresh(EventStoreFile.layer({ directory, sync: "none" })))).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stdout.write(`failed: ${String(error)}\n`)
    process.exit(1)
  }
)
