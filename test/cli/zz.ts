import { Effect, Stream } from "effect"
import { EventStore } from "../../src/EventStore.js"
import * as EventStoreFile from "../../src/EventStoreFile.js"
await Effect.runPromise(Effect.gen(function*() {
  const store = yield* EventStore
  console.log("open")
  const all = yield* Stream.runCollect(store.readAll({}))
  console.log("all", all.length)
  yield* store.subscribe({ from: 145 }).pipe(Stream.take(3), Stream.runForEach((e) => Effect.sync(() => console.log("sub", e.position))))
}).pipe(Effect.provide(EventStoreFile.layerReadOnly({ directory: "/tmp/cli-smoke/live" }))))
