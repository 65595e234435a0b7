/**
 * Appends one event to `ping-1` from its own process, prints the time it was acknowledged,
 * then keeps the store open a moment so that its debounced notification goes out.
 *
 *   tsx test/postgres/appendOnce.ts <url> <schema>
 */
import { Effect } from "effect"
import { EventStore } from "../../src/EventStore.js"
import * as EventStorePostgres from "../../src/EventStorePostgres.js"

const [url = "", schema = ""] = process.argv.slice(2)

const program = Effect.gen(function*() {
  const store = yield* EventStore
  yield* store.append("ping-1", [{ type: "Pinged", data: {} }])
  process.stdout.write(`${Date.now()}\n`)
  yield* Effect.sleep("1 second")
})

Effect.runPromise(program.pipe(Effect.provide(EventStorePostgres.layer({ url, schema })))).catch((error: unknown) => {
  process.stderr.write(`appendOnce failed: ${String(error)}\n`)
  process.exit(1)
})
