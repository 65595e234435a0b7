import { Effect, Fiber, Layer, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { EventStore } from "../../src/EventStore.js"
import * as EventStoreFile from "../../src/EventStoreFile.js"
import { directoriesPerTest } from "./helpers.js"

const freshDirectory = directoriesPerTest()

const run = <A, E>(directory: string, program: Effect.Effect<A, E, EventStore>): Promise<A> =>
  Effect.runPromise(Effect.provide(program, Layer.fresh(EventStoreFile.layer({ directory }))))

describe("EventStoreFile versions seen by readers and by the expected-version check", () => {
  it("reports a conflict with an append still being written at the version readers then see", async () => {
    const directory = freshDirectory()
    const outcome = await run(directory, Effect.gen(function*() {
      const store = yield* EventStore
      // Started in this turn of the event loop: reserved, not yet durable.
      const first = yield* Effect.forkChild(store.append("cart-1", [{ type: "Added", data: 1 }], "noStream"))
      yield* Effect.yieldNow
      const conflict = yield* Effect.flip(store.append("cart-1", [{ type: "Added", data: 2 }], 0))
      const seen = yield* store.streamVersion("cart-1")
      const read = yield* Stream.runCollect(store.readStream("cart-1"))
      yield* Fiber.join(first)
      return { conflict: conflict._tag, actual: Reflect.get(conflict, "actual"), seen, read: read.length }
    }))
    expect(outcome).toEqual({ conflict: "WrongExpectedVersion", actual: 1, seen: 1, read: 1 })
  })

  it("lets 50 writers that re-read the version after a conflict all append to one stream without spinning", async () => {
    const directory = freshDirectory()
    const writers = 50
    const appendsEach = 3
    const outcome = await run(directory, Effect.gen(function*() {
      const store = yield* EventStore
      let conflicts = 0
      const writer = (index: number) =>
        Effect.gen(function*() {
          for (let done = 0; done < appendsEach;) {
            const version = yield* store.streamVersion("cart-1")
            const appended = yield* Effect.result(store.append("cart-1", [{ type: "Added", data: { index, done } }], version))
            if (appended._tag === "Success") done++
            else if (appended.failure._tag === "WrongExpectedVersion") conflicts++
            else return yield* Effect.fail(appended.failure)
          }
        })
      yield* Effect.all(Array.from({ length: writers }, (_, index) => writer(index)), { concurrency: "unbounded" })
      return { version: yield* store.streamVersion("cart-1"), conflicts }
    }))
    expect(outcome.version).toBe(writers * appendsEach)
    // Each conflict waits for the flush of the append it lost to, so a writer loses at
    // most once per append that lands: without the wait, writers spin on a version that
    // cannot change until the flush completes (hundreds of thousands of conflicts).
    expect(outcome.conflicts).toBeLessThanOrEqual(writers * writers * appendsEach)
  }, 60_000)
})
