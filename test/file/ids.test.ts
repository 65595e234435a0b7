import { Effect, Layer, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { EventStore } from "../../src/EventStore.js"
import * as EventStoreFile from "../../src/EventStoreFile.js"
import { directoriesPerTest } from "./helpers.js"

const freshDirectory = directoriesPerTest()

const run = <A, E>(directory: string, program: Effect.Effect<A, E, EventStore>): Promise<A> =>
  Effect.runPromise(Effect.provide(program, Layer.fresh(EventStoreFile.layer({ directory }))))

// Strings that UTF-8 cannot hold: a lone high surrogate, a lone low one, a reversed pair.
const notWellFormed = ["cart-\uD83D", "cart-\uDE00", "cart-\uDE00\uD83D"]

const everything = Effect.gen(function*() {
  const store = yield* EventStore
  const events = yield* Stream.runCollect(store.readAll())
  return events.map((event) => [event.streamId, event.eventId, event.version])
})

describe("EventStoreFile ids that UTF-8 cannot hold", () => {
  it.each(notWellFormed)("refuses the stream id %j with InvalidAppend, and the store still opens", async (streamId) => {
    const directory = freshDirectory()
    const outcomes = await run(directory, Effect.gen(function*() {
      const store = yield* EventStore
      const first = yield* Effect.flip(store.append(streamId, [{ type: "Added", data: 1 }]))
      return [first._tag]
    }))
    expect(outcomes).toEqual(["InvalidAppend"])
    // A second store life: appending again and reopening must both work.
    await run(directory, Effect.gen(function*() {
      const store = yield* EventStore
      yield* Effect.flip(store.append(streamId, [{ type: "Added", data: 2 }]))
      yield* store.append("cart-1", [{ type: "Added", data: 3, eventId: "e-3" }])
    }))
    expect(await run(directory, everything)).toEqual([["cart-1", "e-3", 1]])
  })

  it.each(notWellFormed)("refuses the event id %j with InvalidAppend, so a retry cannot record it twice", async (eventId) => {
    const directory = freshDirectory()
    const outcomes = await run(directory, Effect.gen(function*() {
      const store = yield* EventStore
      const first = yield* Effect.flip(store.append("cart-1", [{ type: "Added", data: 1, eventId }]))
      const retry = yield* Effect.flip(store.append("cart-1", [{ type: "Added", data: 1, eventId }]))
      return [first._tag, retry._tag]
    }))
    expect(outcomes).toEqual(["InvalidAppend", "InvalidAppend"])
    expect(await run(directory, everything)).toEqual([])
  })

  it("keeps well-formed non-ASCII ids exactly, and a retry of them across a reopen is idempotent", async () => {
    const directory = freshDirectory()
    const streamId = "cart-\uD83D\uDE00-é"
    const eventId = "e-\u{1F600}"
    await run(directory, Effect.gen(function*() {
      const store = yield* EventStore
      yield* store.append(streamId, [{ type: "Added", data: 1, eventId }], "noStream")
    }))
    const retried = await run(directory, Effect.gen(function*() {
      const store = yield* EventStore
      return yield* store.append(streamId, [{ type: "Added", data: 1, eventId }], "noStream")
    }))
    expect(retried).toEqual({ streamId, nextExpectedVersion: 1, position: 1 })
    expect(await run(directory, everything)).toEqual([[streamId, eventId, 1]])
  })
})
